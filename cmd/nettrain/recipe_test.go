package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/gemm"
	trainrun "github.com/nettrain/nettrain/internal/run"
)

// recipeArch is airbench's net in small: a whitening layer, then a block
// of dirac convolutions with batch norms without scale.
const recipeArch = "conv24k2-gelu-conv8k3nobias-maxpool2-bnnoscale-gelu-conv8k3nobias-bnnoscale-gelu-gmaxpool-fc10nobias-scale1/9"

// recipe is every option of airbench's recipe.
var recipe = []string{"--arch", recipeArch, "--whiten", "--whiten-bias-epochs", "1", "--init", "dirac", "--bias-lr", "64",
	"--optimizer", "nesterov", "--momentum", "0.85", "--lr", "0.05", "--reg", "5e-4", "--schedule", "triangle", "--label-smoothing", "0.2",
	"--shuffle", "--flip", "--alternate-flip", "--translate", "2", "--translate-pad", "reflect", "--lookahead", "3", "--norm-track", "0.4",
	"--batch", "10", "--tta"}

// recipeTrainer returns train(name, extra...): nettrain train on data
// with flags, then extra, into a temporary directory; it returns the
// checkpoint's path and the command's result, and fails the test if the
// command does.
func recipeTrainer(t *testing.T, data string, flags []string) func(name string, extra ...string) (string, result) {
	tmp := t.TempDir()
	return func(name string, extra ...string) (string, result) {
		out := filepath.Join(tmp, name+".npz")
		args := append(append([]string{"train", "--data", data, "--out", out, "-q", "--json"}, small...), flags...)
		r := runCmd(t, testEnv(), append(args, extra...)...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d %s", name, r.code, r.stderr)
		}
		return out, r
	}
}

