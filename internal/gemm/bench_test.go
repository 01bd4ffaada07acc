package gemm_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"

	"github.com/nettrain/nettrain/internal/blasimpl"
	"github.com/nettrain/nettrain/internal/gemm"
)

// benchShapes are the products of a training step (batch 200, hidden 50 and
// 500, D 3072, C 10) and of scoring 500 images at hidden 500.
var benchShapes = []struct {
	name    string
	tA, tB  blas.Transpose
	m, n, k int
}{
	{"XW1_H50", blas.NoTrans, blas.NoTrans, 200, 50, 3072},
	{"XtDh_H50", blas.Trans, blas.NoTrans, 3072, 50, 200},
	{"XW1_H500", blas.NoTrans, blas.NoTrans, 200, 500, 3072},
	{"XtDh_H500", blas.Trans, blas.NoTrans, 3072, 500, 200},
	{"DsW2t_H500", blas.NoTrans, blas.Trans, 200, 500, 10},
	{"Score500_H500", blas.NoTrans, blas.NoTrans, 500, 500, 3072},
}

var sink float32

// benchmarkShape times one product shape on nt threads with the kernel or
// backend in use.
func benchmarkShape(b *testing.B, tA, tB blas.Transpose, m, n, k, nt int) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, bb, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	for i := range bb {
		bb[i] = float32(rng.NormFloat64())
	}
	lda, ldb := k, n
	if tA == blas.Trans {
		lda = m
	}
	if tB == blas.Trans {
		ldb = k
	}
	gemm.GemmThreads(nt, tA, tB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	b.ResetTimer()
	for range b.N {
		gemm.GemmThreads(nt, tA, tB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	}
	sink = c[0]
	b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}

// BenchmarkSgemm times float32 products of the net's shapes, each shape on
// every SIMD kernel of this CPU (one and two threads) and on the backends
// one after the other, so that their ratios come from the same moments:
// gonum's pure Go, and OpenBLAS in the openblas build (pinned to one
// thread; OPENBLAS_CORETYPE chooses its kernel).
func BenchmarkSgemm(b *testing.B) {
	blasimpl.Use()
	saved := gemm.Kernel()
	defer gemm.Use(saved)
	type impl struct {
		name string
		nt   int
	}
	var impls []impl
	for _, name := range gemm.Kernels() {
		if name != "go" { // about 0.5 GFLOPS: BenchmarkMicroKernel
			impls = append(impls, impl{name, 1}, impl{name, 2})
		}
	}
	for _, name := range []string{"gonum", "openblas"} {
		if gemm.Use(name) == nil { // openblas only in the openblas build
			impls = append(impls, impl{name, 1})
		}
	}
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			for _, im := range impls {
				gemm.Use(im.name)
				b.Run(fmt.Sprintf("%s/threads=%d", im.name, im.nt), func(b *testing.B) {
					benchmarkShape(b, s.tA, s.tB, s.m, s.n, s.k, im.nt)
				})
			}
		})
	}
}
