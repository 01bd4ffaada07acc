package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
	"github.com/nettrain/nettrain/internal/gemm"
	"github.com/nettrain/nettrain/internal/model"
	trainrun "github.com/nettrain/nettrain/internal/run"
)

// fixturePer is the records per batch file of the command tests' dataset:
// 200 training and 40 test images.
const fixturePer = 40

func testEnv() env {
	return env{
		getenv:     func(string) string { return "" },
		isTerminal: func(io.Writer) bool { return false },
		loader:     cifar.Loader{RecordsPerBatch: fixturePer},
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, e env, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb, e)
	r := result{code, out.String(), errb.String()}
	if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("nettrain %s: stack trace on stderr:\n%s", strings.Join(args, " "), r.stderr)
	}
	return r
}

func fixtureDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cifartest.WriteDir(t, dir, fixturePer, 11)
	return dir
}

// small are the split flags that fit the fixture.
var small = []string{"--num-train", "150", "--num-val", "30", "--num-test", "20"}

func TestTrainThenEval(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "m.npz")
	metrics := filepath.Join(tmp, "m.jsonl")
	args := append([]string{"train", "--data", data, "--hidden", "20", "--lr", "1e-4", "--iters", "30", "--batch", "25",
		"--out", out, "--metrics", metrics, "--test", "--json"}, small...)
	r := runCmd(t, testEnv(), args...)
	if r.code != 0 {
		t.Fatalf("train: exit %d\n%s", r.code, r.stderr)
	}
	var res struct {
		Config    map[string]any `json:"config"`
		FinalLoss *float64       `json:"final_loss"`
		TrainAcc  *float64       `json:"train_acc"`
		ValAcc    *float64       `json:"val_acc"`
		TestAcc   *float64       `json:"test_acc"`
		Model     string         `json:"model"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("--json output is not one JSON object: %v\n%s", err, r.stdout)
	}
	if res.FinalLoss == nil || res.TrainAcc == nil || res.ValAcc == nil || res.TestAcc == nil || res.Config["hidden"] != 20.0 || res.Model != out {
		t.Errorf("--json output lacks keys: %s", r.stdout)
	}
	// Epoch lines on stderr (not a terminal): 150/25 = 6 iterations an epoch.
	if n := strings.Count(r.stderr, "\nepoch "); n != 5 {
		t.Errorf("stderr has %d epoch lines, want 5:\n%s", n, r.stderr)
	}

	// Metrics: start, 30 iterations, 5 epochs, end, each a JSON object.
	b, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for line := range strings.Lines(string(b)) {
		var ev struct{ Event string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		counts[ev.Event]++
	}
	if counts["start"] != 1 || counts["iter"] != 30 || counts["epoch"] != 5 || counts["end"] != 1 {
		t.Errorf("metrics events %v", counts)
	}

	// eval scores the saved model with the same split and gets the same accuracy.
	for _, split := range []struct {
		name string
		acc  float64
	}{{"val", *res.ValAcc}, {"test", *res.TestAcc}, {"train", *res.TrainAcc}} {
		r = runCmd(t, testEnv(), "eval", "--model", out, "--data", data, "--split", split.name, "--json")
		if r.code != 0 {
			t.Fatalf("eval: exit %d\n%s", r.code, r.stderr)
		}
		var ev trainrun.Evaluation
		if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil {
			t.Fatal(err)
		}
		wantN := map[string]int{"val": 30, "test": 20, "train": 150}[split.name]
		if ev.Accuracy != split.acc || ev.N != wantN {
			t.Errorf("eval --split %s: accuracy %v on %d images, train said %v on %d", split.name, ev.Accuracy, ev.N, split.acc, wantN)
		}
		total, correct := 0, 0
		for k, row := range ev.Confusion {
			for _, v := range row {
				total += v
			}
			correct += row[k]
			if ev.PerClass[k].Correct != row[k] {
				t.Errorf("per_class[%d] disagrees with the confusion matrix", k)
			}
		}
		if total != ev.N || float64(correct)/float64(total) != ev.Accuracy {
			t.Errorf("confusion matrix sums to %d with %d correct; n %d accuracy %v", total, correct, ev.N, ev.Accuracy)
		}
	}

	// Plain output: the accuracy line, per-class table and confusion matrix.
	r = runCmd(t, testEnv(), "eval", "--model", out, "--data", data)
	if r.code != 0 || !strings.Contains(r.stdout, "val split: 30 images, accuracy") || !strings.Contains(r.stdout, "confusion matrix") || !strings.Contains(r.stdout, "automobile") {
		t.Errorf("eval: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The checkpoint's metadata holds the config and results.
	ck, err := checkpoint.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	var meta runMeta
	if err := json.Unmarshal(ck.Meta, &meta); err != nil || !meta.Config.Hidden.Equal(trainrun.Hidden{20}) || meta.Results.ValAcc != *res.ValAcc || len(meta.Epochs) != 5 {
		t.Errorf("meta %s (err %v)", ck.Meta, err)
	}
}

func TestTrainPlainOutput(t *testing.T) {
	data := fixtureDir(t)
	out := filepath.Join(t.TempDir(), "m.npz")
	r := runCmd(t, testEnv(), append([]string{"train", "--data", data, "--iters", "5", "--batch", "10", "--out", out, "--quiet"}, small...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "val_acc 0.") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("stdout %q, want one val_acc line", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("--quiet printed on stderr: %q", r.stderr)
	}
}

// The same seed gives the same model, bit for bit.
func TestTrainReproducible(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	for _, name := range []string{"a.npz", "b.npz"} {
		r := runCmd(t, testEnv(), append([]string{"train", "--data", data, "--iters", "12", "--batch", "10", "--seed", "3", "--out", filepath.Join(tmp, name), "-q"}, small...)...)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	}
	a, _ := checkpoint.Load(filepath.Join(tmp, "a.npz"))
	b, _ := checkpoint.Load(filepath.Join(tmp, "b.npz"))
	for k, p := range a.Net.Params() {
		for i := range p {
			if p[i] != b.Net.Params()[k][i] {
				t.Fatalf("%s[%d] differs between two runs with --seed 3", model.ParamNames(2, "")[k], i)
			}
		}
	}
}

func TestGradcheckCommand(t *testing.T) {
	r := runCmd(t, testEnv(), "gradcheck")
	if r.code != 0 || !strings.Contains(r.stdout, "W1") || !strings.Contains(r.stdout, "ok:") {
		t.Errorf("gradcheck: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCmd(t, testEnv(), "gradcheck", "--reg", "0", "--json")
	var res struct {
		OK     bool
		Params []struct {
			Param     string
			Entries   int
			Kinks     int
			MaxRelErr float64 `json:"max_rel_error"`
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 || !res.OK || len(res.Params) != 4 || res.Params[0].Entries+res.Params[0].Kinks != 40 {
		t.Errorf("gradcheck --json: exit %d, %+v, %v\n%s", r.code, res, err, r.stdout)
	}
	// An impossible tolerance fails the check: exit 1, one error line.
	r = runCmd(t, testEnv(), "gradcheck", "--tol", "1e-300")
	if r.code != 1 || !strings.Contains(r.stderr, "gradient check failed") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("gradcheck --tol 1e-300: exit %d, stderr %q", r.code, r.stderr)
	}
	// Real-image mode on the fixture, at the defaults, for seeds 0..9.
	for seed := range 10 {
		r = runCmd(t, testEnv(), "gradcheck", "--data", fixtureDir(t), "--seed", fmt.Sprint(seed))
		if r.code != 0 || !strings.Contains(r.stdout, "D=3072") || !strings.Contains(r.stdout, "ok:") {
			t.Errorf("gradcheck --data --seed %d: exit %d\n%s%s", seed, r.code, r.stdout, r.stderr)
		}
	}
	r = runCmd(t, testEnv(), "gradcheck", "--step", "0")
	if r.code != 2 || !strings.Contains(r.stderr, "--step is 0") {
		t.Errorf("gradcheck --step 0: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestVersion(t *testing.T) {
	r := runCmd(t, testEnv(), "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "nettrain ") {
		t.Errorf("version: exit %d, %q", r.code, r.stdout)
	}
	want := fmt.Sprintf("GEMM: %s kernel, %d threads", gemm.Kernel(), gemm.Threads())
	if !strings.Contains(r.stdout, want) {
		t.Errorf("version does not say %q:\n%s", want, r.stdout)
	}
	r = runCmd(t, testEnv(), "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "bash completion") {
		t.Errorf("completion bash: exit %d", r.code)
	}
}

func TestDataDirFromEnv(t *testing.T) {
	data := fixtureDir(t)
	e := testEnv()
	e.getenv = func(k string) string {
		if k == "NETTRAIN_DATA" {
			return data
		}
		return ""
	}
	r := runCmd(t, e, append([]string{"train", "--iters", "2", "--batch", "5", "-q", "--out", filepath.Join(t.TempDir(), "m.npz")}, small...)...)
	if r.code != 0 {
		t.Errorf("train with $NETTRAIN_DATA: exit %d %s", r.code, r.stderr)
	}
	if got := dataDir("", testEnv()); got != "data/cifar-10-batches-bin" {
		t.Errorf("default data dir %q", got)
	}
}

// Training on the Python version or on the packed archive gives the same
// model, bit for bit, as on the binary directory.
func TestTrainOnEveryFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 31))
	train, test := cifartest.RandomSet(5*fixturePer, rng), cifartest.RandomSet(fixturePer, rng)
	root := t.TempDir()
	cifartest.WriteFiles(t, filepath.Join(root, "bin"), cifartest.Files(train, test, fixturePer, false))
	cifartest.WriteFiles(t, filepath.Join(root, "py"), cifartest.Files(train, test, fixturePer, true))
	os.WriteFile(filepath.Join(root, "c.tar.gz"), cifartest.TarGz("cifar-10-batches-bin", cifartest.Files(train, test, fixturePer, false)), 0o644)
	var first *checkpoint.Checkpoint
	for _, data := range []string{"bin", "py", "c.tar.gz"} {
		out := filepath.Join(root, data+".npz")
		r := runCmd(t, testEnv(), append([]string{"train", "--data", filepath.Join(root, data), "--iters", "8", "--batch", "10", "-q", "--out", out}, small...)...)
		if r.code != 0 {
			t.Fatalf("--data %s: exit %d: %s", data, r.code, r.stderr)
		}
		ck, _ := checkpoint.Load(out)
		if first == nil {
			first = ck
			continue
		}
		for k, p := range ck.Net.Params() {
			if !equalBits(p, first.Net.Params()[k]) {
				t.Errorf("--data %s: %s differs from the binary directory's model", data, model.ParamNames(2, "")[k])
			}
		}
	}
}

// Every preprocessing and option through the command: the saved model
// (preprocessing folded into W1) scores in eval what train printed, and
// carries the state train --resume needs.
func TestTrainOptions(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	cases := [][]string{
		{"--preprocess", "channel", "--optimizer", "adam", "--lr", "1e-3", "--dropout", "0.2", "--flip", "--keep-best"},
		{"--optimizer", "momentum", "--schedule", "cosine", "--lr", "1e-5", "--patience", "2"},
		{"--preprocess", "zca", "--optimizer", "nesterov", "--lr", "0.01", "--schedule", "cosine", "--flip"},
	}
	for i, extra := range cases {
		out := filepath.Join(tmp, fmt.Sprintf("m%d.npz", i))
		args := append(append([]string{"train", "--data", data, "--iters", "30", "--batch", "10", "--hidden", "12", "--std", "1e-2", "-q", "--json", "--out", out}, small...), extra...)
		r := runCmd(t, testEnv(), args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d %s", extra, r.code, r.stderr)
		}
		var res runResults
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Iters != 30 {
			t.Fatalf("%v: --json output %q: %v", extra, r.stdout, err)
		}
		r = runCmd(t, testEnv(), "eval", "--model", out, "--data", data, "--json")
		var ev trainrun.Evaluation
		if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil || ev.Accuracy != res.ValAcc {
			t.Errorf("%v: eval %v, train said %v (%v %s)", extra, ev.Accuracy, res.ValAcc, err, r.stderr)
		}
		ck, err := checkpoint.Load(out)
		if err != nil {
			t.Fatalf("%v: %v", extra, err)
		}
		var meta runMeta
		if err := json.Unmarshal(ck.Meta, &meta); err != nil {
			t.Fatalf("%v: metadata: %v", extra, err)
		}
		if string(meta.Config.Optimizer) != extra[slices.Index(extra, "--optimizer")+1] {
			t.Errorf("%v: meta config %+v", extra, meta.Config)
		}
		if slices.Contains(extra, "--preprocess") || slices.Contains(extra, "--keep-best") {
			if _, ok := ck.Extra["train.W1"]; !ok {
				t.Errorf("%v: no train.W1 for resuming", extra)
			}
		}
		if o := meta.Config.Optimizer; o != "sgd" && len(ck.Extra["opt.v.W1"]) != 3072*12 {
			t.Errorf("%v: optimizer state %d numbers", extra, len(ck.Extra["opt.v.W1"]))
		}
		// Training longer from the finished model works with the same options.
		r = runCmd(t, testEnv(), "train", "--resume", out, "--data", data, "--iters", "40", "-q", "--out", filepath.Join(tmp, fmt.Sprintf("r%d.npz", i)))
		if r.code != 0 {
			t.Errorf("%v: resume: exit %d %s", extra, r.code, r.stderr)
		}
	}
}

// equalBits reports whether a and b hold the same float64 values, bit for bit.
func equalBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}
