package model

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// Net is the two-layer network. Its weights are float64, the precision of
// checkpoints and of the reference; training may run on a float32 copy
// (RawOf, SetFrom).
type Net struct {
	W1 *mat.Dense // (D, H)
	B1 []float64  // (H)
	W2 *mat.Dense // (H, C)
	B2 []float64  // (C)
}

// New returns a net with weights std * N(0,1) drawn from rng, W1 first then
// W2, row by row, and zero biases, as cs231n's TwoLayerNet.
func New(d, h, c int, std float64, rng *rand.Rand) *Net {
	n := Zeros(d, h, c)
	for _, w := range [][]float64{n.W1.RawMatrix().Data, n.W2.RawMatrix().Data} {
		for i := range w {
			w[i] = std * rng.NormFloat64()
		}
	}
	return n
}

// Zeros returns a net of the given shape with every parameter zero, for
// gradients and for loading.
func Zeros(d, h, c int) *Net {
	return &Net{
		W1: mat.NewDense(d, h, nil),
		B1: make([]float64, h),
		W2: mat.NewDense(h, c, nil),
		B2: make([]float64, c),
	}
}

// Dims returns the inputs, hidden units and classes of n.
func (n *Net) Dims() (d, h, c int) {
	d, h = n.W1.Dims()
	_, c = n.W2.Dims()
	return d, h, c
}

// Params returns the four parameter slices W1, b1, W2, b2 in that order,
// sharing n's memory. Gradients line up entry for entry.
func (n *Net) Params() [4][]float64 {
	return [4][]float64{n.W1.RawMatrix().Data, n.B1, n.W2.RawMatrix().Data, n.B2}
}

// ParamNames are the names of Params, as in checkpoints.
var ParamNames = [4]string{"W1", "b1", "W2", "b2"}

// Clone returns a deep copy of n.
func (n *Net) Clone() *Net {
	d, h, c := n.Dims()
	m := Zeros(d, h, c)
	for i, p := range n.Params() {
		copy(m.Params()[i], p)
	}
	return m
}

// Loss is Raw.Loss in float64 on n's own parameters: the loss on the batch
// x, a row-major (N, D) slice with labels y, and, if grads is not nil, the
// gradients into grads. ws may be nil.
func (n *Net) Loss(grads *Net, ws *Workspace[float64], x []float64, y []uint8, reg float64) float64 {
	var g *Raw[float64]
	if grads != nil {
		g = grads.Raw()
	}
	return n.Raw().Loss(g, ws, x, y, reg)
}

// Scores writes the class scores of the rows of x, a row-major (N, D) slice,
// into dst, a row-major (N, C) slice, and returns dst; nil dst allocates.
func (n *Net) Scores(dst []float64, ws *Workspace[float64], x []float64) []float64 {
	if ws == nil {
		ws = &Workspace[float64]{}
	}
	r := n.Raw()
	r.forward(ws, x, len(x)/r.D, nil)
	if dst == nil {
		dst = make([]float64, len(ws.scores))
	}
	if len(dst) != len(ws.scores) {
		panic("model: Scores: dst has the wrong shape")
	}
	copy(dst, ws.scores)
	return dst
}

// Probabilities writes the softmax of the class scores of each row of x, a
// row-major (N, D) slice, into dst, a row-major (N, C) slice, and returns
// dst; nil dst allocates. Each row sums to 1.
func (n *Net) Probabilities(dst []float64, ws *Workspace[float64], x []float64) []float64 {
	dst = n.Scores(dst, ws, x)
	_, _, c := n.Dims()
	for i := 0; i < len(dst); i += c {
		row := dst[i : i+c]
		m := row[0]
		for _, s := range row {
			m = max(m, s)
		}
		var sum float64
		for j, s := range row {
			row[j] = math.Exp(s - m) // the max subtracted: no overflow
			sum += row[j]
		}
		for j := range row {
			row[j] /= sum
		}
	}
	return dst
}

// Predict writes argmax(scores) of each row of x into dst and returns dst;
// nil dst allocates. Ties go to the lowest class, as numpy's argmax.
func (n *Net) Predict(dst []uint8, ws *Workspace[float64], x []float64) []uint8 {
	return n.Raw().Predict(dst, ws, x)
}
