package vmath

import "golang.org/x/sys/cpu"

// simdKernels returns the assembly kernels this CPU runs, best first.
func simdKernels() []kernel {
	var k []kernel
	if cpu.X86.HasAVX512F {
		k = append(k, kernel{"avx512", 8, geluS_avx512, geluGradS_avx512})
	}
	if cpu.X86.HasAVX2 {
		k = append(k, kernel{"avx2", 4, geluS_avx2, geluGradS_avx2})
	}
	return k
}

// hasAVX2 says whether Add and Transpose run their AVX2 kernels.
var hasAVX2 = cpu.X86.HasAVX2
