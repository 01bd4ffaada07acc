package main

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Outputs that would destroy something are refused before any work, with
// one line naming the flag, and the data, the device node and the FIFO are
// as they were: a batch as --out or --metrics (directly, through --data .,
// a symlinked data directory, a symlink or a hard link), a file in the data
// directory that is not a batch, --plots inside it, a sweep inside it, a
// device node and a FIFO as --out.
func TestOutputsThatWouldDestroySomething(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	digest := func() [32]byte {
		h := sha256.New()
		entries, _ := os.ReadDir(data)
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(data, e.Name()))
			h.Write([]byte(e.Name()))
			h.Write(b)
		}
		return [32]byte(h.Sum(nil))
	}
	batch := filepath.Join(data, "data_batch_1.bin")
	os.WriteFile(filepath.Join(data, "batches.meta.txt"), []byte("airplane\n"), 0o644)
	before := digest()
	link := filepath.Join(tmp, "link.jsonl")
	os.Symlink(batch, link)
	hard := filepath.Join(tmp, "hard.jsonl")
	os.Link(batch, hard)
	dataLink := filepath.Join(tmp, "datalink")
	os.Symlink(data, dataLink)
	fifo := filepath.Join(tmp, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	dev := ""
	if os.Getuid() == 0 {
		dev = filepath.Join(tmp, "null")
		// The same device as /dev/null: character device 1, 3.
		if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Logf("mknod: %v; skipping the device case", err)
			dev = ""
		}
	}
	train := func(extra ...string) []string {
		return append(append([]string{"train", "--data", data, "--iters", "2", "--batch", "5", "--out", filepath.Join(tmp, "m.npz"), "-q"}, small...), extra...)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"--out a batch", train("--out", batch), "--out " + batch + " is inside the data directory"},
		{"--out beside the batches", train("--out", filepath.Join(data, "model.npz")), "is inside the data directory"},
		{"--metrics the label names", train("--metrics", filepath.Join(data, "batches.meta.txt")), "--metrics"},
		{"--metrics a symlink to a batch", train("--metrics", link), "--metrics " + link + " is inside the data directory"},
		{"--metrics a hard link to a batch", train("--metrics", hard), "is the data file"},
		{"--out through a symlinked --data", train("--data", dataLink, "--out", filepath.Join(data, "m.npz")), "is inside the data directory " + dataLink},
		{"--plots inside the data", train("--plots", filepath.Join(data, "plots")), "--plots"},
		{"--out a FIFO", train("--out", fifo), "is a FIFO"},
		{"sweep --out inside the data", append([]string{"sweep", "--data", data, "--out", filepath.Join(data, "sw"), "--trials", "1", "--iters", "2", "-q"}, small...), "--out"},
	}
	if dev != "" {
		cases = append(cases, struct {
			name string
			args []string
			want string
		}{"--out a device", train("--out", dev), "is a device"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, testEnv(), tc.args...)
			first, rest, _ := strings.Cut(r.stderr, "\n")
			if r.code != 1 || !strings.Contains(first, tc.want) || rest != "" {
				t.Errorf("exit %d, stderr %q; want 1 and one line with %q", r.code, r.stderr, tc.want)
			}
		})
	}
	t.Run("--data .", func(t *testing.T) {
		t.Chdir(data)
		r := runCmd(t, testEnv(), append([]string{"train", "--data", ".", "--iters", "2", "--batch", "5", "--out", "data_batch_1.bin", "-q"}, small...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "is inside the data directory .") {
			t.Errorf("exit %d, %q", r.code, r.stderr)
		}
	})
	if digest() != before {
		t.Error("the data changed")
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO is now %v, %v", st.Mode(), err)
	}
	if dev != "" {
		if st, err := os.Lstat(dev); err != nil || st.Mode()&os.ModeCharDevice == 0 {
			t.Errorf("the device node is now %v, %v", st.Mode(), err)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "sw")); err == nil {
		t.Error("the sweep wrote into the data directory")
	}
}
