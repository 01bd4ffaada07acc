//go:build !(cgo && openblas)

package blasimpl

import "gonum.org/v1/gonum/mat"

// Use keeps gonum's pure-Go BLAS and returns its description.
func Use() string { return Name() }

// Name describes the BLAS in use.
func Name() string { return "gonum pure Go (build with -tags openblas for OpenBLAS)" }

// Native reports whether a native BLAS is compiled in.
const Native = false

// EigenSym computes the eigenvalues (ascending) of the symmetric n x n
// matrix a into w and overwrites a with the eigenvectors, one per row,
// through gonum's pure-Go LAPACK. It reports whether it converged.
func EigenSym(n int, a, w []float64) bool {
	var eig mat.EigenSym
	if !eig.Factorize(mat.NewSymDense(n, a[:n*n:n*n]), true) {
		return false
	}
	eig.Values(w[:n])
	var u mat.Dense
	eig.VectorsTo(&u)
	for i := range n { // u holds eigenvectors as columns
		for j := range n {
			a[i*n+j] = u.At(j, i)
		}
	}
	return true
}
