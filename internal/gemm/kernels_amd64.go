package gemm

import "golang.org/x/sys/cpu"

//go:generate go run ./asmgen -out kernel_amd64.s -stubs kernel_amd64.go -pkg gemm

// simdKernels returns the assembly kernels this CPU runs, best first.
func simdKernels() (s32 []kernel[float32], s64 []kernel[float64]) {
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ {
		s32 = append(s32, kernel[float32]{"avx512", 12, 32, kernS_avx512_rows, kernS_avx512_cols})
		s64 = append(s64, kernel[float64]{"avx512", 12, 16, kernD_avx512_rows, kernD_avx512_cols})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		s32 = append(s32, kernel[float32]{"avx2", 6, 16, kernS_avx2_rows, kernS_avx2_cols})
		s64 = append(s64, kernel[float64]{"avx2", 6, 8, kernD_avx2_rows, kernD_avx2_cols})
	}
	return s32, s64
}
