package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	trainrun "github.com/nettrain/nettrain/internal/run"
	"github.com/nettrain/nettrain/internal/sweep"
)

// A net of two hidden layers, through every command: train (with every
// option that touches the layers), eval agreeing with train, a resumed
// run ending bit for bit on the uninterrupted one, --hidden that
// contradicts the checkpoint, gradcheck, predict and plot.
func TestDeepNetCommands(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	opts := []string{"--data", data, "--hidden", "16,12", "--batch", "10", "--lr", "1e-3", "--std", "1e-2", "--optimizer", "adam",
		"--dropout", "0.3", "--flip", "--preprocess", "channel", "--keep-best", "-q"}
	opts = append(opts, small...)
	full := filepath.Join(tmp, "full.npz")
	r := runCmd(t, testEnv(), append([]string{"train", "--iters", "40", "--out", full, "--json"}, opts...)...)
	if r.code != 0 {
		t.Fatalf("train: exit %d\n%s", r.code, r.stderr)
	}
	var res struct {
		Config map[string]any `json:"config"`
		ValAcc float64        `json:"val_acc"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if h, ok := res.Config["hidden"].([]any); !ok || len(h) != 2 || h[0] != 16.0 || h[1] != 12.0 {
		t.Errorf("--json config hidden %v, want [16 12]", res.Config["hidden"])
	}
	ck, err := checkpoint.Load(full)
	if err != nil {
		t.Fatal(err)
	}
	if s := ck.Net.Sizes(); !slices.Equal(s, []int{cifar.D, 16, 12, cifar.Classes}) {
		t.Fatalf("checkpoint layers %v", s)
	}
	for _, name := range []string{"train.W3", "best.b3", "opt.m.W3", "opt.v.b2"} {
		if _, ok := ck.Extra[name]; !ok {
			t.Errorf("the checkpoint lacks %s for resuming", name)
		}
	}
	meta, ok := trainrun.ReadMeta(ck.Meta)
	if !ok || !meta.Config.Hidden.Equal(trainrun.Hidden{16, 12}) {
		t.Errorf("metadata %s", ck.Meta)
	}

	part := checkEvalAndResume(t, data, opts, full, res.ValAcc)
	r = runCmd(t, testEnv(), "train", "--resume", part, "--iters", "40", "--data", data, "--hidden", "16", "--out", filepath.Join(tmp, "x.npz"))
	if first, _, _ := strings.Cut(r.stderr, "\n"); r.code != 2 || !strings.Contains(first, "--hidden 16 contradicts") || !strings.Contains(first, "--hidden 16,12") {
		t.Errorf("resume with another --hidden: exit %d, %q", r.code, r.stderr)
	}
	// An option the run did not have is a contradiction too (found by its
	// key: no list of options in the command); one it had is not.
	r = runCmd(t, testEnv(), "train", "--resume", part, "--iters", "40", "--data", data, "--weight-decay", "0.01", "--out", filepath.Join(tmp, "x.npz"))
	if first, _, _ := strings.Cut(r.stderr, "\n"); r.code != 2 || !strings.Contains(first, "--weight-decay 0.01 contradicts") || !strings.Contains(first, "--weight-decay 0 ") {
		t.Errorf("resume with --weight-decay: exit %d, %q", r.code, r.stderr)
	}
	r = runCmd(t, testEnv(), "train", "--resume", part, "--iters", "26", "--data", data, "--optimizer", "adam", "--dropout", "0.3", "--out", filepath.Join(tmp, "y.npz"), "-q")
	if r.code != 0 {
		t.Errorf("resume with the run's own --optimizer and --dropout: exit %d, %q", r.code, r.stderr)
	}

	// gradcheck of deep nets, on the toy problem and on images.
	for _, args := range [][]string{
		{"gradcheck", "--hidden", "8,6", "--json"},
		{"gradcheck", "--hidden", "8-6-5", "--dropout", "0.3", "--json"},
		{"gradcheck", "--hidden", "6,5", "--data", data, "--json"},
	} {
		r := runCmd(t, testEnv(), args...)
		var gc struct {
			OK     bool
			Params []struct{ Param string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &gc); err != nil || r.code != 0 || !gc.OK {
			t.Errorf("%v: exit %d, %v\n%s%s", args, r.code, err, r.stdout, r.stderr)
		}
		layers := strings.Count(args[2], ",") + strings.Count(args[2], "-") + 2
		if len(gc.Params) != 2*layers || gc.Params[len(gc.Params)-1].Param != "b"+string(rune('0'+layers)) {
			t.Errorf("%v: checked %+v, want W1..b%d", args, gc.Params, layers)
		}
	}

	// predict and plot take it.
	ds, err := testEnv().loader.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(tmp, "img.png")
	f, _ := os.Create(img)
	png.Encode(f, cifar.ToImage(ds.Test.Row(0)))
	f.Close()
	x := make([]float64, cifar.D)
	for j, p := range ds.Test.Row(0) {
		x[j] = float64(p) - ck.Mean[j]
	}
	want := cifar.DefaultClassNames[ck.Net.Predict(nil, nil, x)[0]]
	r = runCmd(t, testEnv(), "predict", "--model", full, "--top", "1", img)
	if fields := strings.Fields(r.stdout); r.code != 0 || len(fields) != 3 || fields[1] != want {
		t.Errorf("predict: exit %d %q, want class %s", r.code, r.stdout, want)
	}
	metrics := filepath.Join(tmp, "m.jsonl")
	if r := runCmd(t, testEnv(), append([]string{"train", "--iters", "15", "--out", filepath.Join(tmp, "m.npz"), "--metrics", metrics}, opts...)...); r.code != 0 {
		t.Fatalf("train --metrics: exit %d\n%s", r.code, r.stderr)
	}
	plots := filepath.Join(tmp, "plots")
	r = runCmd(t, testEnv(), "plot", metrics, "--model", full, "--out", plots)
	if _, err := os.Stat(filepath.Join(plots, "weights.png")); r.code != 0 || err != nil {
		t.Errorf("plot --model: exit %d, %v\n%s", r.code, err, r.stderr)
	}
}

// A sweep over nets of one and two hidden layers: both shapes are trained,
// the table names them as the flag takes them, and the best model is a
// checkpoint of its trial's shape.
func TestSweepDeepNets(t *testing.T) {
	data := fixtureDir(t)
	dir := filepath.Join(t.TempDir(), "sw")
	args := []string{"sweep", "--data", data, "--out", dir, "--num-train", "150", "--num-val", "30", "--num-test", "20",
		"--mode", "grid", "--hidden", "8,12-6", "--lr", "1e-4,1e-3", "--reg", "0.1", "--iters", "10", "--batch", "10", "--workers", "2", "--json", "-q"}
	r := runCmd(t, testEnv(), args...)
	if r.code != 0 {
		t.Fatalf("sweep: exit %d\n%s", r.code, r.stderr)
	}
	var sum sweep.Summary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || sum.OK != 4 || sum.Best == nil {
		t.Fatalf("summary %+v (%v)\n%s", sum, err, r.stdout)
	}
	shapes := map[string]int{}
	for _, res := range sum.Top {
		shapes[res.Config.Hidden.Dashed()]++
	}
	if shapes["8"] != 2 || shapes["12-6"] != 2 {
		t.Errorf("trials by shape %v, want two each of 8 and 12-6", shapes)
	}
	best, err := checkpoint.Load(filepath.Join(dir, "best.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if s := best.Net.Sizes(); !slices.Equal(s, sum.Best.Config.Hidden.Sizes(cifar.D, cifar.Classes)) {
		t.Errorf("best.npz layers %v, its trial's hidden %v", s, sum.Best.Config.Hidden)
	}
	// The plain table, from the results on disk.
	r = runCmd(t, testEnv(), "sweep", "report", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "hidden 12-6") || !strings.Contains(r.stdout, "hidden 8 ") {
		t.Errorf("report: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A choice that is not layers is one error line naming it.
	bad := append(slices.Clone(args[:len(args)-2]), "--hidden", "8,12-x")
	bad[4] = filepath.Join(t.TempDir(), "sw2")
	r = runCmd(t, testEnv(), bad...)
	if first, _, _ := strings.Cut(r.stderr, "\n"); r.code != 2 || !strings.Contains(first, "--hidden") || !strings.Contains(first, `"12-x"`) {
		t.Errorf("--hidden 8,12-x: exit %d %q", r.code, r.stderr)
	}
}

// checkEvalAndResume fails t unless eval of full, the checkpoint of a
// 40-iteration train with opts, scores valAcc as train reported, and a run
// of opts stopped at 25 iterations and resumed to 40 saves the same
// checkpoint, every array (weights, optimizer state, the arrays resuming
// needs) bit for bit. It returns the 25-iteration checkpoint.
func checkEvalAndResume(t *testing.T, data string, opts []string, full string, valAcc float64) (part string) {
	t.Helper()
	r := runCmd(t, testEnv(), "eval", "--model", full, "--data", data, "--json")
	var ev trainrun.Evaluation
	if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil || r.code != 0 || ev.Accuracy != valAcc {
		t.Errorf("eval: exit %d, accuracy %v, train said %v (%v)\n%s", r.code, ev.Accuracy, valAcc, err, r.stderr)
	}
	tmp := t.TempDir()
	part = filepath.Join(tmp, "part.npz")
	if r := runCmd(t, testEnv(), append([]string{"train", "--iters", "25", "--out", part}, opts...)...); r.code != 0 {
		t.Fatalf("train 25: exit %d\n%s", r.code, r.stderr)
	}
	resumed := filepath.Join(tmp, "resumed.npz")
	if r := runCmd(t, testEnv(), "train", "--resume", part, "--iters", "40", "--data", data, "--out", resumed, "-q"); r.code != 0 {
		t.Fatalf("resume: exit %d\n%s", r.code, r.stderr)
	}
	ck, err := checkpoint.Load(full)
	if err != nil {
		t.Fatal(err)
	}
	back, err := checkpoint.Load(resumed)
	if err != nil {
		t.Fatal(err)
	}
	for k, p := range ck.Net.Params() {
		if !slices.Equal(p, back.Net.Params()[k]) {
			t.Errorf("resumed: %s differs from the uninterrupted run", ck.Net.ParamNames()[k])
		}
	}
	for name, v := range ck.Extra {
		if !slices.Equal(v, back.Extra[name]) {
			t.Errorf("resumed: %s differs from the uninterrupted run", name)
		}
	}
	return part
}
