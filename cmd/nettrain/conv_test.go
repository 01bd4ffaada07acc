package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/gemm"
	trainrun "github.com/nettrain/nettrain/internal/run"
)

// convHash is weightsHash of a conv checkpoint: its parameters, running
// statistics and mean.
func convHash(t *testing.T, path string) string {
	t.Helper()
	ck, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Conv == nil {
		t.Fatalf("%s is not a conv net", path)
	}
	h := sha256.New()
	var b [8]byte
	put := func(v []float64) {
		for _, x := range v {
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(x))
			h.Write(b[:])
		}
	}
	for _, p := range ck.Conv.Params() {
		put(p.V)
	}
	for _, s := range ck.Conv.Stats() {
		put(s.V)
	}
	put(ck.Mean)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

const smallArch = "conv4k3-bn-relu-maxpool2-conv6k3s2nobias-gelu-gavgpool-fc10"

// train --arch trains a conv net, saves a checkpoint eval scores to the
// val_acc train printed, records the arch in the config, and gives the
// same bits for the same seed, on every GEMM kernel and thread count.
func TestConvTrainEval(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	train := func(name string, extra ...string) (string, result) {
		out := filepath.Join(tmp, name+".npz")
		args := append([]string{"train", "--data", data, "--arch", smallArch, "--iters", "12", "--batch", "10", "--lr", "1e-2", "--std", "0.1",
			"--optimizer", "adam", "--flip", "--translate", "2", "--label-smoothing", "0.1", "--out", out, "-q", "--json"}, small...)
		return out, runCmd(t, testEnv(), append(args, extra...)...)
	}
	path, r := train("a")
	if r.code != 0 {
		t.Fatalf("train: exit %d %s", r.code, r.stderr)
	}
	var res struct {
		runResults
		Config trainrun.Config `json:"config"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.Config.Arch != smallArch || res.Iters != 12 || math.IsNaN(res.FinalLoss) {
		t.Errorf("results %+v", res)
	}
	r = runCmd(t, testEnv(), append([]string{"eval", "--model", path, "--data", data, "--json"}, small...)...)
	var ev trainrun.Evaluation
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &ev) != nil {
		t.Fatalf("eval: exit %d %s", r.code, r.stderr)
	}
	if ev.Accuracy != res.ValAcc {
		t.Errorf("eval says %v, train said %v", ev.Accuracy, res.ValAcc)
	}
	want := convHash(t, path)
	defer gemm.Use(gemm.Kernels()[0])
	for _, k := range gemm.Kernels() {
		for _, threads := range []string{"1", "2"} {
			if err := gemm.Use(k); err != nil {
				t.Fatal(err)
			}
			p, r := train("b", "--threads", threads)
			if r.code != 0 {
				t.Fatal(r.stderr)
			}
			if got := convHash(t, p); got != want {
				t.Errorf("kernel %s, %s threads: weights hash %s, first run %s", k, threads, got, want)
			}
		}
	}
	if p, r := train("f64", "--precision", "float64"); r.code != 0 || convHash(t, p) == want {
		t.Errorf("float64: exit %d %s, or the same bits as float32", r.code, r.stderr)
	}
}

// What conv nets cannot do yet, and nonsense archs, are one line each.
func TestConvRefusals(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "m.npz")
	base := append([]string{"train", "--data", data, "--iters", "2", "--batch", "5", "--out", out, "-q"}, small...)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--arch", "conv8k3-relu-maxpoo2-fc10"}, 2, `--arch layer 3 "maxpoo2" (character 14): unknown layer`},
		{[]string{"--arch", "conv8k40p0-fc10"}, 2, `--arch layer 1 "conv8k40p0" on 3x32x32 inputs: a 40x40 kernel does not fit`},
		{[]string{"--arch", "conv8k3-fc7"}, 2, "--arch the net ends in 7x1x1 outputs, not 10 class scores"},
		{[]string{"--arch", smallArch, "--hidden", "20"}, 2, "--hidden is the fully connected net's; --arch"},
		{[]string{"--arch", smallArch, "--norm", "batch"}, 2, "--norm is the fully connected net's"},
		{[]string{"--arch", smallArch, "--dropout", "0.5"}, 2, "--dropout is the fully connected net's"},
		{[]string{"--arch", smallArch, "--preprocess", "zca"}, 2, "--preprocess zca: a convolutional net takes --preprocess mean only so far"},
	} {
		r := runCmd(t, testEnv(), append(base, c.args...)...)
		first, _, _ := strings.Cut(r.stderr, "\n")
		if r.code != c.code || !strings.Contains(first, c.want) {
			t.Errorf("train %v: exit %d, %q; want %d and %q", c.args, r.code, first, c.code, c.want)
		}
	}
	if r := runCmd(t, testEnv(), append(base, "--arch", smallArch)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--resume", out, "--data", data, "--iters", "4", "--arch", "cs231n-convnet"}, "--arch cs231n-convnet contradicts --resume"},
		{append([]string{"sweep", "--data", data, "--out", filepath.Join(tmp, "sw"), "--arch", smallArch, "--hidden", "20,30"}, smallSweep...), "--hidden is the fully connected net's; a sweep of --arch"},
	} {
		r := runCmd(t, testEnv(), c.args...)
		first, rest, _ := strings.Cut(r.stderr, "\n")
		if r.code == 0 || !strings.HasPrefix(first, "nettrain: ") || !strings.Contains(first, c.want) || strings.Contains(rest, "goroutine ") {
			t.Errorf("%v: exit %d, %q; want one line with %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// predict takes a conv net: for PNGs of test images, its most probable
// class is the one eval's scoring gives, and the probabilities sum to 1.
func TestConvPredict(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "m.npz")
	if r := runCmd(t, testEnv(), append([]string{"train", "--data", data, "--arch", smallArch, "--iters", "20", "--batch", "10", "--lr", "1e-2", "--std", "0.1", "--optimizer", "adam", "-q", "--out", out}, small...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	ck, err := checkpoint.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := testEnv().loader.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	n := 6
	want := trainrun.PredictConv(ck.Conv, ds.Test.Slice(0, n), ck.Mean, "", false)
	var paths []string
	for i := range n {
		var buf bytes.Buffer
		png.Encode(&buf, cifar.ToImage(ds.Test.Row(i)))
		paths = append(paths, writeFile(t, tmp, fmt.Sprintf("img%d.png", i), buf.String()))
	}
	r := runCmd(t, testEnv(), append([]string{"predict", "--model", out, "--json", "--top", "10"}, paths...)...)
	var got []prediction
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 || len(got) != n {
		t.Fatalf("predict --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	for i, p := range got {
		sum := 0.0
		for _, cp := range p.Top {
			sum += cp.Probability
		}
		if p.Top[0].Index != int(want[i]) || math.Abs(sum-1) > 1e-9 {
			t.Errorf("%s: top class %d (sum of probabilities %v), eval's %d", p.Image, p.Top[0].Index, sum, want[i])
		}
	}
}

// The README's PyTorch snippet, as written, builds cs231n-convnet from a
// checkpoint and prints the accuracy nettrain eval prints (float64).
// Skips without python3-torch.
func TestReadmeTorchSnippet(t *testing.T) {
	var py string
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if path, err := exec.LookPath(p); err == nil && exec.Command(path, "-c", "import torch, numpy").Run() == nil {
			py = path
			break
		}
	}
	if py == "" {
		t.Skip("no python3 with torch and numpy (apt-get install python3-torch)")
	}
	data := fixtureDir(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "convnet.npz")
	if r := runCmd(t, testEnv(), append([]string{"train", "--data", data, "--arch", "cs231n-convnet", "--iters", "8", "--batch", "10", "--optimizer", "adam", "--lr", "1e-3", "--std", "1e-3", "-q", "--out", out}, small...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	ds, err := testEnv().loader.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, testEnv(), "eval", "--model", out, "--data", data, "--split", "test", "--num-test", itoa(ds.Test.N()), "--precision", "float64", "--json",
		"--num-train", "150", "--num-val", "30")
	var ev trainrun.Evaluation
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &ev) != nil {
		t.Fatalf("eval: exit %d %s", r.code, r.stderr)
	}
	src := readmeBlock(t, "`nettrain eval` scores it, and PyTorch builds the same net from it:", "python")
	src = strings.NewReplacer(`"convnet.npz"`, strconv.Quote(out), `"data/cifar-10-batches-bin/test_batch.bin"`, strconv.Quote(filepath.Join(data, "test_batch.bin"))).Replace(src)
	cmd := exec.Command(py, "-c", src)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	got, err := cmd.CombinedOutput()
	if want := fmt.Sprintf("accuracy %.4f on %d images\n", ev.Accuracy, ds.Test.N()); err != nil || string(got) != want {
		t.Errorf("the README's PyTorch snippet: %v, printed %q, want %q", err, got, want)
	}
}

// A conv run resumed, or saved on the way, ends with the bits of the run
// that never stopped: optimizer state, keep-best's best and last weights,
// batch norm's running statistics and the dropout layers' draws carry
// over.
func TestConvResumeBitForBit(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	for _, arch := range []string{smallArch, "conv4k3-relu-dropout0.3-maxpool2-bn-fc10", "cs231n-convnet"} {
		if testing.Short() && arch == "cs231n-convnet" {
			continue
		}
		flags := []string{"--arch", arch, "--batch", "10", "--lr", "1e-2", "--std", "0.05", "--optimizer", "adam", "--keep-best", "--flip", "-q"}
		train := func(name string, extra ...string) string {
			out := filepath.Join(tmp, name+".npz")
			args := append(append([]string{"train", "--data", data, "--out", out}, small...), flags...)
			if r := runCmd(t, testEnv(), append(args, extra...)...); r.code != 0 {
				t.Fatalf("%s %s: exit %d %s", arch, name, r.code, r.stderr)
			}
			return out
		}
		full := convHash(t, train("full", "--iters", "40"))
		half := train("half", "--iters", "23")
		if r := runCmd(t, testEnv(), "train", "--resume", half, "--data", data, "--iters", "40", "-q"); r.code != 0 {
			t.Fatalf("%s: resume: exit %d %s", arch, r.code, r.stderr)
		}
		if got := convHash(t, half); got != full {
			t.Errorf("%s: resumed run %s, uninterrupted %s", arch, got, full)
		}
		if got := convHash(t, train("saved", "--iters", "40", "--save-every", "7")); got != full {
			t.Errorf("%s: with --save-every %s, without %s", arch, got, full)
		}
	}
}

// train --plots and plot --model draw a conv net's first-layer filters as
// weights.png: cs231n-convnet's 32 filters of 7x7 in a 6x6 grid of 42-pixel
// tiles.
func TestConvPlots(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	out, metrics, dir := filepath.Join(tmp, "m.npz"), filepath.Join(tmp, "m.jsonl"), filepath.Join(tmp, "plots")
	if r := runCmd(t, testEnv(), append([]string{"train", "--data", data, "--arch", "cs231n-convnet", "--iters", "4", "--batch", "10", "--std", "1e-2", "-q",
		"--out", out, "--metrics", metrics, "--plots", dir}, small...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	again := filepath.Join(tmp, "again")
	if r := runCmd(t, testEnv(), "plot", metrics, "--model", out, "--out", again); r.code != 0 {
		t.Fatal(r.stderr)
	}
	for _, d := range []string{dir, again} {
		f, err := os.Open(filepath.Join(d, "weights.png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != (6*7+5)*6 || b.Dy() != b.Dx() {
			t.Errorf("%s: weights.png is %v, want %d pixels a side", d, b, (6*7+5)*6)
		}
	}
}

// gradcheck --arch on the toy problem: every layer kind in one net passes,
// --json reports each parameter, and options of the MLP's are refused.
func TestConvGradcheck(t *testing.T) {
	arch := "conv4k3-bn-relu-maxpool2-conv5k3s2p1nobias-gelu-avgpool2-bn-dropout0.3-fc10-scale1/9"
	r := runCmd(t, testEnv(), "gradcheck", "--arch", arch, "--num-inputs", "3", "--json")
	var res struct {
		OK     bool `json:"ok"`
		Params []struct {
			Param   string  `json:"param"`
			Entries int     `json:"entries"`
			MaxRel  float64 `json:"max_rel_error"`
		} `json:"params"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || !res.OK {
		t.Fatalf("gradcheck --arch: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var names []string
	for _, p := range res.Params {
		names = append(names, p.Param)
		if p.Entries == 0 || p.MaxRel > 1e-7 {
			t.Errorf("%s: %d entries, max relative error %v", p.Param, p.Entries, p.MaxRel)
		}
	}
	if got := strings.Join(names, " "); got != "W1 b1 gamma1 beta1 W2 gamma2 beta2 W3 b3" {
		t.Errorf("parameters %s", got)
	}
	if r := runCmd(t, testEnv(), "gradcheck", "--arch", "conv4k3-fc10", "--norm", "batch"); r.code != 2 || !strings.Contains(r.stderr, "--norm is the fully connected net's") {
		t.Errorf("--arch with --norm: exit %d %s", r.code, r.stderr)
	}
	if r := runCmd(t, testEnv(), "gradcheck", "--arch", "conv4k3-maxpoo2-fc10"); r.code != 2 || !strings.Contains(r.stderr, `--arch layer 2 "maxpoo2"`) {
		t.Errorf("a bad arch: exit %d %s", r.code, r.stderr)
	}
}

// A sweep of a conv net: every trial trains the arch (hidden is the MLP's
// and not searched), successive halving carries promoted trials on from
// their checkpoints, the best model is a conv checkpoint, --test scores
// it, and report merges it again.
func TestConvSweep(t *testing.T) {
	data := fixtureDir(t)
	sw := filepath.Join(t.TempDir(), "sw")
	args := append([]string{"sweep", "--data", data, "--out", sw, "--arch", smallArch, "--trials", "3", "--iters", "12", "--batch", "10",
		"--lr", "1e-3:1e-2", "--std", "0.05", "--optimizer", "adam", "--halving", "--halving-eta", "2", "--test", "--json", "-q"}, small...)
	r := runCmd(t, testEnv(), args...)
	var sum struct {
		Trials  int      `json:"trials"`
		OK      int      `json:"ok"`
		TestAcc *float64 `json:"test_acc"`
		Top     []struct {
			Config struct {
				Arch   string `json:"arch"`
				Hidden any    `json:"hidden"`
			} `json:"config"`
		} `json:"top"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &sum) != nil {
		t.Fatalf("sweep: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if sum.OK == 0 || sum.TestAcc == nil || len(sum.Top) == 0 || sum.Top[0].Config.Arch != smallArch {
		t.Errorf("summary %+v", sum)
	}
	ck, err := checkpoint.Load(filepath.Join(sw, "best.npz"))
	if err != nil || ck.Conv == nil || !trainrun.HoldsArch(ck.Conv, smallArch, true) {
		t.Fatalf("best.npz: %v (conv %v), want a net of %s", err, ck != nil && ck.Conv != nil, smallArch)
	}
	if r := runCmd(t, testEnv(), "sweep", "report", sw); r.code != 0 || !strings.Contains(r.stdout, "arch "+smallArch) {
		t.Errorf("report: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// sweep --arch A,B searches the arch too: in a grid every arch meets every
// other value, successive halving carries each trial on in its own arch,
// best.npz is the best trial's net, and a YAML list is the same space. A
// bad choice is refused naming it.
func TestConvSweepArchChoices(t *testing.T) {
	data := fixtureDir(t)
	const other = "conv3k3p0-relu-gmaxpool-fc10"
	sw := filepath.Join(t.TempDir(), "sw")
	args := append([]string{"sweep", "--data", data, "--out", sw, "--arch", smallArch + "," + other, "--mode", "grid",
		"--lr", "1e-3,1e-2", "--reg", "0", "--iters", "12", "--batch", "10", "--std", "0.05", "--optimizer", "adam",
		"--halving", "--halving-eta", "2", "--json", "-q"}, small...)
	r := runCmd(t, testEnv(), args...)
	var sum struct {
		Trials int `json:"trials"`
		OK     int `json:"ok"`
		Top    []struct {
			Trial  int     `json:"trial"`
			ValAcc float64 `json:"val_acc"`
			Config struct {
				Arch string  `json:"arch"`
				LR   float64 `json:"lr"`
			} `json:"config"`
		} `json:"top"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &sum) != nil {
		t.Fatalf("sweep: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if sum.Trials != 4 {
		t.Errorf("%d trials, want 2 archs x 2 rates", sum.Trials)
	}
	seen := map[string]int{}
	for _, tr := range sum.Top {
		seen[tr.Config.Arch]++
	}
	if seen[smallArch] == 0 || seen[other] == 0 {
		t.Errorf("the trials' archs %v, want both", seen)
	}
	// A rung resumes its trial's checkpoint only if it is of the trial's
	// arch: every trial ok means each carried on in its own.
	if sum.OK != sum.Trials {
		t.Errorf("%d of %d trials ok", sum.OK, sum.Trials)
	}
	ck, err := checkpoint.Load(filepath.Join(sw, "best.npz"))
	if err != nil || ck.Conv == nil || !trainrun.HoldsArch(ck.Conv, sum.Top[0].Config.Arch, true) {
		t.Fatalf("best.npz: %v, want the best trial's arch %s", err, sum.Top[0].Config.Arch)
	}
	// The same space from a file, the archs as a YAML list: the sweep
	// resumes it (a different space would be refused).
	cfg := filepath.Join(t.TempDir(), "space.yaml")
	os.WriteFile(cfg, []byte("arch: ["+smallArch+", "+other+"]\nlr: [1e-3, 1e-2]\n"), 0o644)
	args2 := append([]string{"sweep", "--data", data, "--out", sw, "--config", cfg, "--mode", "grid", "--reg", "0", "--iters", "12", "--batch", "10",
		"--std", "0.05", "--optimizer", "adam", "--halving", "--halving-eta", "2", "-q"}, small...)
	if r := runCmd(t, testEnv(), args2...); r.code != 0 {
		t.Errorf("the same space from YAML: exit %d\n%s", r.code, r.stderr)
	}
	for _, bad := range []struct{ arch, want string }{
		{smallArch + ",conv4k3-relu-maxpoo2-fc10", `"maxpoo2"`},
		{smallArch + "," + smallArch, "twice"},
		{smallArch + ",", "empty"},
	} {
		r := runCmd(t, testEnv(), append([]string{"sweep", "--data", data, "--out", filepath.Join(t.TempDir(), "x"), "--arch", bad.arch, "--trials", "2", "-q"}, small...)...)
		if r.code != 2 || !strings.Contains(r.stderr, bad.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 2 {
			t.Errorf("--arch %q: exit %d, stderr %q, want 2 and %s", bad.arch, r.code, r.stderr, bad.want)
		}
	}
	// train takes one net.
	r = runCmd(t, testEnv(), append([]string{"train", "--data", data, "--out", filepath.Join(t.TempDir(), "m.npz"), "--arch", smallArch + "," + other}, small...)...)
	if r.code != 2 || !strings.Contains(r.stderr, "several nets") {
		t.Errorf("train --arch A,B: exit %d, stderr %q", r.code, r.stderr)
	}
}

// A conv net's batch norms are folded into the convolutions before them
// in the checkpoint (one after a max pool too, its scales positive), as
// the MLP's are: eval scores the folded net to train's val_acc, and the
// net as trained is kept for --resume.
func TestConvCheckpointFoldsBatchNorm(t *testing.T) {
	data := fixtureDir(t)
	out := filepath.Join(t.TempDir(), "m.npz")
	const arch = "conv4k3nobias-bn-relu-maxpool2-conv6k3s2nobias-maxpool2-bn-gelu-gavgpool-fc10"
	r := runCmd(t, testEnv(), append([]string{"train", "--data", data, "--arch", arch, "--iters", "6", "--batch", "10", "--lr", "1e-2", "--std", "0.1",
		"--optimizer", "adam", "--out", out, "-q", "--json"}, small...)...)
	if r.code != 0 {
		t.Fatalf("train: exit %d %s", r.code, r.stderr)
	}
	ck, err := checkpoint.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ck.Conv.Arch.String(), "conv4k3-relu-maxpool2-conv6k3s2-maxpool2-gelu-gavgpool-fc10"; got != want {
		t.Errorf("checkpoint arch %s, want %s", got, want)
	}
	for _, name := range []string{"train.W1", "train.gamma1", "train.running_var2", "train.W3"} {
		if ck.Extra[name] == nil {
			t.Errorf("no %s for --resume", name)
		}
	}
	var tr struct {
		ValAcc float64 `json:"val_acc"`
	}
	json.Unmarshal([]byte(r.stdout), &tr)
	ev := runCmd(t, testEnv(), append([]string{"eval", "--data", data, "--model", out, "--json"}, small...)...)
	var e trainrun.Evaluation
	if ev.code != 0 || json.Unmarshal([]byte(ev.stdout), &e) != nil || e.Accuracy != tr.ValAcc {
		t.Errorf("eval: exit %d, accuracy %v, train printed val_acc %v\n%s", ev.code, e.Accuracy, tr.ValAcc, ev.stderr)
	}
	if r := runCmd(t, testEnv(), append([]string{"train", "--resume", out, "--data", data, "--iters", "8", "--out", filepath.Join(t.TempDir(), "r.npz"), "-q"}, small...)...); r.code != 0 {
		t.Errorf("resume: exit %d %s", r.code, r.stderr)
	}
}

// --skip-train-score leaves train_acc out of the results (and the
// checkpoint's), and changes nothing else: the same weights and val_acc,
// for a conv net and for the MLP.
func TestSkipTrainScore(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	for _, net := range [][]string{{"--arch", smallArch, "--std", "0.1"}, {"--hidden", "20"}} {
		var hashes [2]string
		var vals [2]any
		for i, skip := range []bool{false, true} {
			out := filepath.Join(tmp, fmt.Sprintf("%s-%v.npz", net[1], skip))
			args := append([]string{"train", "--data", data, "--iters", "6", "--batch", "10", "--lr", "1e-2", "--out", out, "-q", "--json"}, small...)
			args = append(args, net...)
			if skip {
				args = append(args, "--skip-train-score")
			}
			r := runCmd(t, testEnv(), args...)
			if r.code != 0 {
				t.Fatalf("%v: exit %d %s", args, r.code, r.stderr)
			}
			var res map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
				t.Fatal(err)
			}
			acc, has := res["train_acc"].(float64)
			if has == skip || (has && (acc < 0 || acc > 1)) {
				t.Errorf("%s skip %v: train_acc %v in %s", net[1], skip, res["train_acc"], r.stdout)
			}
			ck, err := checkpoint.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			meta, err := trainrun.ParseMeta(ck.Meta)
			if err != nil || meta.Results == nil || (meta.Results.TrainAcc == nil) != skip {
				t.Errorf("%s skip %v: the checkpoint's results %+v (%v)", net[1], skip, meta.Results, err)
			}
			vals[i] = res["val_acc"]
			if ck.Conv != nil {
				hashes[i] = convHash(t, out)
			} else {
				hashes[i] = weightsHash(t, out)
			}
		}
		if vals[0] != vals[1] || hashes[0] != hashes[1] {
			t.Errorf("%s: val_acc %v and %v, weights %s and %s, with and without --skip-train-score", net[1], vals[0], vals[1], hashes[0], hashes[1])
		}
	}
}
