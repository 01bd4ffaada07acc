// Package blastrap is for tests: Install puts a BLAS behind gonum's blas64
// and blas32 that panics on any call, naming the routine, so that a test
// fails when a step of the training or scoring path reaches a BLAS chosen
// at run time (OpenBLAS in the openblas build, whose fused, CPU-dependent
// kernels would make the bits depend on the machine) instead of nettrain's
// own arithmetic. The matrix products are not affected: they run on
// internal/gemm, which calls no blas64 or blas32.
package blastrap

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
)

// Install installs the trap for the rest of the process (call it from
// TestMain; blas64 and blas32 cannot be restored to what they were).
func Install() {
	blas64.Use(trap64{})
	blas32.Use(trap32{})
}

// Restore puts gonum's pure-Go BLAS back, for code in the same process
// that uses gonum's mat on purpose (a reference in a test).
func Restore() {
	blas64.Use(gonum.Implementation{})
	blas32.Use(gonum.Implementation{})
}

func reached(routine string) string {
	return fmt.Sprintf("blastrap: %s reached through gonum's blas64/blas32: "+
		"the training and scoring path must use nettrain's own arithmetic, not a BLAS chosen at run time", routine)
}

// trap64 names the routines a training step could plausibly call; any
// other (the embedded nil interface) panics too, with a nil dereference.
type trap64 struct{ blas.Float64 }

func (trap64) Ddot(int, []float64, int, []float64, int) float64 { panic(reached("Ddot")) }
func (trap64) Dnrm2(int, []float64, int) float64                { panic(reached("Dnrm2")) }
func (trap64) Dasum(int, []float64, int) float64                { panic(reached("Dasum")) }
func (trap64) Idamax(int, []float64, int) int                   { panic(reached("Idamax")) }
func (trap64) Dcopy(int, []float64, int, []float64, int)        { panic(reached("Dcopy")) }
func (trap64) Daxpy(int, float64, []float64, int, []float64, int) {
	panic(reached("Daxpy"))
}
func (trap64) Dscal(int, float64, []float64, int) { panic(reached("Dscal")) }
func (trap64) Dgemv(blas.Transpose, int, int, float64, []float64, int, []float64, int, float64, []float64, int) {
	panic(reached("Dgemv"))
}
func (trap64) Dger(int, int, float64, []float64, int, []float64, int, []float64, int) {
	panic(reached("Dger"))
}
func (trap64) Dgemm(blas.Transpose, blas.Transpose, int, int, int, float64, []float64, int, []float64, int, float64, []float64, int) {
	panic(reached("Dgemm"))
}
func (trap64) Dsyrk(blas.Uplo, blas.Transpose, int, int, float64, []float64, int, float64, []float64, int) {
	panic(reached("Dsyrk"))
}

type trap32 struct{ blas.Float32 }

func (trap32) Sdot(int, []float32, int, []float32, int) float32  { panic(reached("Sdot")) }
func (trap32) Dsdot(int, []float32, int, []float32, int) float64 { panic(reached("Dsdot")) }
func (trap32) Sdsdot(int, float32, []float32, int, []float32, int) float32 {
	panic(reached("Sdsdot"))
}
func (trap32) Snrm2(int, []float32, int) float32         { panic(reached("Snrm2")) }
func (trap32) Sasum(int, []float32, int) float32         { panic(reached("Sasum")) }
func (trap32) Isamax(int, []float32, int) int            { panic(reached("Isamax")) }
func (trap32) Scopy(int, []float32, int, []float32, int) { panic(reached("Scopy")) }
func (trap32) Saxpy(int, float32, []float32, int, []float32, int) {
	panic(reached("Saxpy"))
}
func (trap32) Sscal(int, float32, []float32, int) { panic(reached("Sscal")) }
func (trap32) Sgemv(blas.Transpose, int, int, float32, []float32, int, []float32, int, float32, []float32, int) {
	panic(reached("Sgemv"))
}
func (trap32) Sger(int, int, float32, []float32, int, []float32, int, []float32, int) {
	panic(reached("Sger"))
}
func (trap32) Sgemm(blas.Transpose, blas.Transpose, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int) {
	panic(reached("Sgemm"))
}
func (trap32) Ssyrk(blas.Uplo, blas.Transpose, int, int, float32, []float32, int, float32, []float32, int) {
	panic(reached("Ssyrk"))
}
