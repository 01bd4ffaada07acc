//go:build unix

package fsutil

import (
	"os"
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
