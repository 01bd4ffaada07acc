package layers

import (
	"math"

	"github.com/nettrain/nettrain/internal/gemm"
	"github.com/nettrain/nettrain/internal/vmath"
)

// Act is an elementwise activation: ReLU, max(x, 0), or GELU, x Phi(x)
// with the exact normal CDF (PyTorch's default, not the tanh
// approximation): in float64 from math.Erf, in float32 by vmath.GELU
// (Abramowitz and Stegun's 7.1.26, within 7.5e-8 of it, under float32's
// resolution; vectorised, the same bits on every CPU).
type Act[T Float] struct {
	In       Shape
	GELU     bool
	x, dy    []T
	y, dx    []T
	par      gemm.Group
	fwd, bwd func(w, nt int)
}

// NewReLU returns ReLU over in.
func NewReLU[T Float](in Shape) *Act[T] { return newAct[T](in, false) }

// NewGELU returns GELU over in.
func NewGELU[T Float](in Shape) *Act[T] { return newAct[T](in, true) }

func newAct[T Float](in Shape, gelu bool) *Act[T] {
	a := &Act[T]{In: in, GELU: gelu}
	a.fwd, a.bwd = a.forward, a.backward
	return a
}

// Out returns the input shape.
func (a *Act[T]) Out() Shape { return a.In }

// Params returns none.
func (a *Act[T]) Params() []*Param[T] { return nil }

// Forward applies the activation to every entry.
func (a *Act[T]) Forward(x []T, _ int, _ bool) []T {
	a.x = x
	a.y = grow(a.y, len(x))
	a.par.Run(len(x)/minShare+1, a.fwd)
	return a.y
}

// Backward multiplies dy by the derivative: 1 where x > 0 for ReLU (0 at
// the kink, as cs231n), Phi(x) + x phi(x) for GELU.
func (a *Act[T]) Backward(dy []T) []T {
	a.dy = dy
	a.dx = grow(a.dx, len(dy))
	a.par.Run(len(dy)/minShare+1, a.bwd)
	return a.dx
}

// minShare is the fewest entries worth a share of an elementwise loop.
const minShare = 1 << 15

func (a *Act[T]) forward(w, nt int) {
	lo, hi := gemm.Share(len(a.x), w, nt)
	x, y := a.x[lo:hi], a.y[lo:hi]
	if a.GELU {
		if x, ok := any(x).([]float32); ok {
			vmath.GELU(any(y).([]float32), x)
			return
		}
		for i, v := range x {
			y[i] = T(gelu(float64(v)))
		}
		return
	}
	for i, v := range x {
		y[i] = max(v, 0)
	}
}

func (a *Act[T]) backward(w, nt int) {
	lo, hi := gemm.Share(len(a.dy), w, nt)
	x, dy, dx := a.x[lo:hi], a.dy[lo:hi], a.dx[lo:hi]
	if a.GELU {
		if x, ok := any(x).([]float32); ok {
			vmath.GELUGrad(any(dx).([]float32), any(dy).([]float32), x)
			return
		}
		for i, d := range dy {
			dx[i] = T(float64(d) * geluGrad(float64(x[i])))
		}
		return
	}
	// Without branches: the signs are random, and a branch mispredicted
	// half the time made this loop 9 times slower than its memory traffic.
	switch x := any(x).(type) {
	case []float32:
		reluGrad32(any(dx).([]float32), any(dy).([]float32), x)
	case []float64:
		reluGrad64(any(dx).([]float64), any(dy).([]float64), x)
	}
}

func gelu(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

func geluGrad(x float64) float64 {
	return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-0.5*x*x)/math.Sqrt(2*math.Pi)
}

// reluGrad32 sets dx = dy where x > 0, else 0, with bit masks: the mask is
// all ones when x's sign bit is clear and x is not zero.
func reluGrad32(dx, dy, x []float32) {
	x, dx = x[:len(dy)], dx[:len(dy)]
	for i, d := range dy {
		b := math.Float32bits(x[i])
		pos := (b>>31 ^ 1) & ((b | -b) >> 31)
		dx[i] = math.Float32frombits(math.Float32bits(d) & -pos)
	}
}

// reluGrad64 is reluGrad32 in float64.
func reluGrad64(dx, dy, x []float64) {
	x, dx = x[:len(dy)], dx[:len(dy)]
	for i, d := range dy {
		b := math.Float64bits(x[i])
		pos := (b>>63 ^ 1) & ((b | -b) >> 63)
		dx[i] = math.Float64frombits(math.Float64bits(d) & -pos)
	}
}
