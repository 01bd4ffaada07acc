package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/model"
	trainrun "github.com/nettrain/nettrain/internal/run"
)

// onnxRuntime returns the directory of tools/onnxruntime, where npm ci
// --ignore-scripts installs onnxruntime-node, or skips the test when node
// or the package is not there.
func onnxRuntime(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "tools", "onnxruntime")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; install nodejs and run 'make onnx-deps' to run the onnxruntime checks")
	}
	if out, err := exec.Command(node, "-e", "require('"+filepath.Join(dir, "node_modules", "onnxruntime-node")+"')").CombinedOutput(); err != nil {
		t.Skipf("onnxruntime-node is not installed in %s ('make onnx-deps' installs it): %s", dir, firstLine(string(out)))
	}
	return dir
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// onnxChecker returns a python3 that imports onnx, or "" if none.
func onnxChecker() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if p, err := exec.LookPath(py); err == nil && exec.Command(p, "-c", "import onnx").Run() == nil {
			return p
		}
	}
	return ""
}

// scoreONNX runs the ONNX model with onnxruntime on the images of set and
// returns its probabilities, row by row.
func scoreONNX(t *testing.T, ort, model string, set cifar.Set) []float64 {
	t.Helper()
	dir := t.TempDir()
	raw := make([]byte, 4*len(set.X))
	for i, v := range set.X {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(v)))
	}
	pixels, out := filepath.Join(dir, "pixels.f32"), filepath.Join(dir, "probs.f32")
	if err := os.WriteFile(pixels, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(ort, "score.js"), model, pixels, itoa(set.N()), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("onnxruntime: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]float64, len(b)/4)
	for i := range p {
		p[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
	}
	return p
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// onnxAgreement compares onnxruntime's probabilities of the exported model
// with the checkpoint's own, as nettrain computes them: every probability
// within 1e-5 of the float64 forward pass, and the top class that of
// nettrain's prediction in the model's precision (eval's) for every image
// but those whose top two probabilities are within 1e-6. It returns the
// images onnxruntime classifies correctly and the near ties.
func onnxAgreement(t *testing.T, path string, set cifar.Set, got []float64) (correct, ties int) {
	t.Helper()
	ck, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := trainrun.ReadMeta(ck.Meta)
	c := ck.Classes()
	if len(got) != set.N()*c {
		t.Fatalf("onnxruntime gave %d probabilities, want %d", len(got), set.N()*c)
	}
	x := make([]float64, len(set.X))
	for i, v := range set.X {
		x[i] = float64(v) - ck.Mean[i%cifar.D]
	}
	var want []float64
	for i := 0; i < set.N(); i += 250 { // in chunks: a conv net's patches of 10,000 images would take gigabytes
		n := min(250, set.N()-i)
		want = append(want, ck.Probabilities(x[i*cifar.D:(i+n)*cifar.D])...)
	}
	pred := trainrun.Predict(ck, set, meta.Config.Precision, false)
	worst := 0.0
	for i := range set.N() {
		row, ref := got[i*c:(i+1)*c], want[i*c:(i+1)*c]
		for j := range row {
			worst = max(worst, math.Abs(row[j]-ref[j]))
		}
		top := 0
		for j := range row {
			if row[j] > row[top] {
				top = j
			}
		}
		sorted := append([]float64(nil), ref...)
		sort.Float64s(sorted)
		if sorted[c-1]-sorted[c-2] <= 1e-6 {
			ties++
		} else if top != int(pred[i]) {
			t.Errorf("%s: image %d: onnxruntime's class %d, nettrain's %d (probabilities %v vs %v)", filepath.Base(path), i, top, pred[i], row, ref)
		}
		if top == int(set.Y[i]) {
			correct++
		}
	}
	if worst > 1e-5 {
		t.Errorf("%s: onnxruntime's probabilities differ from nettrain's by up to %.2e, want <= 1e-5", filepath.Base(path), worst)
	}
	t.Logf("%s: %d images, onnxruntime accuracy %.4f, largest probability difference %.2e, %d near ties", filepath.Base(path), set.N(), float64(correct)/float64(set.N()), worst, ties)
	return correct, ties
}

// Each kind of model, trained, exported by the command and run by the real
// onnxruntime on the test images, gets nettrain eval's classes and
// accuracy; onnx.checker accepts each model; exporting twice gives the same
// bytes.
func TestExportRunsInOnnxRuntime(t *testing.T) {
	ort := onnxRuntime(t)
	data := fixtureDir(t)
	tmp := t.TempDir()
	ds, err := testEnv().loader.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string][]string{
		"two-layer":        {"--hidden", "50", "--lr", "1e-3"},
		"deep, batch norm": {"--hidden", "40,20", "--norm", "batch", "--lr", "1e-2", "--std", "1e-2"},
		"layer norm":       {"--hidden", "40,20", "--norm", "layer", "--lr", "1e-2", "--std", "1e-2"},
		"zca":              {"--hidden", "30", "--preprocess", "zca", "--lr", "1e-3", "--std", "1e-3"},
		"channel, float64": {"--hidden", "30", "--preprocess", "channel", "--precision", "float64", "--lr", "1e-3"},
		"conv, every layer": {"--arch", "conv6k3s2p2-bn-gelu-avgpool2-conv8k3nobias-relu-maxpool2-dropout0.2-fc20-bn-relu-fc10-scale1/3",
			"--optimizer", "adam", "--lr", "1e-2", "--std", "0.1"},
		"conv, global pools": {"--arch", "conv8k3-relu-gmaxpool-fc10", "--optimizer", "adam", "--lr", "1e-2", "--std", "0.1"},
		"cs231n-convnet":     {"--arch", "cs231n-convnet", "--optimizer", "adam", "--lr", "1e-3", "--std", "1e-3"},
		"airbench":           {"--arch", "airbench", "--optimizer", "adam", "--lr", "1e-3", "--std", "0.1", "--iters", "3"},
	}
	py := onnxChecker()
	for name, flags := range kinds {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && (name == "airbench" || name == "zca") {
				t.Skip("-short: the slow kinds")
			}
			path := filepath.Join(tmp, strings.NewReplacer(" ", "", ",", "_").Replace(name)+".npz")
			args := append([]string{"train", "--data", data, "--iters", "60", "--batch", "20", "--out", path, "-q", "--num-test", "20"}, flags...)
			if r := runCmd(t, testEnv(), append(args, "--num-train", "150", "--num-val", "30")...); r.code != 0 {
				t.Fatalf("train: exit %d %s", r.code, r.stderr)
			}
			onnxPath := strings.TrimSuffix(path, ".npz") + ".onnx"
			r := runCmd(t, testEnv(), "export", "--model", path)
			if r.code != 0 || !strings.HasPrefix(r.stdout, onnxPath+": ONNX opset 17") {
				t.Fatalf("export: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			first, _ := os.ReadFile(onnxPath)
			if r := runCmd(t, testEnv(), "export", "--model", path, "--onnx", onnxPath+".2"); r.code != 0 {
				t.Fatal(r.stderr)
			}
			if second, _ := os.ReadFile(onnxPath + ".2"); string(first) != string(second) {
				t.Error("two exports of one checkpoint differ")
			}
			test := ds.Test
			got := scoreONNX(t, ort, onnxPath, test)
			correct, ties := onnxAgreement(t, path, test, got)
			r = runCmd(t, testEnv(), "eval", "--model", path, "--data", data, "--split", "test", "--num-test", itoa(test.N()), "--json")
			var ev trainrun.Evaluation
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &ev) != nil {
				t.Fatalf("eval: exit %d %s", r.code, r.stderr)
			}
			if diff := ev.Accuracy*float64(test.N()) - float64(correct); math.Abs(diff) > float64(ties)+0.5 {
				t.Errorf("eval's accuracy %.4f, onnxruntime's %.4f (%d near ties)", ev.Accuracy, float64(correct)/float64(test.N()), ties)
			}
			if py == "" {
				t.Log("no python3 with onnx: onnx.checker skipped (apt-get install python3-onnx)")
				return
			}
			if out, err := exec.Command(py, "-c", "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)", onnxPath).CombinedOutput(); err != nil {
				t.Errorf("onnx.checker refuses %s: %v\n%s", onnxPath, err, out)
			}
		})
	}
}

// export refuses, with one line and nothing written: a model it cannot
// read, a net that is not CIFAR-10's, a damaged (NaN) net, and an --onnx
// that is a directory, the checkpoint itself, or a FIFO.
func TestExportRefuses(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	good := filepath.Join(tmp, "good.npz")
	if r := runCmd(t, testEnv(), append([]string{"train", "--data", data, "--iters", "2", "--batch", "5", "--hidden", "4", "--out", good, "-q"}, small...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	toy := filepath.Join(tmp, "toy.npz")
	if err := checkpoint.Save(toy, &checkpoint.Checkpoint{Net: model.New([]int{5, 4, 3}, 0.1, rand.New(rand.NewPCG(1, 1))), Mean: make([]float64, 5)}); err != nil {
		t.Fatal(err)
	}
	ck, err := checkpoint.Load(good)
	if err != nil {
		t.Fatal(err)
	}
	ck.Net.Layers[0].W.Set(0, 1, math.NaN())
	nan := filepath.Join(tmp, "nan.npz")
	if err := checkpoint.Save(nan, ck); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(tmp, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadDir(tmp)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--model", filepath.Join(tmp, "missing.npz")}, 1, "missing.npz"},
		{[]string{"--model", toy}, 1, "toy.npz cannot be exported: the net takes 5 inputs"},
		{[]string{"--model", nan}, 1, "array \"W1\" has NaN at flat index 1"},
		{[]string{"--model", good, "--onnx", tmp}, 1, "is a directory"},
		{[]string{"--model", good, "--onnx", good}, 1, "would overwrite the checkpoint --model names"},
		{[]string{"--model", good, "--onnx", fifo}, 1, "is a FIFO"},
		{[]string{"--model", good, "--onnx", filepath.Join(tmp, "no", "m.onnx")}, 1, "does not exist"},
		{[]string{"--model", good, "extra"}, 2, "unknown command"},
	} {
		r := runCmd(t, testEnv(), append([]string{"export"}, c.args...)...)
		first, rest, _ := strings.Cut(r.stderr, "\n")
		if r.code != c.code || !strings.Contains(first, c.want) || (c.code == 1 && rest != "") {
			t.Errorf("export %v: exit %d, stderr %q; want %d and one line with %q", c.args, r.code, r.stderr, c.code, c.want)
		}
	}
	if after, _ := os.ReadDir(tmp); len(after) != len(before) {
		t.Errorf("a refused export wrote a file: %d entries before, %d after", len(before), len(after))
	}
}

// readmeBlock returns the fenced code block of the given language that
// follows the line starting with after in README.md.
func readmeBlock(t *testing.T, after, lang string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n"+after)
	if !ok {
		t.Fatalf("README.md has no line starting %q", after)
	}
	_, rest, ok = strings.Cut(rest, "```"+lang+"\n")
	block, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatalf("README.md has no %s block after %q", lang, after)
	}
	return block
}

// The README's ONNX snippets run as written: the JavaScript one is
// tools/onnxruntime/cifar_accuracy.js, which onnxruntime-node runs on the
// test batch; the Python one runs with onnxruntime if installed, else with
// the numpy stand-in in testdata (onnxruntime comes from PyPI). Each prints
// the accuracy nettrain eval prints.
func TestReadmeOnnxSnippets(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	path := filepath.Join(tmp, "nettrain-model.npz")
	if r := runCmd(t, testEnv(), append([]string{"train", "--data", data, "--iters", "40", "--batch", "10", "--hidden", "20", "--lr", "1e-3", "--out", path, "-q"}, small...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := runCmd(t, testEnv(), "export", "--model", path); r.code != 0 {
		t.Fatal(r.stderr)
	}
	ds, err := testEnv().loader.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, testEnv(), "eval", "--model", path, "--data", data, "--split", "test", "--num-test", itoa(ds.Test.N()), "--json")
	var ev trainrun.Evaluation
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &ev) != nil {
		t.Fatalf("eval: exit %d %s", r.code, r.stderr)
	}
	want := fmt.Sprintf("accuracy %.4f on %d images\n", ev.Accuracy, ds.Test.N())
	onnxPath, batch := filepath.Join(tmp, "nettrain-model.onnx"), filepath.Join(data, "test_batch.bin")

	t.Run("javascript", func(t *testing.T) {
		script := filepath.Join("..", "..", "tools", "onnxruntime", "cifar_accuracy.js")
		src, err := os.ReadFile(script)
		if err != nil {
			t.Fatal(err)
		}
		if js := readmeBlock(t, "JavaScript, with `onnxruntime-node`", "js"); !strings.HasSuffix(string(src), js) {
			t.Fatalf("the README's JavaScript is not %s", script)
		}
		onnxRuntime(t)
		out, err := exec.Command("node", script, onnxPath, batch).CombinedOutput()
		if err != nil || string(out) != want {
			t.Errorf("node %s: %v, printed %q, want %q", script, err, out, want)
		}
	})
	t.Run("python", func(t *testing.T) {
		py := onnxChecker()
		if py == "" || exec.Command(py, "-c", "import numpy").Run() != nil {
			t.Skip("no python3 with onnx and numpy (apt-get install python3-onnx python3-numpy)")
		}
		src := readmeBlock(t, "Python, with `onnxruntime`", "python")
		src = strings.NewReplacer(`"data/cifar-10-batches-bin/test_batch.bin"`, strconv.Quote(batch), `"nettrain-model.onnx"`, strconv.Quote(onnxPath)).Replace(src)
		cmd := exec.Command(py, "-c", src)
		if exec.Command(py, "-c", "import onnxruntime").Run() != nil {
			stand, _ := filepath.Abs(filepath.Join("testdata", "numpy_onnxruntime"))
			cmd.Env = append(os.Environ(), "PYTHONPATH="+stand, "PYTHONDONTWRITEBYTECODE=1")
			t.Log("onnxruntime for Python is not installed: running the snippet with the numpy stand-in")
		}
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != want {
			t.Errorf("the README's Python: %v, printed %q, want %q", err, out, want)
		}
	})
}

// On the real data: a two-layer and a layer-norm net, exported, get from
// onnxruntime on the 10,000 test images nettrain's classes (but for near
// ties) and its probabilities within 1e-5.
func TestExportRealData(t *testing.T) {
	data := realData(t)
	ort := onnxRuntime(t)
	ds, err := cifar.Loader{}.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	for name, flags := range map[string][]string{
		"two-layer":  {"--hidden", "50", "--lr", "1e-3", "--iters", "300"},
		"layer-norm": {"--hidden", "100,50", "--norm", "layer", "--lr", "1e-2", "--std", "1e-2", "--iters", "300"},
	} {
		path := filepath.Join(t.TempDir(), name+".npz")
		if r := runCmd(t, defaultEnv(), append([]string{"train", "--data", data, "--out", path, "-q"}, flags...)...); r.code != 0 {
			t.Fatalf("train: exit %d %s", r.code, r.stderr)
		}
		if r := runCmd(t, defaultEnv(), "export", "--model", path); r.code != 0 {
			t.Fatal(r.stderr)
		}
		got := scoreONNX(t, ort, strings.TrimSuffix(path, ".npz")+".onnx", ds.Test)
		onnxAgreement(t, path, ds.Test, got)
	}
}
