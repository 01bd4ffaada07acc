package sgd

import (
	"math"
	"testing"

	"github.com/nettrain/nettrain/internal/model"
)

// The update rules against cs231n's optim.py, worked by hand for one
// parameter over two steps.
func TestOptimizerRules(t *testing.T) {
	type run struct {
		name string
		c    Config
		want [2]float64 // the parameter after step 1 and step 2
	}
	// w0 = 1, gradient 0.5 then -0.25, lr 0.1.
	const lr = 0.1
	g := [2]float64{0.5, -0.25}
	// momentum 0.9: v1 = -0.05, w1 = 0.95; v2 = 0.9*-0.05 + 0.025 = -0.02, w2 = 0.93.
	// nesterov: v1 = -0.05, w1 = 1 - 0.9*0 + 1.9*-0.05 = 0.905;
	//           v2 = -0.02, w2 = 0.905 + 0.9*0.05 + 1.9*-0.02 = 0.912.
	// adam: m1 = 0.05, v1 = 0.00025, mt = 0.5, vt = 0.25, w1 = 1 - 0.1*0.5/(0.5+1e-8);
	//       m2 = 0.045 - 0.025 = 0.02, v2 = 0.00024975 + 0.0000625 = 0.00031225,
	//       mt = 0.02/0.19, vt = 0.00031225/0.001999, w2 = w1 - 0.1*mt/(sqrt(vt)+1e-8).
	adam1 := 1 - 0.1*0.5/(0.5+1e-8)
	adam2 := adam1 - 0.1*(0.02/0.19)/(math.Sqrt(0.00031225/(1-0.999*0.999))+1e-8)
	for _, tc := range []run{
		{"sgd", Config{}, [2]float64{0.95, 0.975}},
		{"momentum", Config{Optimizer: Momentum}, [2]float64{0.95, 0.93}},
		{"nesterov", Config{Optimizer: Nesterov}, [2]float64{0.905, 0.912}},
		{"adam", Config{Optimizer: Adam}, [2]float64{adam1, adam2}},
	} {
		r := model.NewRaw[float64](1, 1, 1)
		r.W[0][0] = 1
		grads := model.NewRaw[float64](1, 1, 1)
		o := newOptimizer(rawParams(r, grads), tc.c)
		for s := range 2 {
			grads.W[0][0] = g[s]
			o.step(lr, s+1)
			if math.Abs(r.W[0][0]-tc.want[s]) > 1e-12 {
				t.Errorf("%s step %d: w = %.15g, want %.15g", tc.name, s+1, r.W[0][0], tc.want[s])
			}
		}
		// save and load carry the state: a third step from a loaded copy is
		// the third step of the original.
		r2 := model.NewRaw[float64](1, 1, 1)
		r2.W[0][0] = r.W[0][0]
		o2 := newOptimizer(rawParams(r2, grads), tc.c)
		if err := o2.load(o.save()); err != nil {
			t.Fatalf("%s: load: %v", tc.name, err)
		}
		grads.W[0][0] = 0.125
		o.step(lr, 3)
		o2.step(lr, 3)
		if r.W[0][0] != r2.W[0][0] {
			t.Errorf("%s: step after load %v, without %v", tc.name, r2.W[0][0], r.W[0][0])
		}
	}
	if err := newOptimizer(rawParams(model.NewRaw[float64](1, 1, 1), model.NewRaw[float64](1, 1, 1)), Config{Optimizer: Adam}).load(map[string][]float64{}); err == nil {
		t.Error("adam loaded a state without its slots")
	}
}

// Decoupled weight decay: with zero gradients, every optimizer's step
// shrinks each W by 1 - lr*wd and leaves the biases; with wd 0 nothing
// moves.
func TestWeightDecay(t *testing.T) {
	for _, kind := range []Optimizer{SGD, Momentum, Nesterov, Adam} {
		for _, wd := range []float64{0, 0.5} {
			r := model.NewRaw[float64](2, 3, 2)
			for _, p := range r.Params() {
				for j := range p {
					p[j] = float64(j + 1)
				}
			}
			o := newOptimizer(rawParams(r, model.NewRaw[float64](2, 3, 2)), Config{Optimizer: kind, WeightDecay: wd})
			o.step(0.1, 1)
			for k, p := range r.Params() {
				want := 1 - 0.1*wd
				if k%2 == 1 { // a bias
					want = 1
				}
				for j, v := range p {
					if v != float64(j+1)*want {
						t.Errorf("%s wd %v: %s[%d] = %v, want %v", kind, wd, model.ParamNames(2, "")[k], j, v, float64(j+1)*want)
					}
				}
			}
		}
	}
}

func TestCosine(t *testing.T) {
	c := Config{LR: 0.2, Iters: 100}
	if cosineLR(c, 1) != 0.2 || math.Abs(cosineLR(c, 51)-0.1) > 1e-15 || cosineLR(c, 100) >= 0.001 {
		t.Errorf("cosine: %v %v %v", cosineLR(c, 1), cosineLR(c, 51), cosineLR(c, 100))
	}
}

// The linear schedule, airbench94_muon's: LR (1 - (it-1)/T), through
// scheduleLR, and over ScheduleIters when set.
func TestLinear(t *testing.T) {
	c := Config{LR: 0.2, Iters: 100, Schedule: Linear}
	for _, tc := range []struct {
		it   int
		want float64
	}{{1, 0.2}, {51, 0.1}, {100, 0.002}} {
		if got := scheduleLR(c, tc.it); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("linear at %d: %v, want %v", tc.it, got, tc.want)
		}
	}
	c.ScheduleIters = 200
	if got := scheduleLR(c, 101); math.Abs(got-0.1) > 1e-15 {
		t.Errorf("linear at 101 of 200: %v, want 0.1", got)
	}
}
