package fsutil

import (
	"errors"
	"io"
	"os"
	"path/filepath"
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
