package main

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
)

// The reproductions of issue 22 that are not in the generated settings
// table or the outputs test: each panicked, lied or exited 0 before.
func TestIssue22Reproductions(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	// Weights of 1e300: finite, but the scores overflow.
	huge := goodArrays()
	w1 := mat.NewDense(cifar.D, 4, nil)
	for i := range cifar.D {
		for j := range 4 {
			w1.Set(i, j, 1e300)
		}
	}
	w2 := mat.NewDense(4, cifar.Classes, nil)
	for i := range 4 {
		for j := range cifar.Classes {
			w2.Set(i, j, 1e300)
		}
	}
	huge["W1"], huge["W2"] = w1, w2
	hugeModel := filepath.Join(tmp, "huge.npz")
	writeNpz(t, hugeModel, huge)
	// A valid .npz of a net that does not take CIFAR-10 images.
	small5 := map[string]any{"W1": mat.NewDense(5, 4, nil), "b1": make([]float64, 4), "W2": mat.NewDense(4, 10, nil), "b2": make([]float64, 10), "mean": make([]float64, 5)}
	foreign := filepath.Join(tmp, "foreign.npz")
	writeNpz(t, foreign, small5)
	var img bytes.Buffer
	ds, err := testEnv().loader.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	png.Encode(&img, cifar.ToImage(ds.Test.Row(0)))
	imgPath := filepath.Join(tmp, "img.png")
	os.WriteFile(imgPath, img.Bytes(), 0o644)
	swDir := filepath.Join(tmp, "sw")
	metrics := filepath.Join(tmp, "run.jsonl")
	if r := runCmd(t, testEnv(), append([]string{"train", "--data", data, "--iters", "4", "--batch", "5", "--hidden", "4", "--metrics", metrics, "--out", filepath.Join(tmp, "run.npz"), "-q"}, small...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"train --zca-eps inf", append([]string{"train", "--data", data, "--preprocess", "zca", "--zca-eps", "inf", "--out", filepath.Join(tmp, "z.npz")}, small...), 2, "--zca-eps is +Inf"},
		{"sweep --zca-eps Inf", append([]string{"sweep", "--data", data, "--zca-eps", "Inf", "--out", swDir}, small...), 2, "--zca-eps is +Inf"},
		{"sweep --std Inf", append([]string{"sweep", "--data", data, "--std", "Inf", "--out", swDir}, small...), 2, "--std is +Inf"},
		{"--momentum 0", append([]string{"train", "--data", data, "--optimizer", "momentum", "--momentum", "0", "--out", filepath.Join(tmp, "m.npz")}, small...), 2, "--momentum is 0, want a number in (0, 1)"},
		{"sweep --halving-min-iters above --iters", append([]string{"sweep", "--data", data, "--iters", "10", "--halving", "--halving-min-iters", "50", "--out", swDir}, small...), 2, "--halving-min-iters is 50, want 1 to the largest --iters, 10"},
		{"eval weights 1e300", append([]string{"eval", "--model", hugeModel, "--data", data}, small...), 1, "not finite"},
		{"predict weights 1e300", []string{"predict", "--model", hugeModel, imgPath}, 1, "not finite"},
		{"plot a non-CIFAR model", []string{"plot", metrics, "--model", foreign, "--out", filepath.Join(tmp, "plots")}, 1, "not CIFAR-10's 3072"},
		{"gradcheck 2e9 rows", []string{"gradcheck", "--num-inputs", "2000000000", "--input-size", "2000000000"}, 2, "--num-inputs is 2000000000, want 1 to 10000"},
		{"sweep whose every trial diverges", append([]string{"sweep", "--data", data, "--lr", "1e6", "--std", "1", "--reg", "0", "--hidden", "8", "--iters", "20", "--batch", "10", "--trials", "2", "--out", filepath.Join(tmp, "div"), "-q"}, small...), 1, "all 2 trials diverged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, testEnv(), tc.args...)
			first, _, _ := strings.Cut(r.stderr, "\n")
			if r.code != tc.code || !strings.Contains(first, tc.want) {
				t.Errorf("exit %d (want %d), stderr %q; want a first line with %q", r.code, tc.code, r.stderr, tc.want)
			}
		})
	}
	// plot takes a metrics file whose last line a killed writer tore.
	b, _ := os.ReadFile(metrics)
	torn := filepath.Join(tmp, "torn.jsonl")
	os.WriteFile(torn, append(b, []byte(`{"event":"iter","it`)...), 0o644)
	if r := runCmd(t, testEnv(), "plot", torn, "--out", filepath.Join(tmp, "tornplots")); r.code != 0 {
		t.Errorf("plot of a torn metrics file: exit %d %s", r.code, r.stderr)
	}
	// YAML: min_iters -1, std .inf.
	for _, tc := range []struct{ file, want string }{
		{"halving: {eta: 3, min_iters: -1}\n", "halving_min_iters is -1"},
		{"std: .inf\n", "std is +Inf"},
		{"std: 0\n", "std is 0"},
	} {
		cfg := filepath.Join(tmp, "s.yaml")
		os.WriteFile(cfg, []byte(tc.file), 0o644)
		// Small, so that a regression that accepts the file ends soon.
		r := runCmd(t, testEnv(), append([]string{"sweep", "--data", data, "--config", cfg, "--out", swDir, "--trials", "1", "--iters", "10", "--batch", "5", "--hidden", "4", "-q"}, small...)...)
		if first, _, _ := strings.Cut(r.stderr, "\n"); r.code != 1 || !strings.Contains(first, tc.want) {
			t.Errorf("sweep file %q: exit %d, %q; want 1 and %q", tc.file, r.code, r.stderr, tc.want)
		}
	}
}

