package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The package graph of docs/DESIGN.md: what each internal package may
// import of nettrain's own. Imports point down; a new edge is a design
// change, made here and in the page together.
var allowedImports = map[string][]string{
	"blasimpl":          {"gemm"},
	"blasimpl/blastrap": {},
	"checkpoint":        {"cifar", "fsutil", "layers", "model"},
	"cifar":             {"fsutil", "setting"},
	"cifartest":         {"cifar"},
	"fetch":             {"cifar", "fsutil"},
	"fsutil":            {},
	"gemm":              {},
	"gemm/asmgen":       {},
	"gentest":           {},
	"layers":            {"gemm", "vmath"},
	"model":             {"gemm"},
	"onnx":              {"checkpoint", "cifar", "layers", "model", "onnx/onnxpb"},
	"onnx/onnxpb":       {},
	"plots":             {"cifar", "fsutil", "model"},
	"preprocess":        {"cifar", "gemm", "model", "setting"},
	"run":               {"checkpoint", "cifar", "fsutil", "layers", "model", "preprocess", "setting", "sgd", "sysmem"},
	"setting":           {},
	"sgd":               {"cifar", "gemm", "layers", "model", "preprocess", "setting"},
	"sweep":             {"checkpoint", "cifar", "fsutil", "layers", "model", "preprocess", "run", "setting", "sgd"},
	"sysmem":            {},
	"vmath":             {},
	"vmath/asmgen":      {},
}

func TestImportsPointDown(t *testing.T) {
	const prefix = "github.com/nettrain/nettrain/internal/"
	root := filepath.Join("..", "..", "internal")
	seen := map[string]bool{}
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.Contains(path, "testdata") {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		seen[pkg] = true
		allowed, ok := allowedImports[pkg]
		if !ok {
			t.Errorf("package internal/%s is not in the graph of docs/DESIGN.md", pkg)
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			t.Error(err)
			return nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if dep, ok := strings.CutPrefix(p, prefix); ok && !slices.Contains(allowed, dep) {
				t.Errorf("%s imports internal/%s, which the graph does not allow", path, dep)
			}
		}
		return nil
	})
	for pkg := range allowedImports {
		if !seen[pkg] {
			t.Errorf("the graph names internal/%s, which has no code", pkg)
		}
	}
}
