package blastrap

import (
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// The trap catches a call that goes through blas64 or blas32, even one
// hidden in gonum's mat, and Restore undoes it.
func TestTrapCatchesBLASCalls(t *testing.T) {
	Install()
	defer Restore()
	cases := []struct {
		name string
		call func()
	}{
		{"Daxpy", func() { blas64.Implementation().Daxpy(1, 2, []float64{1}, 1, []float64{1}, 1) }},
		{"Dsdot", func() { blas32.Implementation().Dsdot(1, []float32{1}, 1, []float32{1}, 1) }},
		{"Saxpy", func() { blas32.Implementation().Saxpy(1, 2, []float32{1}, 1, []float32{1}, 1) }},
		{"Dgemm", func() {
			var c mat.Dense
			c.Mul(mat.NewDense(2, 2, []float64{1, 2, 3, 4}), mat.NewDense(2, 2, []float64{1, 0, 0, 1}))
		}},
		{"", func() { blas64.Implementation().Drotg(1, 2) }}, // not named: a nil dereference
	}
	for _, c := range cases {
		msg := func() (msg string) {
			defer func() { msg = fmtPanic(recover()) }()
			c.call()
			return ""
		}()
		if msg == "" || !strings.Contains(msg, c.name) {
			t.Errorf("%s: panic %q", c.name, msg)
		}
	}
	Restore()
	if got := blas64.Implementation().Ddot(2, []float64{1, 2}, 1, []float64{3, 4}, 1); got != 11 {
		t.Errorf("after Restore, Ddot = %v, want 11", got)
	}
}

func fmtPanic(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case error:
		return v.Error()
	}
	return "panic"
}
