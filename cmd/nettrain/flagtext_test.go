package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestFlagText(t *testing.T) {
	for in, want := range map[string]string{
		"{lr_decay} is 0":                   "--lr-decay is 0",
		"{num_train} 30 plus {num_val} 6":   "--num-train 30 plus --num-val 6",
		"try a smaller {lr}, e.g. {lr} 0.1": "try a smaller --lr, e.g. --lr 0.1",
		`meta {"a": 1} and {} and { x }`:    `meta {"a": 1} and {} and { x }`,
		"{Upper} {a__b} {_x}":               "{Upper} {a__b} {_x}",
	} {
		if got := flagText(in); got != want {
			t.Errorf("flagText(%q) = %q, want %q", in, got, want)
		}
	}
}

// No package below cmd speaks in flags: their messages name settings as
// {name}, and flagText is the one place that makes flags of them. A string
// literal with --name in internal/ (outside tests) fails this.
func TestInternalPackagesNameNoFlags(t *testing.T) {
	flag := regexp.MustCompile(`--[a-z]`)
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(filepath.Join("..", "..", "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.Contains(path, "asmgen") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files++
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && flag.MatchString(lit.Value) {
				t.Errorf("%s: %s names a flag; write the setting as {name}", fset.Position(lit.Pos()), lit.Value)
			}
			return true
		})
		return nil
	})
	if err != nil || files < 20 {
		t.Fatalf("scanned %d files: %v", files, err)
	}
}
