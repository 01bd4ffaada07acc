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

func BenchmarkWeightGradShapes(b *testing.B) {
	const F, CKK, NP = 32, 147, 51200
	dtmpFNP := make([]float32, F*NP)  // (F, NP)
	dtmpNPF := make([]float32, NP*F)  // (NP, F)
	colsCN := make([]float32, CKK*NP) // (CKK, NP)
	rowsNC := make([]float32, NP*CKK) // (NP, CKK)
	dW := make([]float32, F*CKK)
	for _, s := range []struct {
		name string
		f    func()
	}{
		{"now F.CKK.NP NT", func() { gemm.Gemm(blas.NoTrans, blas.Trans, F, CKK, NP, 1, dtmpFNP, NP, colsCN, NP, 0, dW, CKK) }},
		{"dWT CKK.F.NP NN", func() { gemm.Gemm(blas.NoTrans, blas.NoTrans, CKK, F, NP, 1, colsCN, NP, dtmpNPF, F, 0, dW, F) }},
		{"rows F.CKK.NP TN", func() { gemm.Gemm(blas.Trans, blas.NoTrans, F, CKK, NP, 1, dtmpNPF, F, rowsNC, CKK, 0, dW, CKK) }},
		{"rows CKK.F.NP TN", func() { gemm.Gemm(blas.Trans, blas.NoTrans, CKK, F, NP, 1, rowsNC, CKK, dtmpNPF, F, 0, dW, F) }},
		{"fwd rows NP.F.CKK NT", func() { gemm.Gemm(blas.NoTrans, blas.Trans, NP, F, CKK, 1, rowsNC, CKK, dW, CKK, 0, dtmpNPF, F) }},
		{"fwd cols NP.F.CKK TT", func() { gemm.Gemm(blas.Trans, blas.Trans, NP, F, CKK, 1, colsCN, NP, dW, CKK, 0, dtmpNPF, F) }},
		{"fwd now F.NP.CKK NN", func() { gemm.Gemm(blas.NoTrans, blas.NoTrans, F, NP, CKK, 1, dW, CKK, colsCN, NP, 0, dtmpFNP, NP) }},
	} {
		b.Run(s.name, func(b *testing.B) {
			for range b.N {
				s.f()
			}
			b.ReportMetric(2*float64(F*CKK*NP)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}
