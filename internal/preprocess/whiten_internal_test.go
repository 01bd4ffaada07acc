package preprocess

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// invSqrt agrees with the inverse square root from gonum's
// eigendecomposition, on a positive semi-definite matrix of low rank (as a
// covariance of few images is) with a small regulariser.
func TestInvSqrtMatchesEigen(t *testing.T) {
	const n, rank = 60, 20
	rng := rand.New(rand.NewPCG(1, 1))
	f := mat.NewDense(rank, n, nil)
	for i := range rank {
		for j := range n {
			f.Set(i, j, rng.NormFloat64()*float64(i+1))
		}
	}
	var g mat.Dense
	g.Mul(f.T(), f) // (n, n), rank 20
	const scale, e = 0.5, 1e-3
	got, err := invSqrt(g.RawMatrix().Data, n, scale, e)
	if err != nil {
		t.Fatal(err)
	}
	var a mat.SymDense
	a.SymOuterK(scale, f.T())
	for i := range n {
		a.SetSym(i, i, a.At(i, i)+e)
	}
	var eig mat.EigenSym
	if !eig.Factorize(&a, true) {
		t.Fatal("eigendecomposition failed")
	}
	vals := eig.Values(nil)
	var v mat.Dense
	eig.VectorsTo(&v)
	want := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			var s float64
			for k, l := range vals {
				s += v.At(i, k) * v.At(j, k) / math.Sqrt(l)
			}
			want.Set(i, j, s)
		}
	}
	for i := range n {
		for j := range n {
			w := want.At(i, j)
			// cond(A) is about 1e6 here; relative to Z's largest entries.
			if d := math.Abs(got[i*n+j] - w); !(d <= 1e-8*math.Abs(want.At(i, i))+1e-9) {
				t.Fatalf("Z[%d,%d] = %v, eigen %v", i, j, got[i*n+j], w)
			}
		}
	}
}

// invSqrt says it did not converge instead of returning garbage.
func TestInvSqrtRefusesBadInput(t *testing.T) {
	g := []float64{math.Inf(1), 0, 0, 1}
	if _, err := invSqrt(g, 2, 1, 1e-3); err == nil {
		t.Error("no error for an infinite covariance")
	}
}
