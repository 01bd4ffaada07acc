package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	trainrun "github.com/nettrain/nettrain/internal/run"
)

// realData returns the real CIFAR-10 directory, or skips.
func realData(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the end-to-end run on the real data")
	}
	dir := realDataDir(os.Getenv)
	if _, err := os.Stat(filepath.Join(dir, "test_batch.bin")); err != nil {
		t.Skipf("real CIFAR-10 not found at %s (export NETTRAIN_DATA=DIR, as for make train, to run this test)", dir)
	}
	return dir
}

// realDataDir is where the real-data tests look: $NETTRAIN_DATA, the
// variable that points make train and nettrain at the data (a test-only
// override, $NETTRAIN_E2E_DATA, wins), else the shared copy beside the
// checkout.
func realDataDir(getenv func(string) string) string {
	return cmp.Or(getenv("NETTRAIN_E2E_DATA"), getenv("NETTRAIN_DATA"), filepath.Join("..", "..", "..", "shared", "cifar-10-batches-bin"))
}

// The variable users export for make train switches the real-data tests on.
func TestRealDataDirFromEnvironment(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	if got := realDataDir(env(map[string]string{"NETTRAIN_DATA": "/d"})); got != "/d" {
		t.Errorf("with NETTRAIN_DATA=/d the tests look in %s", got)
	}
	if got := realDataDir(env(map[string]string{"NETTRAIN_DATA": "/d", "NETTRAIN_E2E_DATA": "/e"})); got != "/e" {
		t.Errorf("NETTRAIN_E2E_DATA does not win: %s", got)
	}
	if got := realDataDir(env(nil)); !strings.HasSuffix(got, filepath.Join("shared", "cifar-10-batches-bin")) {
		t.Errorf("without either the tests look in %s", got)
	}
}

// The cs231n notebook run on the real data: validation accuracy near 0.29,
// and eval on the saved model reproduces it exactly.
func TestEndToEndRealData(t *testing.T) {
	data := realData(t)
	out := filepath.Join(t.TempDir(), "model.npz")
	r := runCmd(t, defaultEnv(), "train", "--data", data, "--out", out, "--quiet", "--json")
	if r.code != 0 {
		t.Fatalf("train: exit %d\n%s", r.code, r.stderr)
	}
	var res runResults
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	// cs231n reports about 0.29 for this run; the issue allows 0.26..0.32.
	if res.ValAcc < 0.26 || res.ValAcc > 0.32 {
		t.Errorf("default run: val_acc %v, want 0.26..0.32", res.ValAcc)
	}
	if res.TrainAcc == nil {
		t.Fatalf("default run: no train_acc in %s", r.stdout)
	}
	t.Logf("default run: loss %.4f, train_acc %.4f, val_acc %.4f, %.1fs", res.FinalLoss, *res.TrainAcc, res.ValAcc, res.Seconds)

	r = runCmd(t, defaultEnv(), "eval", "--model", out, "--data", data, "--json")
	var ev trainrun.Evaluation
	if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil || r.code != 0 {
		t.Fatalf("eval: exit %d, %v\n%s", r.code, err, r.stderr)
	}
	if ev.Accuracy != res.ValAcc || ev.N != 1000 {
		t.Errorf("eval: accuracy %v on %d images, train printed %v", ev.Accuracy, ev.N, res.ValAcc)
	}
}

