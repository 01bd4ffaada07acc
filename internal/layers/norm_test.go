package layers

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Spatial batch norm against the naive definition, its gradients in
// training and in evaluation, and Track's running statistics.
func TestBatchNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, in := range []Shape{{3, 4, 5}, {1, 1, 1}, {6, 1, 1}, {2, 7, 3}} {
		n := 3
		b := NewBatchNorm[float64]("1", in)
		copy(b.Gamma.V, randSlice(rng, in.C, 1))
		copy(b.Beta.V, randSlice(rng, in.C, 1))
		x := randSlice(rng, n*in.Size(), 2)
		for i := range x {
			x[i] += 3
		}
		want := BatchNormNaive(x, n, in, b.Gamma.V, b.Beta.V)
		if i := closeTo(b.Forward(x, n, true), want, 1e-14); i >= 0 {
			t.Fatalf("%v: y[%d] %v, naive %v", in, i, b.y[i], want[i])
		}
		if e := gradCheck(t, b, x, n, true, 1); e > 1e-7 {
			t.Errorf("%v: training: largest relative error %.2e", in, e)
		}
		b.Forward(x, n, true)
		b.Track(0.1)
		for c := range in.C {
			mu, vr := 0.0, 0.0
			cnt := float64(n * in.H * in.W)
			for e := range n {
				for _, v := range x[(e*in.C+c)*in.H*in.W:][:in.H*in.W] {
					mu += v / cnt
				}
			}
			for e := range n {
				for _, v := range x[(e*in.C+c)*in.H*in.W:][:in.H*in.W] {
					vr += (v - mu) * (v - mu) / cnt
				}
			}
			if math.Abs(b.RunMean[c]-0.1*mu) > 1e-12 || math.Abs(b.RunVar[c]-(0.9+0.1*vr)) > 1e-12 {
				t.Errorf("%v: running %v, %v after one Track, want %v, %v", in, b.RunMean[c], b.RunVar[c], 0.1*mu, 0.9+0.1*vr)
			}
		}
		if e := gradCheck(t, b, x, n, false, 2); e > 1e-7 {
			t.Errorf("%v: evaluation: largest relative error %.2e", in, e)
		}
	}
}
