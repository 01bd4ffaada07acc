package blasimpl

import (
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/floats"

	"github.com/nettrain/nettrain/internal/gemm"
)

// Use leaves gonum's blas64 and blas32 on their pure-Go implementation
// (OpenBLAS's fused, CPU-dependent kernels must not reach anything but the
// GEMM backend), registers OpenBLAS as the "openblas" backend in the
// openblas build, and can be called twice.
func TestUseOnlyRegistersTheBackend(t *testing.T) {
	name := Use()
	Use()
	if Native != strings.HasPrefix(name, "OpenBLAS") {
		t.Errorf("Native %v but Use says %q", Native, name)
	}
	if _, ok := blas64.Implementation().(gonum.Implementation); !ok {
		t.Errorf("after Use, blas64 is %T, want gonum's pure Go", blas64.Implementation())
	}
	if _, ok := blas32.Implementation().(gonum.Implementation); !ok {
		t.Errorf("after Use, blas32 is %T, want gonum's pure Go", blas32.Implementation())
	}
	if !Native {
		if err := gemm.Use("openblas"); err == nil {
			t.Error(`gemm.Use("openblas") succeeded in a build without OpenBLAS`)
		}
		return
	}
	kernel := gemm.Kernel()
	if err := gemm.Use("openblas"); err != nil {
		t.Fatalf("the openblas backend is not registered: %v", err)
	}
	defer gemm.Use(kernel)

	// The backend agrees with gonum's pure-Go Dgemm to rounding.
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
	gemm.GemmThreads(1, blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, got, n)
	gonum.Implementation{}.Dgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, 0, want, n)
	if !floats.EqualApprox(got, want, 1e-12) {
		t.Errorf("%s Dgemm differs from gonum's", name)
	}
}
