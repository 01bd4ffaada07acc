//go:build unix

package fsutil

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A FIFO, a directory or a device is refused without blocking; a file over
// the bound is refused with its name.
func TestOpenRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	for path, want := range map[string]string{fifo: "a named pipe (FIFO)", dir: "a directory", "/dev/zero": "a device"} {
		done := make(chan error, 1)
		go func() { _, err := OpenRegular(path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: err %v, want %q", path, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("OpenRegular(%s) blocked", path)
		}
	}
	small := filepath.Join(dir, "small")
	os.WriteFile(small, []byte("12345"), 0o644)
	if b, err := ReadFileLimit(small, 5, "a test"); err != nil || string(b) != "12345" {
		t.Errorf("ReadFileLimit at the bound: %q, %v", b, err)
	}
	if _, err := ReadFileLimit(small, 4, "a test"); err == nil || !strings.Contains(err.Error(), "more than 4 bytes, too big for a test") {
		t.Errorf("ReadFileLimit over the bound: %v", err)
	}
	link := filepath.Join(dir, "link")
	os.Symlink(small, link)
	if _, err := ReadFileLimit(link, 5, "a test"); err != nil {
		t.Errorf("a symlink to a regular file: %v", err)
	}
}

// WriteAtomic never renames over anything but a regular file: a FIFO (or,
// as root, a device node) stays what it was.
func TestWriteAtomicRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteAtomic(fifo, func(w io.Writer) error { _, err := w.Write([]byte("x")); return err })
	if err == nil || !strings.Contains(err.Error(), "is a FIFO") {
		t.Errorf("WriteAtomic over a FIFO: %v", err)
	}
	if st, _ := os.Lstat(fifo); st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO is now %v", st.Mode())
	}
	if err := CheckOutput(fifo, Protected{}); err == nil {
		t.Error("CheckOutput accepts a FIFO")
	}
	// A link to a file in a protected directory resolves into it.
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o755)
	os.WriteFile(filepath.Join(data, "b.bin"), nil, 0o644)
	os.Symlink(filepath.Join(data, "b.bin"), filepath.Join(dir, "l"))
	if err := CheckOutput(filepath.Join(dir, "l"), Protected{Dirs: []string{data}}); err == nil {
		t.Error("a symlink into the data is accepted")
	}
	if err := CheckOutput(filepath.Join(dir, "fine.npz"), Protected{Dirs: []string{data}}); err != nil {
		t.Errorf("a new file beside the data: %v", err)
	}
	if err := CheckOutputDir(filepath.Join(data, "a", "b"), Protected{Dirs: []string{data}}); err == nil {
		t.Error("a new directory inside the data is accepted")
	}
}

// A temporary file whose writer (named in it: host and pid) is gone is
// removed by the next save however young it is; one whose writer lives, or
// of another machine, waits for the hour.
func TestWriteAtomicRemovesDeadWritersTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.npz")
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("cannot run true:", err)
	}
	dead := cmd.Process.Pid // exited and reaped
	host, _, _ := strings.Cut(writerTag(), "~")
	deadTemp := filepath.Join(dir, fmt.Sprintf(".m.npz.tmp-%s~%d-123", host, dead))
	liveTemp := filepath.Join(dir, fmt.Sprintf(".m.npz.tmp-%s~%d-456", host, 1))
	otherHost := filepath.Join(dir, fmt.Sprintf(".m.npz.tmp-elsewhere~%d-789", dead))
	for _, p := range []string{deadTemp, liveTemp, otherHost} {
		os.WriteFile(p, []byte("partial"), 0o644)
	}
	if err := WriteAtomic(path, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{deadTemp: false, liveTemp: true, otherHost: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}
