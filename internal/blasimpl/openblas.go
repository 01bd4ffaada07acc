//go:build cgo && openblas

package blasimpl

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int num_threads);
char* openblas_get_config(void);
char* openblas_get_corename(void);
void dsyevd_(char* jobz, char* uplo, int* n, double* a, int* lda, double* w, double* work, int* lwork, int* iwork, int* liwork, int* info);
*/
import "C"

import (
	"fmt"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
)

// Use installs OpenBLAS, single-threaded, for blas64 and blas32, and returns
// its description.
func Use() string {
	C.openblas_set_num_threads(1)
	blas64.Use(netlib.Implementation{})
	blas32.Use(netlib.Implementation{})
	return Name()
}

// Name describes the BLAS in use.
func Name() string {
	return fmt.Sprintf("OpenBLAS (%s, kernel %s)", C.GoString(C.openblas_get_config()), C.GoString(C.openblas_get_corename()))
}

// Native reports whether a native BLAS is compiled in.
const Native = true

// EigenSym computes the eigenvalues (ascending) of the symmetric n x n
// matrix a into w and overwrites a with the eigenvectors, one per row,
// through LAPACK's dsyevd in OpenBLAS. It reports whether it converged.
func EigenSym(n int, a, w []float64) bool {
	if n == 0 {
		return true
	}
	if len(a) < n*n || len(w) < n {
		panic("blasimpl: EigenSym: short slices")
	}
	jobz, uplo := C.char('V'), C.char('U')
	nn, lda := C.int(n), C.int(n)
	var info C.int
	var wq C.double
	var iwq C.int
	lwork, liwork := C.int(-1), C.int(-1)
	// A row-major symmetric matrix is its own column-major transpose; the
	// eigenvectors come back as columns in column-major order, that is as
	// rows here.
	C.dsyevd_(&jobz, &uplo, &nn, (*C.double)(&a[0]), &lda, (*C.double)(&w[0]), &wq, &lwork, &iwq, &liwork, &info)
	if info != 0 {
		return false
	}
	work := make([]C.double, int(wq))
	iwork := make([]C.int, int(iwq))
	lwork, liwork = C.int(len(work)), C.int(len(iwork))
	C.dsyevd_(&jobz, &uplo, &nn, (*C.double)(&a[0]), &lda, (*C.double)(&w[0]), &work[0], &lwork, &iwork[0], &liwork, &info)
	return info == 0
}
