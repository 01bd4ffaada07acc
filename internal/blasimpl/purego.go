//go:build !(cgo && openblas)

package blasimpl

// Use keeps gonum's pure-Go BLAS and returns its description.
func Use() string { return Name() }

// Name describes the BLAS in use.
func Name() string { return "gonum pure Go (build with -tags openblas for OpenBLAS)" }

// Native reports whether a native BLAS is compiled in.
const Native = false
