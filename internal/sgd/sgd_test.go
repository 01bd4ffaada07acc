package sgd_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/preprocess"
	"github.com/nettrain/nettrain/internal/setting"
	"github.com/nettrain/nettrain/internal/sgd"
)

func testData(nTrain, nVal int, seed uint64) preprocess.Data {
	s := cifartest.RandomSet(nTrain+nVal, rand.New(rand.NewPCG(seed, seed)))
	train := s.Slice(0, nTrain)
	return preprocess.Data{Train: train, Val: s.Slice(nTrain, nTrain+nVal), Mean: cifar.Mean(train)}
}

// cs231n's last sanity check: a net with enough capacity drives the loss on
// a handful of examples to almost zero.
func TestOverfitsTwentyExamples(t *testing.T) {
	data := testData(20, 5, 1)
	net := sgd.Init([]int{cifar.D, 50, cifar.Classes}, 1e-4, 1)
	cfg := sgd.Config{Iters: 200, Batch: 20, LR: 1e-3, LRDecay: 1, Reg: 0, Seed: 1}
	hist, err := sgd.Train(context.Background(), net, data, cfg, sgd.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if first, last := hist.Loss[0], hist.Loss[len(hist.Loss)-1]; !(last < 0.01) {
		t.Errorf("loss went from %v to %v, want below 0.01", first, last)
	}
	if acc := model.Accuracy(net.PredictSet(nil, data.Train, data.Mean), data.Train.Y); acc != 1 {
		t.Errorf("train accuracy %v, want 1", acc)
	}
}

func TestDeterministic(t *testing.T) {
	data := testData(300, 50, 2)
	run := func(seed uint64) (*model.Net, sgd.History) {
		net := sgd.Init([]int{cifar.D, 20, cifar.Classes}, 1e-3, seed)
		cfg := sgd.Config{Iters: 40, Batch: 32, LR: 1e-5, LRDecay: 0.9, Reg: 0.1, Seed: seed}
		hist, err := sgd.Train(context.Background(), net, data, cfg, sgd.Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		return net, hist
	}
	a, ha := run(5)
	b, hb := run(5)
	for k, p := range a.Params() {
		for i := range p {
			if math.Float64bits(p[i]) != math.Float64bits(b.Params()[k][i]) {
				t.Fatalf("same seed: %s[%d] differs: %v vs %v", model.ParamNames(2, "")[k], i, p[i], b.Params()[k][i])
			}
		}
	}
	for i := range ha.Loss {
		if ha.Loss[i] != hb.Loss[i] {
			t.Fatalf("same seed: loss %d differs", i)
		}
	}
	_, hc := run(6)
	if hc.Loss[len(hc.Loss)-1] == ha.Loss[len(ha.Loss)-1] {
		t.Error("another seed gave the same final loss")
	}
}

func TestEpochsAndDecay(t *testing.T) {
	data := testData(100, 10, 3)
	net := sgd.Init([]int{cifar.D, 8, cifar.Classes}, 1e-4, 3)
	cfg := sgd.Config{Iters: 23, Batch: 20, LR: 1e-5, LRDecay: 0.5, Reg: 0.25, Seed: 3}
	var iters []int
	var epochs []sgd.Epoch
	hist, err := sgd.Train(context.Background(), net, data, cfg, sgd.Hooks{
		Iter:  func(it int, loss float64) { iters = append(iters, it) },
		Epoch: func(e sgd.Epoch) { epochs = append(epochs, e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	// An epoch is 100/20 = 5 iterations: records after 5, 10, 15, 20.
	if len(hist.Loss) != 23 || len(iters) != 23 || iters[22] != 23 {
		t.Errorf("%d losses, iter hooks %v", len(hist.Loss), iters)
	}
	if len(epochs) != 4 || len(hist.Epochs) != 4 {
		t.Fatalf("%d epochs recorded, want 4", len(epochs))
	}
	for i, e := range epochs {
		if e.Epoch != i+1 || e.Iter != 5*(i+1) {
			t.Errorf("epoch %d: %+v", i, e)
		}
		if want := 1e-5 * math.Pow(0.5, float64(i)); e.LR != want {
			t.Errorf("epoch %d: lr %v, want %v", i+1, e.LR, want)
		}
		if e.Loss != hist.Loss[e.Iter-1] {
			t.Errorf("epoch %d: loss %v, want the loss of iteration %d", i+1, e.Loss, e.Iter)
		}
		if e.ValAcc < 0 || e.ValAcc > 1 || e.TrainAcc < 0 || e.TrainAcc > 1 {
			t.Errorf("epoch %d: accuracies %v %v", i+1, e.TrainAcc, e.ValAcc)
		}
	}
	if sgd.EpochLen(10, 200) != 1 || sgd.EpochLen(49000, 200) != 245 {
		t.Error("EpochLen")
	}
}

func TestDiverges(t *testing.T) {
	data := testData(50, 10, 4)
	net := sgd.Init([]int{cifar.D, 10, cifar.Classes}, 1e-2, 4)
	cfg := sgd.Config{Iters: 500, Batch: 10, LR: 1e3, LRDecay: 1, Reg: 0, Seed: 4}
	hist, err := sgd.Train(context.Background(), net, data, cfg, sgd.Hooks{})
	var de *sgd.DivergedError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a DivergedError", err)
	}
	if de.Iter != len(hist.Loss)+1 || de.Iter > 500 {
		t.Errorf("diverged at %d with %d losses recorded", de.Iter, len(hist.Loss))
	}
	if !strings.Contains(err.Error(), "smaller learning rate") || !strings.Contains(err.Error(), "{lr} 100") {
		t.Errorf("error %q should suggest a smaller --lr", err)
	}
	for k, p := range net.Params() {
		for _, v := range p {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%s holds %v after the run stopped; the step that diverged must not be taken", model.ParamNames(2, "")[k], v)
			}
		}
	}
}

func TestCancel(t *testing.T) {
	data := testData(50, 10, 5)
	net := sgd.Init([]int{cifar.D, 10, cifar.Classes}, 1e-4, 5)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hist, err := sgd.Train(ctx, net, data, sgd.Config{Iters: 1000, Batch: 5, LR: 1e-6, LRDecay: 1, Seed: 5}, sgd.Hooks{
		Iter: func(it int, _ float64) {
			if it == 7 {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(hist.Loss) != 7 {
		t.Errorf("%d iterations ran, want 7", len(hist.Loss))
	}
}

func TestConfigCheck(t *testing.T) {
	good := sgd.DefaultConfig()
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		edit func(*sgd.Config)
		flag string
	}{
		{func(c *sgd.Config) { c.Iters = 0 }, "{iters}"},
		{func(c *sgd.Config) { c.Batch = 0 }, "{batch}"},
		{func(c *sgd.Config) { c.Batch = -3 }, "{batch}"},
		{func(c *sgd.Config) { c.LR = 0 }, "{lr}"},
		{func(c *sgd.Config) { c.LR = -1e-3 }, "{lr}"},
		{func(c *sgd.Config) { c.LR = math.NaN() }, "{lr}"},
		{func(c *sgd.Config) { c.LRDecay = 0 }, "{lr_decay}"},
		{func(c *sgd.Config) { c.LRDecay = 1.01 }, "{lr_decay}"},
		{func(c *sgd.Config) { c.Reg = -0.1 }, "{reg}"},
		{func(c *sgd.Config) { c.Reg = math.Inf(1) }, "{reg}"},
	} {
		c := good
		tc.edit(&c)
		if err := c.Check(); err == nil || !strings.HasPrefix(err.Error(), tc.flag+" ") {
			t.Errorf("%+v: err = %v, want one about %s", c, err, tc.flag)
		}
	}
}

// A run stopped after k iterations and resumed with Start = k ends bit for
// bit where a run that never stopped ends, in both precisions.
func TestResumeIsExact(t *testing.T) {
	data := testData(300, 20, 9)
	for _, precision := range []model.Precision{sgd.Float32, sgd.Float64} {
		cfg := sgd.Config{Iters: 47, Batch: 20, LR: 1e-4, LRDecay: 0.7, Reg: 0.1, Seed: 9, Precision: precision}
		whole := sgd.Init([]int{cifar.D, 12, cifar.Classes}, 1e-3, 9)
		hWhole, err := sgd.Train(context.Background(), whole, data, cfg, sgd.Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []int{1, 15, 23, 46} { // epochs are 15 iterations: in, at and after epoch ends
			net := sgd.Init([]int{cifar.D, 12, cifar.Classes}, 1e-3, 9)
			first := cfg
			first.Iters = k
			h1, err := sgd.Train(context.Background(), net, data, first, sgd.Hooks{})
			if err != nil {
				t.Fatal(err)
			}
			rest := cfg
			rest.Start = k
			h2, err := sgd.Train(context.Background(), net, data, rest, sgd.Hooks{})
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range net.Params() {
				for j := range p {
					if math.Float64bits(p[j]) != math.Float64bits(whole.Params()[i][j]) {
						t.Fatalf("%s, stopped at %d: %s[%d] = %v, uninterrupted %v", precision, k, model.ParamNames(2, "")[i], j, p[j], whole.Params()[i][j])
					}
				}
			}
			losses := append(h1.Loss, h2.Loss...)
			for i := range losses {
				if losses[i] != hWhole.Loss[i] {
					t.Fatalf("%s, stopped at %d: loss %d differs", precision, k, i+1)
				}
			}
			if ep := append(h1.Epochs, h2.Epochs...); len(ep) != len(hWhole.Epochs) || ep[len(ep)-1] != hWhole.Epochs[len(ep)-1] {
				t.Fatalf("%s, stopped at %d: epochs %+v, want %+v", precision, k, ep, hWhole.Epochs)
			}
		}
	}
	if err := (sgd.Config{Iters: 10, Batch: 1, LR: 1, LRDecay: 1, Start: 10}).Check(); err == nil || !strings.Contains(err.Error(), "raise {iters}") {
		t.Errorf("Start == Iters: err = %v", err)
	}
}

// Every new option resumes exactly too: a run stopped and resumed with its
// State ends where an uninterrupted one ends.
func TestResumeIsExactWithOptions(t *testing.T) {
	data := testData(300, 20, 10)
	mean, scale := cifar.ChannelStats(data.Train)
	scaled := preprocess.Data{Train: data.Train, Val: data.Val, Mean: mean, Scale: scale}
	for _, tc := range []struct {
		name string
		c    sgd.Config
		data preprocess.Data
	}{
		{"momentum+flip", sgd.Config{Optimizer: sgd.Momentum, Flip: true}, data},
		{"nesterov+cosine", sgd.Config{Optimizer: sgd.Nesterov, Schedule: sgd.Cosine}, data},
		{"adam+dropout+keepbest", sgd.Config{Optimizer: sgd.Adam, Dropout: 0.3, KeepBest: true}, scaled},
		{"adamw", sgd.Config{Optimizer: sgd.Adam, WeightDecay: 0.05}, scaled},
		{"translate+warmup+smoothing", sgd.Config{Optimizer: sgd.Nesterov, Translate: 3, Flip: true, Warmup: 30, LabelSmoothing: 0.1, Schedule: sgd.Cosine}, scaled},
		{"translate reflect", sgd.Config{Translate: 2, TranslatePad: sgd.PadReflect}, data},
	} {
		cfg := tc.c
		cfg.Iters, cfg.Batch, cfg.LR, cfg.LRDecay, cfg.Reg, cfg.Seed = 40, 20, 1e-4, 0.8, 0.1, 11
		if cfg.Optimizer == sgd.Adam {
			cfg.LR = 1e-3
		}
		whole := sgd.Init([]int{cifar.D, 12, cifar.Classes}, 1e-3, 11)
		hw, err := sgd.Train(context.Background(), whole, tc.data, cfg, sgd.Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		// Interrupt after iteration 23, as a signal does, and resume.
		net := sgd.Init([]int{cifar.D, 12, cifar.Classes}, 1e-3, 11)
		ctx, cancel := context.WithCancel(context.Background())
		h1, err := sgd.Train(ctx, net, tc.data, cfg, sgd.Hooks{Iter: func(it int, _ float64) {
			if it == 23 {
				cancel()
			}
		}})
		cancel()
		if !errors.Is(err, context.Canceled) || len(h1.Loss) != 23 {
			t.Fatalf("%s: interrupted run: %v after %d iterations", tc.name, err, len(h1.Loss))
		}
		rest := cfg
		rest.Start, rest.Init = 23, &h1.State
		if _, err := sgd.Train(context.Background(), net, tc.data, rest, sgd.Hooks{}); err != nil {
			t.Fatal(err)
		}
		for i, p := range net.Params() {
			for j := range p {
				if math.Float64bits(p[j]) != math.Float64bits(whole.Params()[i][j]) {
					t.Fatalf("%s: %s[%d] differs after resuming", tc.name, model.ParamNames(2, "")[i], j)
				}
			}
		}
		if cfg.KeepBest && hw.State.Best == nil {
			t.Errorf("%s: no best weights kept", tc.name)
		}
	}
}

func TestKeepBestAndPatience(t *testing.T) {
	data := testData(200, 40, 12)
	// A learning rate that overshoots after a while: the best epoch is not the last.
	cfg := sgd.Config{Iters: 400, Batch: 20, LR: 2e-3, LRDecay: 1, Reg: 0, Seed: 12, KeepBest: true}
	net := sgd.Init([]int{cifar.D, 16, cifar.Classes}, 1e-3, 12)
	hist, err := sgd.Train(context.Background(), net, data, cfg, sgd.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	best := 0.0
	for _, e := range hist.Epochs {
		best = max(best, e.ValAcc)
	}
	got := model.Accuracy(model.PredictSet(model.RawOf[float32](net), nil, data.Val, data.Mean), data.Val.Y)
	if got != best || hist.State.BestValAcc != best {
		t.Errorf("kept weights score %v, best epoch %v (state %v)", got, best, hist.State.BestValAcc)
	}
	cfg.Patience = 2
	cfg.KeepBest = false
	net = sgd.Init([]int{cifar.D, 16, cifar.Classes}, 1e-3, 12)
	hist, err = sgd.Train(context.Background(), net, data, cfg, sgd.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	// The run is seeded, so where it stops is fixed: 2 epochs after its best.
	if !hist.Stopped || hist.State.SinceBest != 2 || len(hist.Epochs) != hist.State.BestEpoch+2 || len(hist.Epochs) == 40 {
		t.Errorf("patience 2: stopped %v after %d of 40 epochs, best epoch %d, %d since", hist.Stopped, len(hist.Epochs), hist.State.BestEpoch, hist.State.SinceBest)
	}
	if len(hist.Loss) != len(hist.Epochs)*10 {
		t.Errorf("%d iterations ran, want %d (whole epochs of 10)", len(hist.Loss), len(hist.Epochs)*10)
	}
}

// Each optimizer learns: the loss on a small set falls well below ln 10.
func TestOptimizersLearn(t *testing.T) {
	data := testData(40, 10, 13)
	for _, c := range []sgd.Config{
		{Optimizer: sgd.SGD, LR: 1e-3},
		{Optimizer: sgd.Momentum, LR: 2e-4},
		{Optimizer: sgd.Nesterov, LR: 2e-4},
		{Optimizer: sgd.Adam, LR: 1e-3},
		{Optimizer: sgd.Adam, LR: 1e-3, Dropout: 0.2, Flip: true, Schedule: sgd.Cosine},
	} {
		c.Iters, c.Batch, c.LRDecay, c.Seed = 150, 20, 1, 13
		net := sgd.Init([]int{cifar.D, 32, cifar.Classes}, 1e-3, 13)
		hist, err := sgd.Train(context.Background(), net, data, c, sgd.Hooks{})
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if last := hist.Loss[len(hist.Loss)-1]; !(last < 0.5) {
			t.Errorf("%s (dropout %v): loss %v -> %v, want below 0.5", c.Optimizer, c.Dropout, hist.Loss[0], last)
		}
	}
}

// Each field out of range is an error that names its setting, as a key
// the command maps to its flag and as {key} in the text.
func TestConfigCheckNamesTheSetting(t *testing.T) {
	for key, edit := range map[string]func(*sgd.Config){
		"iters":           func(c *sgd.Config) { c.Iters = 0 },
		"batch":           func(c *sgd.Config) { c.Batch = -1 },
		"lr":              func(c *sgd.Config) { c.LR = math.NaN() },
		"lr_decay":        func(c *sgd.Config) { c.LRDecay = 2 },
		"reg":             func(c *sgd.Config) { c.Reg = -1 },
		"precision":       func(c *sgd.Config) { c.Precision = "float16" },
		"optimizer":       func(c *sgd.Config) { c.Optimizer = "lbfgs" },
		"momentum":        func(c *sgd.Config) { c.Momentum = 1 },
		"schedule":        func(c *sgd.Config) { c.Schedule = "zigzag" },
		"muon_lr":         func(c *sgd.Config) { c.Optimizer, c.MuonLR = sgd.Muon, 0 },
		"muon_momentum":   func(c *sgd.Config) { c.Optimizer, c.MuonLR, c.MuonMomentum = sgd.Muon, 0.1, 1 },
		"dropout":         func(c *sgd.Config) { c.Dropout = 1 },
		"patience":        func(c *sgd.Config) { c.Patience = -1 },
		"weight_decay":    func(c *sgd.Config) { c.WeightDecay = -0.1 },
		"translate":       func(c *sgd.Config) { c.Translate = 32 },
		"translate_pad":   func(c *sgd.Config) { c.TranslatePad = "wrap" },
		"warmup":          func(c *sgd.Config) { c.Warmup = -1 },
		"label_smoothing": func(c *sgd.Config) { c.LabelSmoothing = 1 },
	} {
		c := sgd.DefaultConfig()
		edit(&c)
		err := c.Check()
		if k, ok := setting.Key(err); !ok || k != key || !strings.Contains(err.Error(), "{"+key+"}") {
			t.Errorf("%s: err %v with key %q, want one about {%s}", key, err, k, key)
		}
	}
	if err := sgd.DefaultConfig().Check(); err != nil {
		t.Errorf("the default config: %v", err)
	}
}

// Each option of the step changes the run (a test that it is wired in, as
// the resume tests check it is resumed): translations, warm-up and label
// smoothing each give other weights than the same run without them, and
// warm-up's first step is lr/Warmup.
func TestStepOptionsTakeEffect(t *testing.T) {
	data := testData(200, 20, 10)
	base := sgd.Config{Iters: 12, Batch: 10, LR: 1e-3, LRDecay: 1, Reg: 0.1, Seed: 3}
	train := func(c sgd.Config) *model.Net {
		net := sgd.Init([]int{cifar.D, 8, cifar.Classes}, 1e-3, 5)
		if _, err := sgd.Train(context.Background(), net, data, c, sgd.Hooks{}); err != nil {
			t.Fatal(err)
		}
		return net
	}
	plain := train(base)
	for name, edit := range map[string]func(*sgd.Config){
		"translate": func(c *sgd.Config) { c.Translate = 2 },
		"reflect":   func(c *sgd.Config) { c.Translate, c.TranslatePad = 2, sgd.PadReflect },
		"warmup":    func(c *sgd.Config) { c.Warmup = 5 },
		"smoothing": func(c *sgd.Config) { c.LabelSmoothing = 0.2 },
	} {
		c := base
		edit(&c)
		if got := train(c); slices.Equal(got.Params()[0], plain.Params()[0]) {
			t.Errorf("%s: the same W1 as without it", name)
		}
	}
	zero, reflect := base, base
	zero.Translate, reflect.Translate, reflect.TranslatePad = 2, 2, sgd.PadReflect
	if slices.Equal(train(zero).Params()[0], train(reflect).Params()[0]) {
		t.Error("reflect padding gave the zero padding's weights")
	}
	// One step: warm-up over 4 iterations takes a quarter of the step.
	one := base
	one.Iters, one.Reg = 1, 0
	full := train(one)
	one.Warmup = 4
	quarter := train(one)
	init := sgd.Init([]int{cifar.D, 8, cifar.Classes}, 1e-3, 5)
	for i, w0 := range init.Params()[3] { // b2: plain SGD, so the change is lr * gradient
		if d, q := full.Params()[3][i]-w0, quarter.Params()[3][i]-w0; math.Abs(q-d/4) > 1e-6*math.Abs(d) {
			t.Errorf("b2[%d]: warm-up step %v, want a quarter of %v", i, q, d)
		}
	}
}
