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

// BenchmarkBF16Airbench times the products of airbench's convolutions as
// internal/layers runs them (one thread, a block of examples at a time:
// forward rows x W^T, W's gradient rows^T x dY, the input's gradient
// dY x W) in float32 (Gemm) and in bfloat16 (GemmBF16), one after the
// other, so that their ratio comes from the same moments.
func BenchmarkBF16Airbench(b *testing.B) {
	for _, s := range []struct{ c, hw, f int }{{24, 31, 64}, {64, 15, 64}, {64, 15, 256}, {256, 7, 256}, {256, 3, 256}} {
		ckk, hw := 9*s.c, s.hw*s.hw
		rows := max(1, (512<<10)/(hw*ckk*4), (512+hw-1)/hw) * hw // layers' blockExamples
		grows := max(rows, (2048+hw-1)/hw*hw)                    // and gradExamples
		for _, p := range []struct {
			name    string
			tA, tB  blas.Transpose
			m, n, k int
		}{
			{"fwd", blas.NoTrans, blas.Trans, rows, s.f, ckk},
			{"wgrad", blas.Trans, blas.NoTrans, ckk, s.f, grows},
			{"igrad", blas.NoTrans, blas.NoTrans, rows, ckk, s.f},
		} {
			a := make([]float32, p.m*p.k)
			bb := make([]float32, p.k*p.n)
			c := make([]float32, p.m*p.n)
			for i := range a {
				a[i] = float32(i%7) - 3
			}
			for i := range bb {
				bb[i] = float32(i%5) - 2
			}
			lda, ldb := p.k, p.n
			if p.tA == blas.Trans {
				lda = p.m
			}
			if p.tB == blas.Trans {
				ldb = p.k
			}
			for _, prec := range []string{"float32", "bf16"} {
				b.Run(fmt.Sprintf("%dx%dx%d-%d/%s/%s", s.c, s.hw, s.hw, s.f, p.name, prec), func(b *testing.B) {
					for range b.N {
						if prec == "bf16" {
							gemm.GemmBF16(1, p.tA, p.tB, p.m, p.n, p.k, a, lda, bb, ldb, 0, c, p.n)
						} else {
							gemm.GemmThreads(1, p.tA, p.tB, p.m, p.n, p.k, 1, a, lda, bb, ldb, 0, c, p.n)
						}
					}
					b.ReportMetric(2*float64(p.m*p.n*p.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
				})
			}
		}
	}
}
