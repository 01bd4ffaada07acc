//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
)

// A FIFO or a device where a file is expected is refused at once with one
// line naming it, never waited on or read without end: --data, a batch
// file, batches.meta.txt, --model, --resume, --config and plot's metrics.
func TestBlockingAndEndlessFiles(t *testing.T) {
	tmp := t.TempDir()
	fifo := filepath.Join(tmp, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	dataWith := func(name string, edit func(dir string)) string {
		dir := filepath.Join(tmp, name)
		os.Mkdir(dir, 0o755)
		cifartest.WriteDir(t, dir, fixturePer, 11)
		edit(dir)
		return dir
	}
	fifoBatch := dataWith("fifo-batch", func(dir string) {
		os.Remove(filepath.Join(dir, cifar.TrainFile(2)))
		syscall.Mkfifo(filepath.Join(dir, cifar.TrainFile(2)), 0o644)
	})
	zeroMeta := dataWith("zero-meta", func(dir string) {
		os.Remove(filepath.Join(dir, "batches.meta.txt"))
		os.Symlink("/dev/zero", filepath.Join(dir, "batches.meta.txt"))
	})
	train := func(extra ...string) []string {
		return append(append([]string{"train", "--data", fixtureDir(t), "--iters", "2", "--batch", "5", "--out", filepath.Join(tmp, "x.npz")}, small...), extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"--data a FIFO", []string{"data", "info", "--data", fifo}, "not a directory or a regular file"},
		{"a batch file a FIFO", []string{"data", "info", "--data", fifoBatch}, "data_batch_2.bin is not a regular file"},
		{"batches.meta.txt is /dev/zero", []string{"data", "info", "--data", zeroMeta}, "batches.meta.txt is a device"},
		{"--model a FIFO", []string{"eval", "--model", fifo, "--data", fixtureDir(t)}, "named pipe"},
		{"--resume a FIFO", train("--resume", fifo), "named pipe"},
		{"--config a FIFO", []string{"sweep", "--config", fifo, "--data", fixtureDir(t), "--out", filepath.Join(tmp, "sw")}, "named pipe"},
		{"--config /dev/zero", []string{"sweep", "--config", "/dev/zero", "--data", fixtureDir(t), "--out", filepath.Join(tmp, "sw")}, "/dev/zero is a device"},
		{"plot a FIFO", []string{"plot", fifo, "--out", filepath.Join(tmp, "p")}, "named pipe"},
		{"plot /dev/zero", []string{"plot", "/dev/zero", "--out", filepath.Join(tmp, "p")}, "/dev/zero is a device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan result, 1)
			go func() { done <- runCmd(t, testEnv(), tc.args...) }()
			select {
			case r := <-done:
				first, _, _ := strings.Cut(r.stderr, "\n")
				if r.code != 1 && r.code != 2 || !strings.HasPrefix(first, "nettrain: ") || !strings.Contains(first, tc.want) {
					t.Errorf("exit %d, stderr %q; want one line saying %q", r.code, r.stderr, tc.want)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("still running after 20 s: blocked on a FIFO or reading without end")
			}
		})
	}
}
