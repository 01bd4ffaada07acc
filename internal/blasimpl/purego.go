//go:build !(cgo && openblas)

package blasimpl

// Use does nothing: the default build has no other BLAS. It returns Name.
func Use() string { return Name() }

// Name describes the BLAS linked in.
func Name() string { return "none linked (build with -tags openblas for OpenBLAS as a GEMM backend)" }

// Native reports whether a native BLAS is compiled in.
const Native = false
