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

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"

	"github.com/nettrain/nettrain/internal/gemm"
)

// Use installs OpenBLAS, single-threaded, for blas64 and blas32, registers
// it with internal/gemm as the backend "openblas" (used for the net's
// products only when NETTRAIN_GEMM=openblas), and returns its description.
func Use() string {
	C.openblas_set_num_threads(1)
	blas64.Use(netlib.Implementation{})
	blas32.Use(netlib.Implementation{})
	gemm.Register(gemm.Backend{Name: "openblas", Sgemm: netlib.Implementation{}.Sgemm, Dgemm: netlib.Implementation{}.Dgemm})
	return Name()
}

// Name describes the BLAS in use.
func Name() string {
	return fmt.Sprintf("OpenBLAS (%s, kernel %s)", C.GoString(C.openblas_get_config()), C.GoString(C.openblas_get_corename()))
}

// Native reports whether a native BLAS is compiled in.
const Native = true
