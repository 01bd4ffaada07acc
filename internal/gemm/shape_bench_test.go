package gemm_test

import (
	"fmt"
	"testing"

	"gonum.org/v1/gonum/blas"

	"github.com/nettrain/nettrain/internal/gemm"
)

func BenchmarkConvShapes(b *testing.B) {
	for _, s := range []struct {
		tA, tB  blas.Transpose
		m, n, k int
	}{
		{blas.NoTrans, blas.NoTrans, 32, 51200, 147},
		{blas.Trans, blas.NoTrans, 51200, 32, 147},
		{blas.NoTrans, blas.Trans, 32, 147, 51200},
		{blas.NoTrans, blas.NoTrans, 50, 100, 8192},
		{blas.Trans, blas.NoTrans, 8192, 100, 50},
		{blas.NoTrans, blas.NoTrans, 512, 512, 512},
	} {
		b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k), func(b *testing.B) {
			a := make([]float32, s.m*s.k)
			bb := make([]float32, s.k*s.n)
			c := make([]float32, s.m*s.n)
			lda, ldb := s.k, s.n
			if s.tA == blas.Trans {
				lda = s.m
			}
			if s.tB == blas.Trans {
				ldb = s.k
			}
			for range b.N {
				gemm.Gemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}
