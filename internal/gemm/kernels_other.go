//go:build !amd64

package gemm

// simdKernels returns no assembly kernels: this architecture has only the
// plain-Go one.
func simdKernels() ([]kernel[float32], []kernel[float64]) { return nil, nil }

// simdKernelsB returns no assembly kernels for GemmBF16.
func simdKernelsB() []kernelB { return nil }

// convertRow sets dst[i] = BF16(src[i]), len(dst) == len(src).
func convertRow(dst []uint16, src []float32) {
	for i, v := range src {
		dst[i] = BF16(v)
	}
}

// pairRow sets dst[j] = pair(lo[j], hi[j]), the three the same length.
func pairRow(dst []uint32, lo, hi []float32) {
	for j, v := range lo {
		dst[j] = pair(v, hi[j])
	}
}
