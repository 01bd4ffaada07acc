package sweep

import (
	"context"
	trainrun "github.com/nettrain/nettrain/internal/run"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/preprocess"
	"github.com/nettrain/nettrain/internal/sgd"
)

func TestParseParam(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Param
	}{
		{"hidden", "50,100, 200", Param{Values: []float64{50, 100, 200}}},
		{"lr", "1e-4:1e-2", Param{Lo: 1e-4, Hi: 1e-2, Log: true}},
		{"reg", "0.01:1:5", Param{Lo: 0.01, Hi: 1, N: 5, Log: true}},
		{"lr_decay", "0.9:1", Param{Lo: 0.9, Hi: 1}},
		{"iters", "1000", Param{Values: []float64{1000}}},
	} {
		got, err := ParseParam(tc.name, tc.in)
		if err != nil || !slices.Equal(got.Values, tc.want.Values) || got.Lo != tc.want.Lo || got.Hi != tc.want.Hi || got.N != tc.want.N || got.Log != tc.want.Log {
			t.Errorf("ParseParam(%s, %q) = %+v, %v; want %+v", tc.name, tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "a,b", "1:", "2:1", "0:1e-2", "1:2:1", "1:2:3:4", "1,,2", "NaN"} {
		if _, err := ParseParam("lr", bad); err == nil || !strings.Contains(err.Error(), "{lr}") {
			t.Errorf("ParseParam(lr, %q): err = %v, want one naming --lr", bad, err)
		}
	}
	// Choices of several hidden layers: dashes join a choice's widths.
	deep, err := ParseParam("hidden", "500, 1000-500,200-100-50")
	if want := [][]int{{500}, {1000, 500}, {200, 100, 50}}; err != nil || !reflect.DeepEqual(deep.Layers, want) || deep.Values != nil || deep.IsRange() {
		t.Errorf("ParseParam(hidden, layers) = %+v, %v; want layers %v", deep, err, want)
	}
	if deep.String() != "500,1000-500,200-100-50" {
		t.Errorf("layers print as %q", deep.String())
	}
	for _, bad := range []string{"8,12-x", "8,-", "8,12--6", "100-0"} {
		p, err := ParseParam("hidden", bad)
		if err == nil {
			s := Space{Mode: "random", Trials: 1, Params: map[string]Param{"hidden": p, "lr": {Values: []float64{1}}, "reg": {Values: []float64{1}},
				"iters": {Values: []float64{1}}, "batch": {Values: []float64{1}}, "lr_decay": {Values: []float64{1}}}}
			s.SetFixed(trainrun.Defaults())
			err = s.Check()
		}
		if err == nil || !strings.Contains(err.Error(), "{hidden}") {
			t.Errorf("hidden %q: err %v, want one naming --hidden", bad, err)
		}
	}
	g, _ := Param{Lo: 1e-4, Hi: 1e-2, N: 3, Log: true}.grid()
	if math.Abs(g[1]-1e-3) > 1e-15 {
		t.Errorf("log grid %v, want 1e-4 1e-3 1e-2", g)
	}
}

func testSpace() Space {
	s := Space{Mode: "random", Trials: 6, Seed: 3, Params: map[string]Param{}}
	fixed := trainrun.Defaults()
	fixed.NumTrain, fixed.NumVal = 150, 30
	s.SetFixed(fixed)
	for name, text := range map[string]string{"hidden": "8,16", "lr": "1e-5:1e-3", "reg": "1e-3:1", "iters": "12", "batch": "10", "lr_decay": "0.9"} {
		p, err := ParseParam(name, text)
		if err != nil {
			panic(err)
		}
		s.Params[name] = p
	}
	return s
}

func TestTrialsAreDeterministic(t *testing.T) {
	s := testSpace()
	for i := range 6 {
		a, b := s.Trial(i), s.Trial(i)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("trial %d drawn twice: %+v, %+v", i, a, b)
		}
		if len(a.Hidden) != 1 || a.Hidden[0] != 8 && a.Hidden[0] != 16 || a.LR < 1e-5 || a.LR > 1e-3 || a.Iters != 12 {
			t.Errorf("trial %d out of the space: %+v", i, a)
		}
	}
	if reflect.DeepEqual(s.Trial(0), s.Trial(1)) {
		t.Error("two trials drew the same configuration")
	}
	s2 := s
	s2.Seed = 4
	if reflect.DeepEqual(s2.Trial(0), s.Trial(0)) {
		t.Error("another sweep seed drew the same trial")
	}
	// Random draws of layer choices: each shape comes up, and a trial's
	// layers are its own (changing them leaves the space alone).
	d := testSpace()
	d.Params["hidden"], _ = ParseParam("hidden", "8,12-6")
	shapes := map[string]int{}
	for i := range 30 {
		shapes[d.Trial(i).Hidden.Dashed()]++
	}
	if len(shapes) != 2 || shapes["8"] == 0 || shapes["12-6"] == 0 {
		t.Errorf("30 random trials of 8,12-6: %v", shapes)
	}
	for i := 0; ; i++ {
		if tr := d.Trial(i); len(tr.Hidden) == 2 {
			tr.Hidden[0] = 99
			if d.Params["hidden"].Layers[1][0] != 12 {
				t.Error("a trial's hidden shares the space's memory")
			}
			break
		}
	}
	// Grid: every combination once, the last hyperparameter fastest.
	g := testSpace()
	g.Mode = "grid"
	g.Params["lr"] = Param{Values: []float64{1e-4, 1e-3, 1e-2}}
	g.Params["reg"] = Param{Lo: 0.01, Hi: 1, N: 2, Log: true}
	if n := g.NumTrials(); n != 2*3*2 {
		t.Fatalf("grid of %d trials, want 12", n)
	}
	seen := map[[3]float64]bool{}
	for i := range g.NumTrials() {
		tr := g.Trial(i)
		seen[[3]float64{float64(tr.Hidden[0]), tr.LR, tr.Reg}] = true
	}
	if len(seen) != 12 {
		t.Errorf("grid covers %d distinct combinations, want 12", len(seen))
	}
	if g.Trial(0).Reg != 0.01 || g.Trial(1).Reg != 1 || g.Trial(2).LR != 1e-3 {
		t.Errorf("grid order: %+v %+v %+v", g.Trial(0), g.Trial(1), g.Trial(2))
	}
	g.Params["hidden"] = Param{Lo: 1, Hi: 5}
	if err := g.Check(); err == nil || !strings.Contains(err.Error(), "lo:hi:n") {
		t.Errorf("grid with a range without n: %v", err)
	}
}

