package model

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas/gonum"
)

// axpy and sumSquares are our own so that no BLAS chosen at run time can
// change the bits; on amd64 they give exactly the bits of gonum's pure-Go
// Daxpy, Saxpy and Ddot, which the pinned weights and losses were made
// with. (gonum's Dsdot sums in an order that depends on the slice's
// alignment, so the float32 sum of squares is held to its value only.)
func TestOwnArithmeticIsGonums(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("gonum's kernels are assembly, without fused multiply-adds, on amd64 only")
	}
	rng := rand.New(rand.NewPCG(3, 3))
	g := gonum.Implementation{}
	for _, n := range []int{0, 1, 3, 4, 5, 7, 8, 33, 1000, 3073} {
		x64, y64 := make([]float64, n), make([]float64, n)
		x32, y32 := make([]float32, n), make([]float32, n)
		for i := range n {
			x64[i], y64[i] = rng.NormFloat64(), rng.NormFloat64()
			x32[i], y32[i] = float32(x64[i]), float32(y64[i])
		}
		const alpha = -1.234567e-3
		want64, want32 := append([]float64(nil), y64...), append([]float32(nil), y32...)
		g.Daxpy(n, alpha, x64, 1, want64, 1)
		g.Saxpy(n, float32(alpha), x32, 1, want32, 1)
		axpy(alpha, x64, y64)
		axpy(alpha, x32, y32)
		for i := range n {
			if math.Float64bits(y64[i]) != math.Float64bits(want64[i]) || math.Float32bits(y32[i]) != math.Float32bits(want32[i]) {
				t.Fatalf("n %d: axpy[%d] = %v, %v; gonum's %v, %v", n, i, y64[i], y32[i], want64[i], want32[i])
			}
		}
		if got, want := sumSquares(x64), g.Ddot(n, x64, 1, x64, 1); math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("n %d: sumSquares %v, gonum's Ddot %v", n, got, want)
		}
		if got, want := sumSquares(x32), g.Dsdot(n, x32, 1, x32, 1); math.Abs(got-want) > 1e-12*want {
			t.Errorf("n %d: float32 sumSquares %v, gonum's Dsdot %v", n, got, want)
		}
	}
}

// A row whose scores are not all finite gets no class, and CheckFinite
// says so; finite rows get their argmax.
func TestPredictNotFinite(t *testing.T) {
	r := NewRaw[float64](2, 3, 2)
	// Inputs of 1e300 through weights of 1e300 overflow to +Inf, and
	// +Inf - +Inf in the next layer is NaN.
	for i := range r.W[0] {
		r.W[0][i] = 1e300
	}
	r.W[1][0], r.W[1][1] = 1, -1
	pred := r.Predict(nil, nil, []float64{1e300, 1e300, 0, 0})
	if pred[0] != NotFinite || pred[1] == NotFinite {
		t.Errorf("Predict = %v, want NotFinite then a class", pred)
	}
	if err := CheckFinite(pred); err == nil {
		t.Error("CheckFinite accepts a NotFinite row")
	}
	if err := CheckFinite([]uint8{0, 1}); err != nil {
		t.Errorf("CheckFinite of finite rows: %v", err)
	}
}
