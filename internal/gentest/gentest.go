// Package gentest checks that committed generated files are what their
// generator writes today (internal/gemm's and internal/vmath's assembly,
// written by avo).
package gentest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// UpToDate runs go run ./asmgen -out <tmp>/asm -stubs <tmp>/stubs -pkg pkg
// in the package's directory and fails t unless the files asm and stubs
// there are what it writes, but for their first lines, which name the
// command line and so the output paths.
func UpToDate(t *testing.T, pkg, asm, stubs string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the generator")
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "run", "./asmgen", "-out", filepath.Join(dir, asm), "-stubs", filepath.Join(dir, stubs), "-pkg", pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./asmgen: %v\n%s", err, out)
	}
	for _, f := range []string{asm, stubs} {
		want, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(body(got), body(want)) {
			t.Errorf("%s is not what asmgen writes: run go generate ./internal/%s", f, pkg)
		}
	}
}

// body returns b from its second line.
func body(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[i:]
	}
	return nil
}
