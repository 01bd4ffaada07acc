//go:build !amd64

package vmath

// simdKernels returns no assembly kernels: this architecture has only the
// plain-Go one.
func simdKernels() []kernel { return nil }
