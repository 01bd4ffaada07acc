package layers

import (
	"gonum.org/v1/gonum/blas"

	"github.com/nettrain/nettrain/internal/gemm"
)

// Affine is out = x W + b over the flattened input: W (D, M) as the MLP
// and cs231n's affine_forward hold it, x (N, D) with D = C H W in (C, H, W)
// order; no bias with NoBias (airbench's last layer).
type Affine[T Float] struct {
	In   Shape
	M    int
	W, B *Param[T]
	// NoInputGrad: Backward computes the parameters' gradients only and
	// returns nil (the net's first layer with a parameter to train;
	// Net.Refreeze sets it).
	NoInputGrad bool
	x           []T
	n           int
	y, dx       []T
}

// NewAffine returns an affine layer of in to m units, named W<id>, b<id>.
func NewAffine[T Float](id string, in Shape, m int, bias bool) *Affine[T] {
	d := in.Size()
	a := &Affine[T]{In: in, M: m}
	a.W = &Param[T]{Name: "W" + id, Shape: []int{d, m}, V: make([]T, d*m), G: make([]T, d*m), Decay: true}
	if bias {
		a.B = &Param[T]{Name: "b" + id, Shape: []int{m}, V: make([]T, m), G: make([]T, m)}
	}
	return a
}

// Out returns M x 1 x 1.
func (a *Affine[T]) Out() Shape { return Shape{a.M, 1, 1} }

// Params returns W and, with a bias, b.
func (a *Affine[T]) Params() []*Param[T] {
	if a.B == nil {
		return []*Param[T]{a.W}
	}
	return []*Param[T]{a.W, a.B}
}

// Forward computes x W + b for n rows.
func (a *Affine[T]) Forward(x []T, n int, _ bool) []T {
	d := a.In.Size()
	a.x, a.n = x, n
	a.y = grow(a.y, n*a.M)
	gemm.Gemm(blas.NoTrans, blas.NoTrans, n, a.M, d, 1, x, d, a.W.V, a.M, 0, a.y, a.M)
	if a.B != nil {
		for i := range n {
			row := a.y[i*a.M:][:a.M]
			for j, b := range a.B.V {
				row[j] += b
			}
		}
	}
	return a.y
}

// Backward sets dW = x^T dy, db = the column sums of dy (rows in order),
// and returns dx = dy W^T.
func (a *Affine[T]) Backward(dy []T) []T {
	d := a.In.Size()
	gemm.Gemm(blas.Trans, blas.NoTrans, d, a.M, a.n, 1, a.x, d, dy, a.M, 0, a.W.G, a.M)
	if a.B != nil {
		clear(a.B.G)
		for i := range a.n {
			for j, v := range dy[i*a.M:][:a.M] {
				a.B.G[j] += v
			}
		}
	}
	if a.NoInputGrad {
		return nil
	}
	a.dx = grow(a.dx, a.n*d)
	gemm.Gemm(blas.NoTrans, blas.Trans, a.n, d, a.M, 1, dy, a.M, a.W.V, a.M, 0, a.dx, d)
	return a.dx
}
