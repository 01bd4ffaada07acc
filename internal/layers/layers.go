// Package layers holds the layers of convolutional nets (cs231n assignment
// 2's and airbench's): convolution, pooling, spatial batch normalisation,
// ReLU and GELU, affine, dropout, flatten and a constant scale. Each layer
// kind has its forward and backward pass side by side in its own file,
// with a plain reference beside them (cs231n's naive loops) that the tests
// hold the fast path to.
//
// Activations are NCHW: a batch of N examples, each C channels of H x W,
// row-major, the order of CIFAR-10's binary batches and of the checkpoint's
// (C, H, W) flattening, so that Flatten moves no data. Convolutions run on
// nettrain's GEMM (internal/gemm) through im2col; every reduction (a bias
// gradient, a batch statistic, a weight gradient over the batch) has one
// fixed order, so results are the same bits on every kernel and any number
// of threads. Buffers are kept between calls: after the first step of a
// batch size, a step allocates nothing.
//
// The math is docs/DESIGN.md's ("Convolutional nets").
package layers

import (
	"fmt"
	"unsafe"

	"github.com/nettrain/nettrain/internal/gemm"
)

// Float is the precision a layer computes in.
type Float = gemm.Float

// Shape is one example's activations: C channels of H x W (a vector of C
// units is C x 1 x 1).
type Shape struct{ C, H, W int }

// Size returns C H W.
func (s Shape) Size() int { return s.C * s.H * s.W }

func (s Shape) String() string { return fmt.Sprintf("%dx%dx%d", s.C, s.H, s.W) }

// Param is a learned array, its gradient and its shape, named as the
// checkpoint names it ("W1", "b1", "gamma2").
type Param[T Float] struct {
	Name  string
	Shape []int
	V, G  []T
	// Decay: the L2 penalty 0.5 reg sum(V^2) and weight decay apply (the
	// weights of convolutions and affine layers, not biases or batch
	// norm's gamma and beta).
	Decay bool
	// Frozen: never updated by training (batch norm's gamma in bnnoscale,
	// a whitening layer's filters); a convolution skips its W's gradient
	// (G keeps what it held), batch norm computes gamma's (it is cheap).
	Frozen bool
}

// Layer is one layer of a net. Forward takes n examples of the shape the
// layer was made for and returns its output (a buffer the layer owns, valid
// until its next Forward); train selects training behaviour (batch
// statistics, dropout). Backward takes the gradient of the loss with
// respect to that output, sets the gradient of each Param (overwriting),
// and returns the gradient with respect to the input (owned by the layer).
type Layer[T Float] interface {
	Out() Shape
	Forward(x []T, n int, train bool) []T
	Backward(dy []T) []T
	Params() []*Param[T]
}

// sizeOf is the bytes of a T.
func sizeOf[T Float]() int {
	var z T
	return int(unsafe.Sizeof(z))
}

// grow returns buf with length n, reallocating only when it is too short.
func grow[T Float](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	return buf[:n]
}
