package gemm_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
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

func benchmarkShapes(b *testing.B, nt int) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			a, bb, c := make([]float32, s.m*s.k), make([]float32, s.k*s.n), make([]float32, s.m*s.n)
			for i := range a {
				a[i] = float32(rng.NormFloat64())
			}
			for i := range bb {
				bb[i] = float32(rng.NormFloat64())
			}
			lda, ldb := s.k, s.n
			if s.tA == blas.Trans {
				lda = s.m
			}
			if s.tB == blas.Trans {
				ldb = s.k
			}
			gemm.GemmThreads(nt, s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			b.ResetTimer()
			for range b.N {
				gemm.GemmThreads(nt, s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			}
			sink = c[0]
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

// BenchmarkSgemm times float32 products of the net's shapes on every SIMD
// kernel of this CPU, on one and two threads, and on the backends (gonum's
// pure Go; OpenBLAS in the openblas build, which pins it to one thread and
// lets OPENBLAS_CORETYPE choose its kernel).
func BenchmarkSgemm(b *testing.B) {
	blasimpl.Use()
	saved := gemm.Kernel()
	defer gemm.Use(saved)
	for _, name := range append(slices.DeleteFunc(gemm.Kernels(), func(s string) bool { return s == "go" }), "gonum", "openblas") {
		if err := gemm.Use(name); err != nil {
			continue // openblas without the build tag
		}
		threads := []int{1, 2}
		if !slices.Contains(gemm.Kernels(), name) {
			threads = []int{1}
		}
		for _, nt := range threads {
			b.Run(fmt.Sprintf("%s/threads=%d", name, nt), func(b *testing.B) { benchmarkShapes(b, nt) })
		}
	}
}
