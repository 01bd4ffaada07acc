package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
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

// gemmFunc is one Sgemm implementation under test.
type gemmFunc func(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

func benchmarkShapes(b *testing.B, f gemmFunc) {
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
			f(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			b.ResetTimer()
			for range b.N {
				f(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			}
			sink = c[0]
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

// BenchmarkSgemm times every kernel of this CPU on one and on all threads.
func BenchmarkSgemm(b *testing.B) {
	saved := Kernel()
	defer Use(saved)
	for _, name := range Kernels() {
		if name == "go" {
			continue // about 1 GFLOPS: BenchmarkSgemmGoKernel
		}
		Use(name)
		for _, nt := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", name, nt), func(b *testing.B) {
				benchmarkShapes(b, func(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
					GemmThreads(nt, tA, tB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc)
				})
			})
		}
	}
}

// BenchmarkSgemmGonum is the baseline: gonum's pure-Go Sgemm.
func BenchmarkSgemmGonum(b *testing.B) {
	benchmarkShapes(b, gonum.Implementation{}.Sgemm)
}
