//go:build cgo && openblas

package blasimpl

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int num_threads);
char* openblas_get_config(void);
char* openblas_get_corename(void);
*/
import "C"

import (
	"fmt"
	"sync"

	"gonum.org/v1/netlib/blas/netlib"

	"github.com/nettrain/nettrain/internal/gemm"
)

var once sync.Once

// Use registers OpenBLAS, single-threaded, with internal/gemm as the backend
// "openblas" (used for the net's products only when NETTRAIN_GEMM=openblas),
// once however often it is called, and returns its description. It leaves
// gonum's blas64 and blas32 as they are: OpenBLAS's kernels fuse
// multiply-adds and sum in their own order, which would make the bits of
// anything else depend on the CPU.
func Use() string {
	once.Do(func() {
		C.openblas_set_num_threads(1)
		gemm.Register(gemm.Backend{Name: "openblas", Sgemm: netlib.Implementation{}.Sgemm, Dgemm: netlib.Implementation{}.Dgemm})
	})
	return Name()
}

// Name describes the BLAS linked in.
func Name() string {
	return fmt.Sprintf("OpenBLAS (%s, kernel %s), only as the GEMM backend NETTRAIN_GEMM=openblas selects",
		C.GoString(C.openblas_get_config()), C.GoString(C.openblas_get_corename()))
}

// Native reports whether a native BLAS is compiled in.
const Native = true