// gradcheck on the real images passes at its defaults for every seed 0..9,
// and so does every example of its help.
func TestGradcheckRealData(t *testing.T) {
	data := realData(t)
	for seed := range 10 {
		r := runCmd(t, defaultEnv(), "gradcheck", "--data", data, "--seed", fmt.Sprint(seed))
		if r.code != 0 || !strings.Contains(r.stdout, "ok:") {
			t.Errorf("gradcheck --data --seed %d: exit %d\n%s%s", seed, r.code, r.stdout, r.stderr)
		}
	}
	for _, args := range [][]string{
		{"gradcheck", "--reg", "0", "--hidden", "20", "--num-inputs", "8"},
		{"gradcheck", "--data", data, "--hidden", "10", "--num-inputs", "3"},
		{"gradcheck", "--data", data, "--hidden", "50", "--num-inputs", "100", "--dropout", "0.5"},
	} {
		if r := runCmd(t, defaultEnv(), args...); r.code != 0 {
			t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

// The float32 fast path against the float64 reference on the real data: the
// default run's loss curves agree within 1e-4 relative at every iteration,
// and the validation accuracies within one image in a thousand.
func TestFloat32MatchesFloat64RealData(t *testing.T) {
	data := realData(t)
	tmp := t.TempDir()
	curves := map[string][]float64{}
	acc := map[string]float64{}
	for _, p := range []string{"float32", "float64"} {
		metrics := filepath.Join(tmp, p+".jsonl")
		r := runCmd(t, defaultEnv(), "train", "--data", data, "--precision", p, "--out", filepath.Join(tmp, p+".npz"), "--metrics", metrics, "-q", "--json")
		if r.code != 0 {
			t.Fatalf("--precision %s: exit %d\n%s", p, r.code, r.stderr)
		}
		var res runResults
		json.Unmarshal([]byte(r.stdout), &res)
		acc[p] = res.ValAcc
		b, _ := os.ReadFile(metrics)
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			var ev struct {
				Event string
				Loss  float64
			}
			json.Unmarshal(line, &ev)
			if ev.Event == "iter" {
				curves[p] = append(curves[p], ev.Loss)
			}
		}
	}
	if len(curves["float32"]) != 1000 || len(curves["float64"]) != 1000 {
		t.Fatalf("loss curves of %d and %d iterations", len(curves["float32"]), len(curves["float64"]))
	}
	worst := 0.0
	for i, l64 := range curves["float64"] {
		worst = max(worst, math.Abs(curves["float32"][i]-l64)/l64)
	}
	t.Logf("largest relative loss difference %.2e; val_acc float32 %.4f, float64 %.4f", worst, acc["float32"], acc["float64"])
	if worst > 1e-4 {
		t.Errorf("loss curves differ by up to %.2e relative, want <= 1e-4", worst)
	}
	if math.Abs(acc["float32"]-acc["float64"]) > 0.001 {
		t.Errorf("val_acc float32 %v, float64 %v", acc["float32"], acc["float64"])
	}
}

// The real data checks out against the official MD5s.
func TestDataInfoRealData(t *testing.T) {
	data := realData(t)
	r := runCmd(t, defaultEnv(), "data", "info", "--data", data, "--json")
	var info dataInfo
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || r.code != 0 || !info.Official {
		t.Fatalf("data info: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	// The well-known per-channel means of CIFAR-10's training images.
	for c, want := range []float64{125.3, 123.0, 113.9} {
		if math.Abs(info.MeanRGB[c]-want) > 0.1 {
			t.Errorf("mean of channel %d: %.2f, want about %.1f", c, info.MeanRGB[c], want)
		}
	}
}

// gradcheck --arch on the real images: every layer kind alone and
// cs231n-convnet whole pass at the defaults for seeds 0..9 (a sample of
// entries of the large parameters), every relative error within 1e-7.
func TestGradcheckConvRealData(t *testing.T) {
	data := realData(t)
	for seed := range 10 {
		r := runCmd(t, defaultEnv(), "gradcheck", "--data", data, "--arch", "cs231n-convnet", "--entries", "300", "--seed", fmt.Sprint(seed))
		if r.code != 0 || !strings.Contains(r.stdout, "ok:") {
			t.Errorf("gradcheck --arch cs231n-convnet --data --seed %d: exit %d\n%s%s", seed, r.code, r.stdout, r.stderr)
		}
	}
	for _, arch := range []string{"conv4k3-fc10", "conv4k3s2p1nobias-fc10", "conv4k3-maxpool2-fc10", "conv4k3-avgpool2-fc10", "conv4k3-gmaxpool-fc10",
		"conv4k3-gavgpool-fc10", "conv4k3-bn-fc10", "conv4k3-relu-fc10", "conv4k3-gelu-fc10", "conv4k3-dropout0.5-fc10", "conv4k3-fc10-scale1/9",
		"conv4k5-bn-gelu-maxpool2-conv6k3nobias-bn-relu-gavgpool-fc10"} {
		r := runCmd(t, defaultEnv(), "gradcheck", "--data", data, "--arch", arch, "--num-inputs", "3", "--entries", "400")
		if r.code != 0 {
			t.Errorf("gradcheck --arch %s --data: exit %d\n%s%s", arch, r.code, r.stdout, r.stderr)
		}
	}
}

// airbench's recipe on a small airbench (widths 32, 64, 64) for 300
// steps of 50 on 5,000 real images reaches 55% validation accuracy with
// TTA (measured: 59.5% and 60.9% on a 2-core AMD EPYC; the whitening layer and the
// lookahead are on the path), and eval --tta agrees.
func TestRecipeRealData(t *testing.T) {
	data := realData(t)
	out := filepath.Join(t.TempDir(), "model.npz")
	const arch = "conv24k2-gelu-conv32k3nobias-maxpool2-bnnoscale-gelu-conv32k3nobias-bnnoscale-gelu" +
		"-conv64k3nobias-maxpool2-bnnoscale-gelu-conv64k3nobias-bnnoscale-gelu" +
		"-conv64k3nobias-maxpool2-bnnoscale-gelu-conv64k3nobias-bnnoscale-gelu-maxpool3-fc10nobias-scale1/9"
	args := []string{"train", "--data", data, "--out", out, "--quiet", "--json", "--arch", arch, "--whiten", "--init", "dirac",
		"--optimizer", "nesterov", "--momentum", "0.85", "--lr", "1.5", "--reg", "1.33e-3", "--bias-lr", "64", "--schedule", "triangle",
		"--label-smoothing", "0.2", "--batch", "50", "--shuffle", "--flip", "--alternate-flip", "--translate", "2", "--translate-pad", "reflect",
		"--lookahead", "5", "--norm-track", "0.4", "--num-train", "5000", "--num-val", "1000", "--iters", "300", "--tta"}
	// The built binary, not this process: the run's memory stays out of
	// the process tests' measurements.
	stdout, err := exec.Command(nettrainBinary(t), args...).Output()
	if err != nil {
		t.Fatalf("train: %v", err)
	}
	var res runResults
	if err := json.Unmarshal(stdout, &res); err != nil {
		t.Fatal(err)
	}
	if res.ValAcc < 0.55 || !res.TTA {
		t.Errorf("the recipe: val_acc %v (tta %v), want 0.55 or more with TTA", res.ValAcc, res.TTA)
	}
	t.Logf("the recipe, 300 steps of 50 on 5000 images: loss %.4f, val_acc %.4f, %.1fs", res.FinalLoss, res.ValAcc, res.Seconds)
	stdout, err = exec.Command(nettrainBinary(t), "eval", "--model", out, "--data", data, "--num-train", "5000", "--num-val", "1000", "--tta", "--json").Output()
	var ev trainrun.Evaluation
	if err != nil || json.Unmarshal(stdout, &ev) != nil {
		t.Fatalf("eval --tta: %v %s", err, stdout)
	}
	if ev.Accuracy != res.ValAcc {
		t.Errorf("eval --tta: %v, train printed %v", ev.Accuracy, res.ValAcc)
	}
}
