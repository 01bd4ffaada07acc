package main

import (
	"archive/zip"
	"bytes"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every command that reads a file, given each file of a corpus of hostile
// ones: a failure with one "nettrain: ..." line, never a panic or a stack
// (runCmd fails the test on one), and never a hang.
func TestHostileCorpusEveryCommand(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	good := filepath.Join(tmp, "good.npz")
	if r := runCmd(t, testEnv(), append([]string{"train", "--data", data, "--iters", "2", "--batch", "5", "--hidden", "4", "--out", good, "-q"}, small...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	goodBytes, _ := os.ReadFile(good)
	var img bytes.Buffer
	png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 32, 32)))
	imgPath := filepath.Join(tmp, "img.png")
	os.WriteFile(imgPath, img.Bytes(), 0o644)

	corpus := map[string]func(p string){
		"empty":     func(p string) { os.WriteFile(p, nil, 0o644) },
		"random":    func(p string) { os.WriteFile(p, randomBytes(4096), 0o644) },
		"truncated": func(p string) { os.WriteFile(p, goodBytes[:len(goodBytes)/2], 0o644) },
		"zip of garbage": func(p string) {
			var b bytes.Buffer
			zw := zip.NewWriter(&b)
			for _, name := range []string{"W1.npy", "b1.npy", "W2.npy", "b2.npy", "mean.npy", "meta.npy"} {
				w, _ := zw.Create(name)
				w.Write(randomBytes(300))
			}
			zw.Close()
			os.WriteFile(p, b.Bytes(), 0o644)
		},
		"directory":    func(p string) { os.Mkdir(p, 0o755) },
		"fifo":         func(p string) { syscall.Mkfifo(p, 0o644) },
		"symlink loop": func(p string) { os.Symlink(p, p) },
		"missing":      func(string) {},
		"png bomb header": func(p string) {
			var b bytes.Buffer
			png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
			raw := b.Bytes()
			// IHDR width and height at bytes 16..23: 100000 x 100000.
			copy(raw[16:24], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
			os.WriteFile(p, raw, 0o644)
		},
		"deep yaml":  func(p string) { os.WriteFile(p, []byte(strings.Repeat("[", 100000)), 0o644) },
		"jsonl junk": func(p string) { os.WriteFile(p, []byte("{\"event\":\"iter\",\"iter\":1e400}\n{]\n"), 0o644) },
		// Python batches, each a pickle of 200,000 nested MARKs: train, data
		// info and gradcheck --data reach the pickle scan with it.
		"mark bomb batches": func(p string) {
			os.Mkdir(p, 0o755)
			bomb := append(append([]byte{0x80, 2}, bytes.Repeat([]byte{'('}, 200000)...), '.')
			for _, name := range []string{"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"} {
				os.WriteFile(filepath.Join(p, name), bomb, 0o644)
			}
		},
		"huge npy header": func(p string) {
			var b bytes.Buffer
			zw := zip.NewWriter(&b)
			w, _ := zw.Create("W1.npy")
			w.Write([]byte("\x93NUMPY\x01\x00\xff\xff{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999999), }"))
			zw.Close()
			os.WriteFile(p, b.Bytes(), 0o644)
		},
	}
	for name, write := range corpus {
		p := filepath.Join(tmp, strings.ReplaceAll(name, " ", "-"))
		write(p)
		out := t.TempDir() // exists: an output that cannot be made must not stop a command before it reads the file
		for _, args := range [][]string{
			{"eval", "--model", p, "--data", data},
			{"predict", "--model", p, imgPath},
			{"predict", "--model", good, p},
			{"export", "--model", p, "--onnx", filepath.Join(out, "m.onnx")},
			{"plot", p, "--out", out},
			{"plot", p, "--model", p, "--out", out},
			{"train", "--resume", p, "--data", data, "--out", filepath.Join(out, "m.npz")},
			{"train", "--data", p, "--out", filepath.Join(out, "m.npz")},
			append([]string{"sweep", "--config", p, "--data", data, "--out", filepath.Join(out, "sw"), "-q"}, smallSweep...),
			{"data", "info", "--data", p},
			{"gradcheck", "--data", p},
		} {
			done := make(chan result, 1)
			if args[0] == "train" || args[0] == "eval" {
				args = append(args, small...) // the fixture's split sizes
			}
			go func() { done <- runCmd(t, testEnv(), args...) }()
			select {
			case r := <-done:
				first, _, _ := strings.Cut(r.stderr, "\n")
				if name == "empty" && args[0] == "sweep" && r.code == 0 {
					break // an empty sweep file sets nothing: the flags' sweep runs
				}
				if i := slices.Index(args, "--data"); name == "mark bomb batches" && args[i+1] == p && !strings.Contains(first, "nested MARKs") {
					t.Errorf("%s: nettrain %s: %q does not refuse the MARKs", name, strings.Join(args, " "), first)
				}
				if r.code == 0 || !strings.HasPrefix(first, "nettrain: ") {
					t.Errorf("%s: nettrain %s: exit %d, stderr %q", name, strings.Join(args, " "), r.code, r.stderr)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: nettrain %s: still running after 30 s", name, strings.Join(args, " "))
			}
		}
	}
}

func randomBytes(n int) []byte {
	rng := rand.New(rand.NewPCG(7, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}
