//go:build !amd64

package gemm

// simdKernels returns no assembly kernels: this architecture has only the
// plain-Go one.
func simdKernels() ([]kernel[float32], []kernel[float64]) { return nil, nil }
