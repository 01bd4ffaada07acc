package layers

import "math"

// Act is an elementwise activation: ReLU, max(x, 0), or GELU, x Phi(x)
// with the exact normal CDF (PyTorch's default, not the tanh
// approximation).
type Act[T Float] struct {
	In    Shape
	GELU  bool
	x     []T
	y, dx []T
}

// NewReLU returns ReLU over in.
func NewReLU[T Float](in Shape) *Act[T] { return &Act[T]{In: in} }

// NewGELU returns GELU over in.
func NewGELU[T Float](in Shape) *Act[T] { return &Act[T]{In: in, GELU: true} }

// Out returns the input shape.
func (a *Act[T]) Out() Shape { return a.In }

// Params returns none.
func (a *Act[T]) Params() []*Param[T] { return nil }

// Forward applies the activation to every entry.
func (a *Act[T]) Forward(x []T, _ int, _ bool) []T {
	a.x = x
	a.y = grow(a.y, len(x))
	for i, v := range x {
		if a.GELU {
			a.y[i] = T(gelu(float64(v)))
		} else {
			a.y[i] = max(v, 0)
		}
	}
	return a.y
}

// Backward multiplies dy by the derivative: 1 where x > 0 for ReLU (0 at
// the kink, as cs231n), Phi(x) + x phi(x) for GELU.
func (a *Act[T]) Backward(dy []T) []T {
	a.dx = grow(a.dx, len(dy))
	for i, d := range dy {
		v := a.x[i]
		switch {
		case a.GELU:
			a.dx[i] = T(float64(d) * geluGrad(float64(v)))
		case v > 0:
			a.dx[i] = d
		default:
			a.dx[i] = 0
		}
	}
	return a.dx
}

func gelu(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

func geluGrad(x float64) float64 {
	return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-0.5*x*x)/math.Sqrt(2*math.Pi)
}
