package fsutil

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	write := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	if err := WriteAtomic(path, write("first")); err != nil {
		t.Fatal(err)
	}
	// A failing write leaves the old file whole and no temporary behind.
	boom := errors.New("boom")
	err := WriteAtomic(path, func(w io.Writer) error {
		io.WriteString(w, "half of the sec")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "first" {
		t.Errorf("file holds %q after a failed write, want %q", b, "first")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d entries in the directory, want 1", len(ents))
	}
	if err := WriteAtomic(path, write("second")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	st, _ := os.Stat(path)
	if string(b) != "second" || st.Mode().Perm() != 0o644 {
		t.Errorf("file %q mode %v, want %q 0644", b, st.Mode().Perm(), "second")
	}
	if err := WriteAtomic(filepath.Join(dir, "no", "f"), write("x")); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

// A temporary file that a killed save left is removed by the next write to
// the same path once it is an hour old; a fresh one (a save under way) and
// other files stay.
func TestWriteAtomicRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.npz")
	stale := filepath.Join(dir, ".m.npz.tmp-111")
	fresh := filepath.Join(dir, ".m.npz.tmp-222")
	other := filepath.Join(dir, ".other.npz.tmp-333")
	for _, p := range []string{stale, fresh, other} {
		os.WriteFile(p, []byte("partial"), 0o644)
	}
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)
	os.Chtimes(other, old, old)
	if err := WriteAtomic(path, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{stale: false, fresh: true, other: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}

// CheckOutputs refuses, naming the output: two outputs on one file (also
// through a link), a file inside the data, a directory output inside the
// data, an output over an input of its own, and a missing directory; it
// creates a directory output that passes.
func TestCheckOutputs(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	os.Mkdir(data, 0o755)
	os.WriteFile(filepath.Join(data, "b.bin"), []byte("x"), 0o644)
	ck := filepath.Join(tmp, "ck.npz")
	os.WriteFile(ck, []byte("x"), 0o644)
	os.Symlink(filepath.Join(tmp, "m.npz"), filepath.Join(tmp, "link"))
	prot := ProtectData(data, "--data")
	out := func(name, path string) Output { return Output{Name: name, Path: path} }
	for _, c := range []struct {
		outs []Output
		want string
	}{
		{[]Output{out("--out", filepath.Join(tmp, "m.npz")), out("--metrics", filepath.Join(tmp, "link"))}, "--out and --metrics are both"},
		{[]Output{out("--out", filepath.Join(data, "b.bin"))}, "--out " + filepath.Join(data, "b.bin") + " is inside the data directory"},
		{[]Output{{Name: "--plots", Path: filepath.Join(data, "p"), Dir: true}}, "--plots " + filepath.Join(data, "p") + " is inside the data directory"},
		{[]Output{{Name: "--metrics", Path: ck, Also: []Input{{Path: ck, What: "the checkpoint --resume reads"}}}}, "would overwrite the checkpoint --resume reads"},
		{[]Output{out("--out", filepath.Join(tmp, "no", "m.npz"))}, "directory " + filepath.Join(tmp, "no") + " does not exist"},
		{[]Output{out("--out", tmp)}, "is a directory"},
	} {
		err := CheckOutputs(c.outs, prot)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line with %q", c.outs, err, c.want)
		}
	}
	plots := filepath.Join(tmp, "plots", "run1")
	if err := CheckOutputs([]Output{out("--out", ck), {Name: "--plots", Path: plots, Dir: true}}, prot); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(plots); err != nil || !st.IsDir() {
		t.Errorf("--plots was not created: %v", err)
	}
	if entries, _ := os.ReadDir(plots); len(entries) != 0 {
		t.Errorf("the write probe left %s", entries[0].Name())
	}
}