func testData(t *testing.T) preprocess.Data {
	rng := rand.New(rand.NewPCG(5, 5))
	s := cifartest.RandomSet(180, rng)
	train := s.Slice(0, 150)
	return preprocess.Data{Train: train, Val: s.Slice(150, 180), Mean: cifar.Mean(train)}
}

func run(t *testing.T, r *Runner) []Result {
	t.Helper()
	res, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func byTrial(rs []Result) map[[2]int]Result {
	m := map[[2]int]Result{}
	for _, r := range rs {
		r.Seconds, r.Dir = 0, ""
		m[[2]int{r.Trial, r.Rung}] = r
	}
	return m
}

// The same sweep with 1 and 3 workers gives the same results, and a rerun
// into the same directory trains nothing.
func TestRunnerWorkersAndResume(t *testing.T) {
	data := testData(t)
	one := run(t, &Runner{Space: testSpace(), Dir: t.TempDir(), Data: data, Workers: 1})
	dir := t.TempDir()
	three := run(t, &Runner{Space: testSpace(), Dir: dir, Data: data, Workers: 3})
	if len(one) != 6 || len(three) != 6 {
		t.Fatalf("%d and %d results, want 6", len(one), len(three))
	}
	a, b := byTrial(one), byTrial(three)
	for k, ra := range a {
		rb := b[k]
		if ra.ValAcc != rb.ValAcc || ra.FinalLoss != rb.FinalLoss || !reflect.DeepEqual(ra.Config, rb.Config) || ra.Status != StatusOK {
			t.Errorf("trial %v: 1 worker %+v, 3 workers %+v", k, ra, rb)
		}
	}
	calls := 0
	again := run(t, &Runner{Space: testSpace(), Dir: dir, Data: data, Workers: 2, Progress: func(r Result, done, total int) {
		if r.Trial >= 0 {
			calls++
		}
	}})
	if calls != 0 || len(again) != 6 {
		t.Errorf("rerun trained %d trials and returned %d results, want 0 and 6", calls, len(again))
	}
	lines, _, _ := ReadResults(filepath.Join(dir, "results.jsonl"))
	if len(lines) != 6 {
		t.Errorf("results.jsonl has %d lines after the rerun, want 6", len(lines))
	}
	// Another space in the same directory is refused, then forced.
	other := testSpace()
	other.Seed = 99
	if _, err := (&Runner{Space: other, Dir: dir, Data: data}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "{force}") {
		t.Errorf("resume with another space: err = %v", err)
	}
	forced := run(t, &Runner{Space: other, Dir: dir, Data: data, Workers: 2, Force: true})
	if len(forced) != 6 || forced[0].Config.Seed == one[0].Config.Seed {
		t.Errorf("--force did not start over: %d results", len(forced))
	}
	if old, _ := filepath.Glob(filepath.Join(dir, "results.jsonl.replaced-*")); len(old) != 1 {
		t.Errorf("old results not set aside: %v", old)
	}
}

// A torn last line (a kill in the middle of a write) is skipped, and the
// next append starts on a line of its own.
func TestTornResultsLine(t *testing.T) {
	data := testData(t)
	dir := t.TempDir()
	s := testSpace()
	s.Trials = 2
	run(t, &Runner{Space: s, Dir: dir, Data: data})
	path := filepath.Join(dir, "results.jsonl")
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	os.WriteFile(path, []byte(lines[0]+lines[1][:40]), 0o644) // trial 2's line half written
	res := run(t, &Runner{Space: s, Dir: dir, Data: data})
	if len(res) != 2 {
		t.Fatalf("%d results after the rerun, want 2", len(res))
	}
	back, _, _ := ReadResults(path)
	if len(back) != 2 {
		t.Errorf("results file holds %d whole lines, want 2", len(back))
	}
}

// Successive halving: 9 trials, eta 3, 4 then 12 then 36 iterations; the
// promoted trials carry on from their checkpoints and end bit for bit where
// training from scratch for 36 iterations ends, with cs231n's SGD and with
// every option that carries state (Adam, cosine schedule, dropout, flips,
// per-channel standardisation).
func TestHalving(t *testing.T) {
	t.Run("sgd", func(t *testing.T) { testHalving(t, trainrun.Defaults().Options) })
	t.Run("options", func(t *testing.T) {
		op := trainrun.Defaults().Options
		op.Optimizer, op.Schedule, op.Dropout, op.Flip, op.Preprocess = sgd.Adam, sgd.Cosine, 0.2, true, "channel"
		testHalving(t, op)
	})
}

func testHalving(t *testing.T, op Options) {
	data := testData(t)
	if op.Preprocess == "channel" {
		data.Mean, data.Scale = cifar.ChannelStats(data.Train)
	}
	s := testSpace()
	s.Options = op
	s.Trials = 9
	s.Params["iters"] = Param{Values: []float64{36}}
	s.Halving = &Halving{Eta: 3, MinIters: 4}
	dir := t.TempDir()
	res := run(t, &Runner{Space: s, Dir: dir, Data: data, Workers: 2})
	perRung := map[int][]Result{}
	for _, r := range res {
		perRung[r.Rung] = append(perRung[r.Rung], r)
	}
	if len(perRung[0]) != 9 || len(perRung[1]) != 3 || len(perRung[2]) != 1 {
		t.Fatalf("results per rung: %d %d %d, want 9 3 1", len(perRung[0]), len(perRung[1]), len(perRung[2]))
	}
	for rung, want := range []int{4, 12, 36} {
		for _, r := range perRung[rung] {
			if r.Iters != want {
				t.Errorf("rung %d: trial %d trained %d iterations, want %d", rung, r.Trial, r.Iters, want)
			}
		}
	}
	// The promoted three are the best three of rung 0.
	rung0 := append([]Result(nil), perRung[0]...)
	slices.SortFunc(rung0, func(a, b Result) int {
		if a.ValAcc != b.ValAcc {
			if a.ValAcc > b.ValAcc {
				return -1
			}
			return 1
		}
		return a.Trial - b.Trial
	})
	for _, r := range perRung[1] {
		if !slices.ContainsFunc(rung0[:3], func(x Result) bool { return x.Trial == r.Trial }) {
			t.Errorf("trial %d promoted, not among rung 0's best three", r.Trial)
		}
	}
	// The finalist equals a 36-iteration run from scratch.
	fin := perRung[2][0]
	ck, err := checkpoint.Load(filepath.Join(dir, fin.Checkpoint))
	if err != nil {
		t.Fatal(err)
	}
	tr := fin.Config
	net := sgd.Init(tr.Hidden.Sizes(cifar.D, cifar.Classes), s.Std, tr.Seed)
	cfg := sgd.Config{Iters: 36, Batch: tr.Batch, LR: tr.LR, LRDecay: tr.LRDecay, Reg: tr.Reg, Seed: tr.Seed, Precision: s.Precision,
		Optimizer: op.Optimizer, Schedule: op.Schedule, Dropout: op.Dropout, Flip: op.Flip}
	if _, err := sgd.Train(context.Background(), net, data, cfg, sgd.Hooks{}); err != nil {
		t.Fatal(err)
	}
	net = data.Fold(net) // as saved
	for k, p := range net.Params() {
		for i := range p {
			if p[i] != ck.Net.Params()[k][i] {
				t.Fatalf("finalist's %s differs from a run from scratch", model.ParamNames(2, "")[k])
			}
		}
	}
	// Only the latest rung's checkpoint of each trial is kept.
	files, _ := filepath.Glob(filepath.Join(dir, "trials", "*.npz"))
	if len(files) != 9 {
		t.Errorf("%d checkpoints kept, want 9 (one per trial)", len(files))
	}
}

// A diverging trial is marked and the sweep goes on.
func TestDivergedTrial(t *testing.T) {
	s := testSpace()
	s.Mode = "grid"
	s.Params["lr"] = Param{Values: []float64{1e-4, 1e6}}
	s.Params["hidden"] = Param{Values: []float64{8}}
	s.Params["reg"] = Param{Values: []float64{0}}
	s.Std = 1
	res := run(t, &Runner{Space: s, Dir: t.TempDir(), Data: testData(t)})
	status := map[float64]string{}
	for _, r := range res {
		status[r.Config.LR] = r.Status
	}
	if status[1e-4] != StatusOK || status[1e6] != StatusDiverged {
		t.Errorf("statuses %v, want ok for 1e-4 and diverged for 1e6", status)
	}
	if best := Latest(res); len(best) != 1 || best[0].Config.LR != 1e-4 {
		t.Errorf("ranking %+v", best)
	}
}

// Shards split the trials without overlap and together cover them.
func TestShards(t *testing.T) {
	data := testData(t)
	dir := t.TempDir()
	var all []Result
	for i := range 3 {
		all = append(all, run(t, &Runner{Space: testSpace(), Dir: dir, Data: data, Shard: i, Shards: 3})...)
	}
	seen := map[int]int{}
	for _, r := range all {
		seen[r.Trial]++
	}
	if len(seen) != 6 {
		t.Errorf("shards ran trials %v, want 0..5 once each", seen)
	}
	for trial, n := range seen {
		if n != 1 {
			t.Errorf("trial %d ran %d times", trial, n)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "results-shard-*-of-3.jsonl"))
	if len(files) != 3 {
		t.Errorf("results files %v", files)
	}
}

func TestReadConfig(t *testing.T) {
	dir := t.TempDir()
	yamlFile := filepath.Join(dir, "s.yaml")
	os.WriteFile(yamlFile, []byte("mode: grid\nseed: 7\nhidden: [50, 100]\nlr: \"1e-4:1e-2:3\"\nreg: 0.25\nlr-decay: 0.9\nhalving: {eta: 2, min_iters: 100}\n"), 0o644)
	s := testSpace()
	if err := ReadConfig(yamlFile, &s); err != nil {
		t.Fatal(err)
	}
	if s.Mode != "grid" || s.Seed != 7 || !slices.Equal(s.Params["hidden"].Values, []float64{50, 100}) || s.Params["lr"].N != 3 ||
		!slices.Equal(s.Params["reg"].Values, []float64{0.25}) || s.Params["lr_decay"].Values[0] != 0.9 || s.Halving.Eta != 2 {
		t.Errorf("space from YAML: %+v", s)
	}
	jsonFile := filepath.Join(dir, "s.json")
	os.WriteFile(jsonFile, []byte(`{"mode": "random", "trials": 40, "lr": [0.001, 0.002]}`), 0o644)
	if err := ReadConfig(jsonFile, &s); err != nil || s.Trials != 40 || s.Mode != "random" || len(s.Params["lr"].Values) != 2 {
		t.Errorf("space from JSON: %+v, %v", s, err)
	}
	// Layers in a YAML file: nested lists, or dashed strings.
	os.WriteFile(yamlFile, []byte("hidden: [[1000, 500], 200, \"300-100\"]\n"), 0o644)
	if err := ReadConfig(yamlFile, &s); err != nil || !reflect.DeepEqual(s.Params["hidden"].Layers, [][]int{{1000, 500}, {200}, {300, 100}}) {
		t.Errorf("layers from YAML: %+v, %v", s.Params["hidden"], err)
	}
	if w := s.Widest(); !slices.Equal(w, []int{1000, 500}) {
		t.Errorf("Widest = %v, want [1000 500]", w)
	}
	os.WriteFile(jsonFile, []byte(`{"hiden": [5]}`), 0o644)
	if err := ReadConfig(jsonFile, &s); err == nil || !strings.Contains(err.Error(), `unknown key "hiden"`) {
		t.Errorf("unknown key: %v", err)
	}
}
