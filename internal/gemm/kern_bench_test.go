package gemm

import "testing"

// BenchmarkMicroKernel times the micro-kernel alone on one tile whose
// operands stay in cache: the ceiling the blocking works towards.
func BenchmarkMicroKernel(b *testing.B) {
	saved := Kernel()
	defer Use(saved)
	for _, name := range Kernels() {
		Use(name)
		kr := kernelFor[float32](current.Load())
		for _, mode := range []string{"rows", "cols"} {
			b.Run(name+"/"+mode, func(b *testing.B) {
				a := make([]float32, kc*kr.mr)
				bp := make([]float32, kc*kr.nr)
				c := make([]float32, kr.mr*kr.nr)
				fn, lda := kr.rows, kc
				if mode == "cols" {
					fn, lda = kr.cols, kr.mr
				}
				for range b.N {
					fn(kc, &a[0], lda, &bp[0], kr.nr, &c[0], kr.nr, &c[0], true)
				}
				b.ReportMetric(2*float64(kc*kr.mr*kr.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}

// BenchmarkMicroKernelBF16 is BenchmarkMicroKernel for GemmBF16's kernels
// (a step is a pair: 4 flops per multiply-add lane).
func BenchmarkMicroKernelBF16(b *testing.B) {
	for _, kr := range kernelsB {
		if kr.rows == nil { // a float32 kernel with FTZ: BenchmarkMicroKernel's speed
			continue
		}
		for _, mode := range []string{"rows", "cols"} {
			b.Run(kr.name+"/"+mode, func(b *testing.B) {
				a := make([]uint32, kcB*kr.mr)
				bp := make([]uint32, kcB*kr.nr)
				c := make([]float32, kr.mr*kr.nr)
				fn, lda := kr.rows, kcB
				if mode == "cols" {
					fn, lda = kr.cols, kr.mr
				}
				for range b.N {
					fn(kcB, &a[0], lda, &bp[0], kr.nr, &c[0], kr.nr, &c[0], true)
				}
				b.ReportMetric(4*float64(kcB*kr.mr*kr.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}
