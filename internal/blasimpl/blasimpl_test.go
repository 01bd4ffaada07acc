package blasimpl

import (
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/floats"
)

// Whatever Use installs agrees with gonum's pure-Go Dgemm.
func TestUseAgreesWithGonum(t *testing.T) {
	name := Use()
	if Native != strings.HasPrefix(name, "OpenBLAS") {
		t.Errorf("Native %v but Use says %q", Native, name)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	m, n, k := 37, 23, 301
	a, b := make([]float64, m*k), make([]float64, k*n)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	got, want := make([]float64, m*n), make([]float64, m*n)
	blas64.Implementation().Dgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, got, n)
	gonum.Implementation{}.Dgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, want, n)
	if !floats.EqualApprox(got, want, 1e-12) {
		t.Errorf("%s Dgemm differs from gonum's", name)
	}
}
