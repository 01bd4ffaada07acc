//go:build !amd64

package vmath

// simdKernels returns no assembly kernels: this architecture has only the
// plain-Go one.
func simdKernels() []kernel { return nil }

// hasAVX2 is false: Add and Transpose run in plain Go.
var hasAVX2 = false

func addS_avx2(dst, src *float32, n int) { panic("no AVX2") }

func transposeS_avx2(dst *float32, ldd int, src *float32, lds int, r, c int) { panic("no AVX2") }