// Resume validates every array it restores and refuses an incomplete
// checkpoint by name, before training, and leaves the checkpoint as it was.
func TestResumeRefusesDamagedState(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	part := filepath.Join(tmp, "part.npz")
	args := append([]string{"train", "--data", data, "--iters", "30", "--batch", "5", "--hidden", "6", "--norm", "batch", "--keep-best",
		"--preprocess", "channel", "--optimizer", "adam", "--lr", "1e-3", "--std", "1e-2", "-q"}, small...)
	if r := runCmd(t, testEnv(), append(args, "--out", part)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	for _, tc := range []struct {
		name, key string
		edit      func([]float64) []float64
		want      string
	}{
		{"negative running variance", "train.running_var1", func(v []float64) []float64 { v[0] = -1; return v }, "train.running_var1[0] is -1, want a variance > 0"},
		{"NaN running mean", "train.running_mean1", func(v []float64) []float64 { v[2] = math.NaN(); return v }, "train.running_mean1[2] is NaN"},
		{"NaN best weights", "best.W1", func(v []float64) []float64 { v[5] = math.NaN(); return v }, "best.W1[5] is NaN"},
		{"Inf optimizer state", "opt.m.W2", func(v []float64) []float64 { v[0] = math.Inf(1); return v }, "opt.m.W2[0] is +Inf"},
		{"missing train.W1", "train.W1", func([]float64) []float64 { return nil }, "lacks train.W1"},
		{"short train.b1", "train.b1", func(v []float64) []float64 { return v[:2] }, "train.b1 has 2 numbers, want 6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ck, err := checkpoint.Load(part)
			if err != nil {
				t.Fatal(err)
			}
			v, ok := ck.Extra[tc.key]
			if !ok {
				t.Fatalf("the checkpoint has no %s", tc.key)
			}
			if v = tc.edit(v); v == nil {
				delete(ck.Extra, tc.key)
			} else {
				ck.Extra[tc.key] = v
			}
			bad := filepath.Join(tmp, "bad.npz")
			if err := checkpoint.Save(bad, ck); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(bad)
			r := runCmd(t, testEnv(), "train", "--resume", bad, "--iters", "40", "--data", data, "-q")
			first, rest, _ := strings.Cut(r.stderr, "\n")
			if r.code != 1 || !strings.Contains(first, tc.want) || rest != "" {
				t.Errorf("exit %d, %q; want 1 and one line with %q", r.code, r.stderr, tc.want)
			}
			if after, _ := os.ReadFile(bad); !bytes.Equal(before, after) {
				t.Error("the refused checkpoint was rewritten")
			}
		})
	}
}

// A results line is trusted only if its config is the trial the sweep's
// own space draws for that index: a forged line of 0.97 does not rank.
func TestForgedResultsLineIgnored(t *testing.T) {
	data := fixtureDir(t)
	dir := filepath.Join(t.TempDir(), "sw")
	if r := runCmd(t, testEnv(), append([]string{"sweep", "--data", data, "--out", dir, "-q"}, smallSweep...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	f, err := os.OpenFile(filepath.Join(dir, "results.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"trial":0,"rung":0,"config":{"trial":0,"hidden":999,"lr":0.1,"reg":0,"iters":10,"batch":10,"lr_decay":0.95,"seed":1},"iters":10,"status":"ok","val_acc":0.97,"checkpoint":"trials/0000-rung0.npz"}` + "\n")
	f.WriteString(`{"trial":1,"rung":0,"config":{"trial":1},"iters":10,"status":"ok","val_acc":0.98,"checkpoint":"trials/0001-rung0.npz"}` + "\n")
	f.Close()
	r := runCmd(t, testEnv(), "sweep", "report", dir, "--json", "--out", filepath.Join(t.TempDir(), "best.npz"))
	if r.code != 0 {
		t.Fatalf("report: exit %d %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, `"val_acc": 0.97`) || strings.Contains(r.stdout, `"val_acc": 0.98`) || strings.Contains(r.stdout, `"hidden": 999`) {
		t.Errorf("a forged line ranked:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "results.jsonl:6: trial 0's config is not the one the sweep's space draws") || !strings.Contains(r.stderr, "results.jsonl:7:") {
		t.Errorf("no warning naming the forged lines: %q", r.stderr)
	}
}
