package main

import (
	"archive/zip"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio"
	"gonum.org/v1/gonum/mat"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
)

// writeNpz writes arrays (name -> value npyio can write) as an npz.
func writeNpz(t *testing.T, path string, arrays map[string]any) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, v := range arrays {
		w, _ := zw.Create(name + ".npy")
		if err := npyio.Write(w, v); err != nil {
			t.Fatal(err)
		}
	}
	zw.Close()
	f.Close()
}

// goodArrays are a checkpoint's arrays for CIFAR-10 with 4 hidden units.
func goodArrays() map[string]any {
	return map[string]any{
		"W1": mat.NewDense(cifar.D, 4, nil), "b1": make([]float64, 4),
		"W2": mat.NewDense(4, cifar.Classes, nil), "b2": make([]float64, cifar.Classes),
		"mean": make([]float64, cifar.D),
	}
}

// Every kind of bad input a user can give gets exit status 1 (a failed
// run) or 2 (a wrong command line), one "nettrain: ..." line that names the
// problem and what to do, nothing on stdout, and no stack trace.
func TestBadInput(t *testing.T) {
	tmp := t.TempDir()
	good := fixtureDir(t)
	goodModel := filepath.Join(tmp, "good.npz")
	if r := runCmd(t, testEnv(), append([]string{"train", "--data", good, "--iters", "2", "--batch", "5", "--out", goodModel, "-q"}, small...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}

	// brokenData returns a copy of the fixture broken by edit.
	brokenData := func(name string, edit func(dir string)) string {
		dir := filepath.Join(tmp, "data-"+name)
		os.Mkdir(dir, 0o755)
		cifartest.WriteDir(t, dir, fixturePer, 11)
		edit(dir)
		return dir
	}
	batch := func(dir string, i int) string { return filepath.Join(dir, cifar.TrainFile(i)) }
	setByte := func(path string, off int, v byte) {
		b, _ := os.ReadFile(path)
		b[off] = v
		os.WriteFile(path, b, 0o644)
	}
	// badModel writes a checkpoint with arrays edited by edit.
	badModel := func(name string, edit func(a map[string]any)) string {
		a := goodArrays()
		edit(a)
		p := filepath.Join(tmp, name+".npz")
		writeNpz(t, p, a)
		return p
	}
	goodBytes, _ := os.ReadFile(goodModel)
	truncated := filepath.Join(tmp, "truncated.npz")
	os.WriteFile(truncated, goodBytes[:len(goodBytes)*2/3], 0o644)
	notNpz := filepath.Join(tmp, "notes.txt")
	os.WriteFile(notNpz, []byte("W1 = [[0.1, 0.2]]\n"), 0o644)

	trainOn := func(data string, extra ...string) []string {
		return append(append([]string{"train", "--data", data, "--iters", "2", "--batch", "5", "--out", filepath.Join(tmp, "x.npz")}, small...), extra...)
	}
	evalOf := func(m string, extra ...string) []string {
		return append([]string{"eval", "--model", m, "--data", good}, extra...)
	}
	const getData = "get_cifar10.sh" // the fix named for data problems
	// withConfig copies the good model with its config edited.
	withConfig := func(name string, edit func(c map[string]any)) string {
		ck, err := checkpoint.Load(goodModel)
		if err != nil {
			t.Fatal(err)
		}
		var meta map[string]any
		json.Unmarshal(ck.Meta, &meta)
		edit(meta["config"].(map[string]any))
		ck.Meta, _ = json.Marshal(meta)
		p := filepath.Join(tmp, name+".npz")
		if err := checkpoint.Save(p, ck); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bigBatch := withConfig("bigbatch", func(c map[string]any) { c["batch"] = 100_000_000 })
	badLR := withConfig("badlr", func(c map[string]any) { c["lr"] = -1 })
	archive := filepath.Join(tmp, "data.tar.gz")
	os.WriteFile(archive, cifartest.TarGz("cifar-10-batches-bin", cifartest.Files(cifartest.RandomSet(5*fixturePer, rand.New(rand.NewPCG(1, 1))), cifartest.RandomSet(fixturePer, rand.New(rand.NewPCG(2, 2))), fixturePer, false)), 0o644)
	// A run that stopped early by --patience: lr so small that validation
	// accuracy never improves.
	stopped := filepath.Join(tmp, "stopped.npz")
	if r := runCmd(t, testEnv(), append([]string{"train", "--data", good, "--iters", "300", "--batch", "5", "--lr", "1e-30", "--patience", "1", "--out", stopped, "-q"}, small...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // substrings of the error line
	}{
		// Data.
		{"data: missing directory", trainOn(filepath.Join(tmp, "nope")), 1, []string{"does not exist", getData}},
		{"data: one batch missing", trainOn(brokenData("missing", func(d string) { os.Remove(batch(d, 3)) })), 1, []string{"data_batch_3.bin is missing", getData}},
		{"data: empty file", trainOn(brokenData("empty", func(d string) { os.WriteFile(batch(d, 2), nil, 0o644) })), 1, []string{"data_batch_2.bin: 0 bytes", getData}},
		{"data: truncated file", trainOn(brokenData("trunc", func(d string) { os.Truncate(batch(d, 5), 1000) })), 1, []string{"data_batch_5.bin: 1000 bytes", "truncated", getData}},
		{"data: extra bytes", trainOn(brokenData("extra", func(d string) {
			f, _ := os.OpenFile(batch(d, 1), os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte("\n"))
			f.Close()
		})), 1, []string{"data_batch_1.bin", "bytes, want", getData}},
		{"data: label 10", trainOn(brokenData("label10", func(d string) { setByte(batch(d, 4), 7*cifar.RecordSize, 10) })), 1, []string{"data_batch_4.bin", "record 7", "label 10, want 0..9"}},
		{"data: label 255", trainOn(brokenData("label255", func(d string) { setByte(filepath.Join(d, cifar.TestFile), 0, 255) })), 1, []string{"test_batch.bin", "record 0", "label 255"}},
		{"data: directory for a file", trainOn(brokenData("dir", func(d string) {
			os.Remove(batch(d, 2))
			os.Mkdir(batch(d, 2), 0o755)
		})), 1, []string{"data_batch_2.bin is a directory"}},
		{"data: unreadable file (symlink loop)", trainOn(brokenData("loop", func(d string) {
			os.Remove(batch(d, 1))
			os.Symlink(cifar.TrainFile(1), batch(d, 1))
		})), 1, []string{"data_batch_1.bin", "too many levels of symbolic links"}},
		{"data: damaged python pickle folder", trainOn(brokenData("pickle", func(d string) {
			for i := 1; i <= 5; i++ {
				os.Rename(batch(d, i), strings.TrimSuffix(batch(d, i), ".bin"))
			}
			os.Rename(filepath.Join(d, cifar.TestFile), filepath.Join(d, "test_batch"))
		})), 1, []string{"data_batch_1", "not a CIFAR-10 Python batch"}},
		{"data: truncated archive", trainOn(brokenData("tgz", func(d string) {
			b := cifartest.TarGz("cifar-10-batches-bin", cifartest.Files(cifartest.RandomSet(5*fixturePer, rand.New(rand.NewPCG(1, 1))), cifartest.RandomSet(fixturePer, rand.New(rand.NewPCG(2, 2))), fixturePer, false))
			os.RemoveAll(d)
			os.WriteFile(d, b[:len(b)-5000], 0o644)
		})), 1, []string{"damaged archive", "truncated download"}},
		{"data: a file for the directory", trainOn(notNpz), 1, []string{"is not a directory", getData}},

		// Checkpoints.
		{"model: not an npz", evalOf(notNpz), 1, []string{"not an .npz checkpoint"}},
		{"model: truncated", evalOf(truncated), 1, []string{"truncated.npz", "not an .npz checkpoint"}},
		{"model: missing", evalOf(filepath.Join(tmp, "absent.npz")), 1, []string{"no such file", "nettrain train --out"}},
		{"model: missing array", evalOf(badModel("nob2", func(a map[string]any) { delete(a, "b2") })), 1, []string{`no array "b2"`, "needs W1, b1, W2, b2 and mean"}},
		{"model: wrong shape", evalOf(badModel("shape", func(a map[string]any) { a["W2"] = mat.NewDense(5, 10, nil) })), 1, []string{"W2 has shape [5 10]"}},
		{"model: NaN weights", evalOf(badModel("nan", func(a map[string]any) { a["W1"].(*mat.Dense).Set(3, 2, math.NaN()) })), 1, []string{`"W1" has NaN`, "smaller --lr"}},
		{"model: Inf weights", evalOf(badModel("inf", func(a map[string]any) { a["b1"].([]float64)[1] = math.Inf(1) })), 1, []string{`"b1" has +Inf`}},
		{"model: mean of the wrong length", evalOf(badModel("mean", func(a map[string]any) { a["mean"] = make([]float64, 1024) })), 1, []string{"mean has length 1024, want 3072"}},
		{"model: does not fit the data", evalOf(badModel("small", func(a map[string]any) {
			a["W1"], a["mean"] = mat.NewDense(100, 4, nil), make([]float64, 100)
		})), 1, []string{"takes 100 inputs", "CIFAR-10 has 3072"}},
		{"model: a directory", evalOf(tmp), 1, []string{"is a directory"}},

		// Flags.
		{"flags: hidden 0", trainOn(good, "--hidden", "0"), 2, []string{"--hidden is 0, want at least 1"}},
		{"flags: hidden negative", trainOn(good, "--hidden", "-5"), 2, []string{"--hidden is -5"}},
		{"flags: batch 0", trainOn(good, "--batch", "0"), 2, []string{"--batch is 0, want a number from 1 to"}},
		{"flags: lr 0", trainOn(good, "--lr", "0"), 2, []string{"--lr is 0, want a number in (0, "}},
		{"flags: lr negative", trainOn(good, "--lr", "-1e-3"), 2, []string{"--lr is -0.001"}},
		{"flags: weight decay negative", trainOn(good, "--weight-decay", "-0.1"), 2, []string{"--weight-decay is -0.1, want a number from 0 to"}},
		{"flags: sweep weight decay negative", []string{"sweep", "--data", good, "--weight-decay", "-1", "--out", filepath.Join(tmp, "swd")}, 2, []string{"--weight-decay is -1"}},
		{"flags: hidden layer 0", trainOn(good, "--hidden", "50,0"), 2, []string{"--hidden 50,0: layer 2 has 0 units, want at least 1"}},
		{"flags: hidden not a number", trainOn(good, "--hidden", "50,x"), 2, []string{`invalid argument "50,x" for "--hidden"`, `"x" is not a whole number`}},
		{"flags: decay 0", trainOn(good, "--lr-decay", "0"), 2, []string{"--lr-decay is 0, want a number in (0, 1]"}},
		{"flags: decay above 1", trainOn(good, "--lr-decay", "1.01"), 2, []string{"--lr-decay is 1.01"}},
		{"flags: reg negative", trainOn(good, "--reg", "-1"), 2, []string{"--reg is -1"}},
		{"flags: std 0", trainOn(good, "--std", "0"), 2, []string{"--std is 0"}},
		{"flags: iters 0", trainOn(good, "--iters", "0"), 2, []string{"--iters is 0"}},
		{"flags: splits over 50000", []string{"train", "--data", good, "--num-train", "49500", "--num-val", "1000"}, 2, []string{"--num-train 49500 plus --num-val 1000 is 50500"}},
		{"flags: splits over the data", trainOn(good, "--num-train", "190", "--num-val", "20"), 2, []string{"the training batches hold 200 images"}},
		{"flags: num-test over the test batch", []string{"train", "--data", good, "--num-test", "10001"}, 2, []string{"--num-test is 10001"}},
		{"flags: unknown split", evalOf(goodModel, "--split", "dev"), 2, []string{`--split is "dev", want train, val or test`}},
		{"flags: unknown precision", trainOn(good, "--precision", "half"), 2, []string{`--precision is "half"`}},
		{"flags: contradicting the resumed run", trainOn(good, "--resume", goodModel, "--hidden", "64", "--iters", "10"), 2, []string{"--hidden 64 contradicts --resume", "trained with --hidden 50"}},
		{"flags: resume with nothing to do", trainOn(good, "--resume", goodModel), 2, []string{"has done 2 of 2 iterations", "larger --iters"}},
		{"flags: resume a numpy model", trainOn(good, "--resume", badModel("plain", func(map[string]any) {}), "--iters", "5"), 1, []string{"no training state"}},
		{"flags: out directory missing", trainOn(good, "--out", filepath.Join(tmp, "no", "m.npz")), 1, []string{"directory", "does not exist"}},
		{"flags: unknown flag", []string{"train", "--hiden", "5"}, 2, []string{"unknown flag: --hiden"}},
		{"flags: not a number", []string{"train", "--hidden", "many"}, 2, []string{`invalid argument "many"`}},
		{"flags: unknown command", []string{"trian"}, 2, []string{`unknown command "trian"`}},
		{"flags: stray argument", []string{"eval", "model.npz"}, 2, []string{`unknown command "model.npz"`}},
		{"flags: data fetch retries 0", []string{"data", "fetch", "--retries", "0"}, 2, []string{"--retries is 0"}},
		{"data fetch md5sums a device", []string{"data", "fetch", "--md5sums", "/dev/zero", "--dir", filepath.Join(tmp, "fetchdir")}, 1, []string{"/dev/zero is a device"}},
		{"data fetch bad url", []string{"data", "fetch", "--url", "ftp://x/a.tgz", "--dir", filepath.Join(tmp, "fetchdir")}, 1, []string{"not an http, https or file URL"}},
		// Outputs, checked before any training.
		{"outputs: --out a directory", trainOn(good, "--out", tmp), 1, []string{"--out " + tmp + " is a directory"}},
		{"outputs: --out on a read-only filesystem", trainOn(good, "--out", "/proc/m.npz"), 1, []string{"--out /proc/m.npz: cannot write in /proc"}},
		{"outputs: --metrics is --out", trainOn(good, "--metrics", filepath.Join(tmp, "x.npz")), 1, []string{"--out and --metrics are both"}},
		{"outputs: --out is the data archive", append([]string{"train", "--data", archive, "--out", archive}, small...), 1, []string{"would overwrite the training data"}},
		{"outputs: --metrics is the checkpoint resumed", trainOn(good, "--resume", goodModel, "--iters", "5", "--metrics", goodModel, "--out", filepath.Join(tmp, "r.npz")), 1, []string{"would overwrite the checkpoint --resume reads"}},
		{"resume: stopped early", []string{"train", "--resume", stopped, "--data", good}, 2, []string{"stopped early", "nothing to train"}},
		// Sizes no machine holds: refused before anything is allocated.
		{"sizes: --hidden 1e8", trainOn(good, "--hidden", "100000000"), 2, []string{"--hidden 100000000: layer 1 has 100000000 units, want at most 1048576"}},
		{"sizes: --hidden 1e6", trainOn(good, "--hidden", "1000000"), 1, []string{"not enough memory", "available", "choose a smaller --hidden"}},
		{"sizes: --batch 1e8", trainOn(good, "--batch", "100000000"), 2, []string{"--batch is 100000000, want a number from 1 to 16777216"}},
		{"sizes: --batch 1e7", trainOn(good, "--batch", "10000000"), 1, []string{"not enough memory", "choose a smaller --batch"}},
		{"sizes: --iters 1e13", trainOn(good, "--iters", "9999999999999"), 2, []string{"--iters is 9999999999999, want a number from 1 to 1000000000"}},
		{"sizes: sweep --trials 1e9", []string{"sweep", "--trials", "1000000000", "--data", good, "--out", filepath.Join(tmp, "sw")}, 2, []string{"--trials is 1000000000"}},
		{"sizes: sweep grid of 2e9", []string{"sweep", "--mode", "grid", "--hidden", "1:100:2000000000", "--data", good, "--out", filepath.Join(tmp, "sw")}, 2, []string{"2000000000 points"}},
		{"sizes: sweep --hidden 1e8", []string{"sweep", "--hidden", "100000000", "--data", good, "--out", filepath.Join(tmp, "sw")}, 2, []string{"--hidden takes 1e+08, want a number from 1 to"}},
		{"sizes: sweep --hidden 1e6", []string{"sweep", "--hidden", "1000000", "--data", good, "--out", filepath.Join(tmp, "sw")}, 1, []string{"not enough memory", "the largest in the space"}},
		{"sizes: a checkpoint's batch 1e8", []string{"train", "--resume", bigBatch, "--iters", "5", "--data", good, "--out", filepath.Join(tmp, "r.npz")}, 1, []string{"--resume " + bigBatch + ": its config is invalid: --batch is 100000000"}},
		{"resume: a checkpoint's lr -1", []string{"train", "--resume", badLR, "--iters", "5", "--data", good, "--out", filepath.Join(tmp, "r.npz")}, 1, []string{"--resume " + badLR + ": its config is invalid: --lr is -1"}},
		{"flags: --std 1e308", trainOn(good, "--std", "1e308", "-q"), 2, []string{"--std is 1e+308, want a number in (0, 1000000]"}},
		{"flags: --save-every 0", trainOn(good, "--save-every", "0"), 2, []string{"--save-every", "want a number of iterations"}},
		{"flags: --save-every soon", trainOn(good, "--save-every", "soon"), 2, []string{"--save-every", "a duration such as 10m"}},
		{"flags: gradcheck hidden 0", []string{"gradcheck", "--hidden", "0"}, 2, []string{"--hidden is 0"}},
		{"flags: gradcheck tol negative", []string{"gradcheck", "--tol", "-1"}, 2, []string{"--tol is -1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, testEnv(), tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, tc.code, r.stderr)
			}
			first, rest, _ := strings.Cut(r.stderr, "\n")
			if !strings.HasPrefix(first, "nettrain: ") {
				t.Errorf("stderr %q does not start with one nettrain: line", r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(first, w) {
					t.Errorf("error line %q does not mention %q", first, w)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing on failure", r.stdout)
			}
			switch tc.code {
			case 2:
				if !strings.Contains(rest, "--help") {
					t.Errorf("usage error without a pointer to --help: %q", r.stderr)
				}
			case 1:
				if rest != "" {
					t.Errorf("more than one line on stderr: %q", r.stderr)
				}
			}
		})
	}
	// Nothing the failures did may touch the good model.
	if _, err := checkpoint.Load(goodModel); err != nil {
		t.Errorf("good model damaged: %v", err)
	}
}
