package sgd_test

import (
	"context"
	"math"
	"testing"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/sgd"
)

// The float32 fast path against the float64 reference: the same run (seed,
// data, hyperparameters) gives the same loss curve within 1e-4 relative over
// 300 iterations, and the same predictions.
func TestFloat32MatchesFloat64(t *testing.T) {
	data := testData(1000, 200, 8)
	run := func(precision model.Precision) (*model.Net, sgd.History) {
		net := sgd.Init([]int{cifar.D, 40, cifar.Classes}, 1e-4, 8)
		cfg := sgd.Config{Iters: 300, Batch: 50, LR: 3e-4, LRDecay: 0.95, Reg: 0.25, Seed: 8, Precision: precision}
		hist, err := sgd.Train(context.Background(), net, data, cfg, sgd.Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		return net, hist
	}
	n64, h64 := run(sgd.Float64)
	n32, h32 := run(sgd.Float32)
	worst := curveDiff(h32, h64)
	t.Logf("loss %.4f -> %.4f; largest relative difference float32 vs float64: %.2e", h64.Loss[0], h64.Loss[len(h64.Loss)-1], worst)
	if worst > 1e-4 {
		t.Errorf("float32 loss curve differs from float64 by up to %.2e relative, want <= 1e-4", worst)
	}
	if h64.Loss[len(h64.Loss)-1] > 0.8*h64.Loss[0] {
		t.Errorf("the run learnt too little to compare: loss %v -> %v", h64.Loss[0], h64.Loss[len(h64.Loss)-1])
	}
	for _, s := range []cifar.Set{data.Train, data.Val} {
		p64 := n64.PredictSet(nil, s, data.Mean)
		p32 := model.PredictSet(model.RawOf[float32](n32), nil, s, data.Mean)
		diff := 0
		for i := range p64 {
			if p64[i] != p32[i] {
				diff++
			}
		}
		if diff > 0 {
			t.Errorf("%d of %d predictions differ between float32 and float64", diff, len(p64))
		}
	}
}

// The same with batch and layer normalisation (two hidden layers): float32
// training follows float64's loss curve, and batch norm's running
// statistics, which evaluation uses, agree too.
func TestFloat32MatchesFloat64Norm(t *testing.T) {
	data := testData(1000, 200, 8)
	for _, norm := range []model.Norm{model.BatchNorm, model.LayerNorm} {
		run := func(precision model.Precision) (*model.Net, sgd.History) {
			net := sgd.InitNorm(norm, []int{cifar.D, 40, 20, cifar.Classes}, 1e-2, 8)
			cfg := sgd.Config{Iters: 200, Batch: 50, LR: 1e-2, LRDecay: 0.95, Reg: 1e-3, Seed: 8, Precision: precision, Optimizer: sgd.Nesterov}
			hist, err := sgd.Train(context.Background(), net, data, cfg, sgd.Hooks{})
			if err != nil {
				t.Fatal(err)
			}
			return net, hist
		}
		n64, h64 := run(sgd.Float64)
		n32, h32 := run(sgd.Float32)
		worst := curveDiff(h32, h64)
		t.Logf("%s: loss %.4f -> %.4f; largest relative difference float32 vs float64: %.2e", norm, h64.Loss[0], h64.Loss[len(h64.Loss)-1], worst)
		if worst > 1e-4 {
			t.Errorf("%s: float32 loss curve differs from float64 by up to %.2e relative, want <= 1e-4", norm, worst)
		}
		if h64.Loss[len(h64.Loss)-1] > 0.8*h64.Loss[0] {
			t.Errorf("%s: the run learnt too little to compare: loss %v -> %v", norm, h64.Loss[0], h64.Loss[len(h64.Loss)-1])
		}
		for k, s := range n64.Stats() {
			for i, v := range s {
				if math.Abs(n32.Stats()[k][i]-v) > 1e-3*(math.Abs(v)+1e-3) {
					t.Fatalf("%s: %s[%d] float32 %v, float64 %v", norm, n64.StatNames()[k], i, n32.Stats()[k][i], v)
				}
			}
		}
	}
}

// curveDiff returns the largest relative difference between two runs' loss
// curves.
func curveDiff(h32, h64 sgd.History) float64 {
	worst := 0.0
	for i := range h64.Loss {
		worst = max(worst, math.Abs(h32.Loss[i]-h64.Loss[i])/h64.Loss[i])
	}
	return worst
}