// The recipe trains, gives the same bits with snapshots (the lookahead's
// average, the epochs' permutations and flips go into them; resuming from
// one is run's TestExecuteRecipeResumes), keeps the whitening filters as
// fitted, and eval --tta reproduces the score train recorded with --tta.
func TestAirbenchRecipe(t *testing.T) {
	data := fixtureDir(t)
	train := recipeTrainer(t, data, recipe)
	fullPath, r := train("full", "--iters", "40")
	full := convHash(t, fullPath)
	var res struct {
		runResults
		Config trainrun.Config `json:"config"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if !res.TTA || !res.Config.Whiten || res.Config.Lookahead != 3 || res.Config.Init != "dirac" {
		t.Errorf("results %+v, config %+v: the recipe not recorded", res.runResults, res.Config)
	}

	if p, _ := train("saved", "--iters", "40", "--save-every", "7"); convHash(t, p) != full {
		t.Errorf("with --save-every %s, without %s", convHash(t, p), full)
	}
	if p, _ := train("plainflip", "--iters", "40", "--alternate-flip=false"); convHash(t, p) == full {
		t.Error("--alternate-flip changed nothing")
	}

	// The whitening filters stay as fitted; its bias trains in the first
	// epoch (15 iterations) only. (A step schedule: the triangle's depends
	// on --iters.)
	arrays := func(path string) map[string][]float64 {
		ck, err := checkpoint.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][]float64{}
		for _, a := range ck.Conv.Arrays() {
			m[a.Name] = a.V
		}
		return m
	}
	one, _ := train("one", "--iters", "1")
	epoch, _ := train("epoch", "--iters", "15", "--lookahead", "0", "--schedule", "step")
	last, _ := train("last", "--iters", "40", "--lookahead", "0", "--schedule", "step")
	a1, a15, a40 := arrays(one), arrays(epoch), arrays(last)
	if !slices.Equal(a1["W1"], a40["W1"]) {
		t.Error("the whitening filters changed in training")
	}
	if slices.Equal(a1["b1"], a15["b1"]) || !slices.Equal(a15["b1"], a40["b1"]) {
		t.Error("the whitening bias did not train in epoch 1 only")
	}

	r = runCmd(t, testEnv(), append([]string{"eval", "--model", fullPath, "--data", data, "--json", "--tta"}, small...)...)
	var ev trainrun.Evaluation
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &ev) != nil {
		t.Fatalf("eval --tta: exit %d %s", r.code, r.stderr)
	}
	if !ev.TTA || ev.Accuracy != res.ValAcc {
		t.Errorf("eval --tta %v (tta %v), train --tta said %v", ev.Accuracy, ev.TTA, res.ValAcc)
	}
}

// airbench94_muon's recipe: optimizer muon with the linear schedule
// trains, records its settings, saves on the way without a change (the
// filters' momentum goes into the snapshots; resuming from one is run's
// TestExecuteRecipeResumes), gives the same bits on 1 and 2 threads, and
// differs from nesterov's run.
func TestMuonRecipe(t *testing.T) {
	muon := append(slices.Clone(recipe), "--optimizer", "muon", "--muon-lr", "0.05", "--muon-momentum", "0.7", "--schedule", "linear", "--lookahead", "0")
	train := recipeTrainer(t, fixtureDir(t), muon)
	fullPath, r := train("full", "--iters", "40")
	full := convHash(t, fullPath)
	var res struct {
		Config trainrun.Config `json:"config"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if c := res.Config; c.Optimizer != "muon" || c.MuonLR != 0.05 || c.MuonMomentum != 0.7 || c.Schedule != "linear" {
		t.Errorf("config %+v: muon's settings not recorded", c)
	}
	if p, _ := train("saved", "--iters", "40", "--save-every", "7"); convHash(t, p) != full {
		t.Errorf("with --save-every %s, without %s", convHash(t, p), full)
	}
	for _, threads := range []string{"1", "2"} {
		if p, _ := train("t"+threads, "--iters", "40", "--threads", threads); convHash(t, p) != full {
			t.Errorf("--threads %s: %s, want %s", threads, convHash(t, p), full)
		}
	}
	if p, _ := train("nesterov", "--iters", "40", "--optimizer", "nesterov", "--muon-lr", "0.24", "--muon-momentum", "0.6"); convHash(t, p) == full {
		t.Error("--optimizer muon changed nothing")
	}
}

// --matmul bf16 trains in bfloat16 products: recorded, the same bits on
// every kernel (the float32 ones run GemmBF16 with FTZ and DAZ, "go" in
// plain Go) and thread count and with --save-every, not float32's bits.
func TestBF16Recipe(t *testing.T) {
	muon := append(slices.Clone(recipe), "--optimizer", "muon", "--muon-lr", "0.05", "--muon-momentum", "0.7", "--schedule", "linear", "--lookahead", "0")
	train := recipeTrainer(t, fixtureDir(t), append(muon, "--matmul", "bf16"))
	fullPath, r := train("full", "--iters", "12")
	full := convHash(t, fullPath)
	var res struct {
		Config trainrun.Config `json:"config"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.Config.Matmul != "bf16" {
		t.Errorf("config %+v: matmul not recorded", res.Config)
	}
	if p, _ := train("saved", "--iters", "12", "--save-every", "5"); convHash(t, p) != full {
		t.Errorf("with --save-every %s, without %s", convHash(t, p), full)
	}
	defer gemm.Use(gemm.Kernels()[0])
	for _, k := range gemm.Kernels() {
		for _, threads := range []string{"1", "2"} {
			if err := gemm.Use(k); err != nil {
				t.Fatal(err)
			}
			if p, _ := train("t"+threads, "--iters", "12", "--threads", threads); convHash(t, p) != full {
				t.Errorf("kernel %s, --threads %s: %s, want %s", k, threads, convHash(t, p), full)
			}
		}
	}
	gemm.Use(gemm.Kernels()[0])
	if p, _ := train("f32", "--iters", "12", "--matmul", "float32"); convHash(t, p) == full {
		t.Error("--matmul bf16 changed nothing")
	}
}

// The recipe's settings refused where they cannot apply, one line each.
func TestRecipeRefusals(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "m.npz")
	base := append([]string{"train", "--data", data, "--iters", "2", "--batch", "5", "--out", out, "-q"}, small...)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--arch", "cs231n-convnet", "--whiten"}, "--whiten makes the first layer whiten"},
		{[]string{"--lookahead", "5"}, "--lookahead is for convolutional nets so far: add --arch"},
		{[]string{"--init", "dirac"}, "--init is for convolutional nets so far"},
		{[]string{"--tta"}, "--tta is for convolutional nets so far"},
		{[]string{"--arch", smallArch, "--alternate-flip"}, "--alternate-flip alternates --flip: add --flip"},
		{[]string{"--arch", smallArch, "--shuffle", "--batch", "500"}, "--shuffle takes --batch 500 images at a time from 150"},
		{[]string{"--arch", smallArch, "--schedule", "zigzag"}, "--schedule is \"zigzag\", want step, cosine, triangle or linear"},
		{[]string{"--optimizer", "muon"}, "--optimizer muon trains a convolutional net's filters: add --arch"},
		{[]string{"--arch", smallArch, "--muon-lr", "0.1"}, "--muon-lr is --optimizer muon's: add --optimizer muon"},
		{[]string{"--arch", smallArch, "--optimizer", "muon", "--muon-momentum", "1"}, "--muon-momentum is 1, want a number in [0, 1)"},
		{[]string{"--arch", smallArch, "--bias-lr", "0"}, "--bias-lr is 0"},
		{[]string{"--arch", "conv8k3-bnscale-fc10"}, `bn takes only the option noscale, not "scale"`},
		{[]string{"--matmul", "bf16"}, "--matmul is for convolutional nets so far: add --arch"},
		{[]string{"--arch", smallArch, "--matmul", "bf16", "--precision", "float64"}, "--matmul bf16 rounds float32 products' inputs: it needs --precision float32, not float64"},
		{[]string{"--arch", smallArch, "--matmul", "bfloat"}, "--matmul"},
	} {
		r := runCmd(t, testEnv(), append(base, c.args...)...)
		first, rest, _ := strings.Cut(r.stderr, "\n")
		if r.code == 0 || !strings.Contains(first, c.want) || strings.Contains(rest, "goroutine ") {
			t.Errorf("train %v: exit %d, %q; want an error with %q", c.args, r.code, r.stderr, c.want)
		}
	}
	if r := runCmd(t, testEnv(), append(base, "--hidden", "8")...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := runCmd(t, testEnv(), append([]string{"eval", "--model", out, "--data", data, "--tta"}, small...)...)
	if r.code != 2 || !strings.Contains(r.stderr, "--tta: ") {
		t.Errorf("eval --tta of an MLP: exit %d %q", r.code, r.stderr)
	}
}

// scripts/airbench.sh, airbench_muon.sh and airbench10.sh are commands
// nettrain takes: on random images, cut to a few iterations of small
// batches, they train and score the test split with TTA, leave the
// training split unscored, and pass their settings (airbench10.sh's own,
// and those of the script under it).
func TestAirbenchScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := nettrainBinary(t)
	data := fullSizeData(t) // the binary reads full-size batches
	run := func(script string, args ...string) trainrun.Config {
		out := filepath.Join(t.TempDir(), "a.npz")
		args = append([]string{filepath.Join("..", "..", "scripts", script), "--data", data, "--iters", "3",
			"--num-train", "150", "--num-val", "30", "--num-test", "20", "--out", out, "-q", "--json"}, args...)
		cmd := exec.Command("sh", args...)
		cmd.Env = append(os.Environ(), "NETTRAIN="+bin)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.Output()
		if err != nil {
			t.Fatalf("scripts/%s: %v %s", script, err, stderr.String())
		}
		var res struct {
			runResults
			Config trainrun.Config `json:"config"`
		}
		if err := json.Unmarshal(stdout, &res); err != nil {
			t.Fatal(err)
		}
		c := res.Config
		if !res.TTA || res.TestAcc == nil || res.TrainAcc != nil || !c.SkipTrainScore || !c.Whiten || c.BiasLR != 64 || !c.AlternateFlip {
			t.Errorf("%s: results %+v, config %+v", script, res.runResults, c)
		}
		return c
	}
	if c := run("airbench.sh", "--batch", "8", "--arch", recipeArch); c.Lookahead != 5 || c.LR != 1.5 || c.WhitenBiasEpochs != 3 || c.Schedule != "triangle" {
		t.Errorf("airbench.sh: config %+v", c)
	}
	if c := run("airbench_muon.sh", "--batch", "8", "--arch", recipeArch); c.Optimizer != "muon" || c.MuonLR != 0.12 || c.MuonMomentum != 0.7 ||
		c.Lookahead != 0 || c.LR != 0.83 || c.Schedule != "linear" || c.WhitenBiasEpochs != 3 || c.Matmul != "bf16" {
		t.Errorf("airbench_muon.sh: config %+v", c)
	}
	if c := run("airbench10.sh", "--batch", "16"); c.Arch != "airbench-half" || c.Optimizer != "muon" || c.Batch != 16 || c.Schedule != "linear" || c.Matmul != "bf16" {
		t.Errorf("airbench10.sh: config %+v", c)
	}
}
