package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"gonum.org/v1/gonum/mat"
)

// Net is a fully connected network: affine layers with a ReLU after each
// but the last (and, with a Norm, a normalisation before each ReLU), then
// softmax. With one hidden layer it is cs231n's TwoLayerNet; with more,
// assignment 2's FullyConnectedNet. Its weights are float64, the precision
// of checkpoints and of the reference; training may run on a float32 copy
// (RawOf, SetFrom).
type Net struct {
	Layers []Layer // Layers[0] takes the inputs; the last gives the class scores
	Norm   Norm    // normalisation after each hidden affine layer, before its ReLU
}

// Layer is one affine layer, out = in W + b, and, in a hidden layer of a
// net with a Norm, the normalisation that follows it.
type Layer struct {
	W *mat.Dense // (in, out)
	B []float64  // (out)

	Gamma, Beta []float64 // (out) scale and shift after normalising (learned)
	// RunMean and RunVar are batch normalisation's running averages of the
	// batch mean and variance, which evaluation normalises with. They are
	// not learned: training updates them after each step (Raw.Track).
	RunMean, RunVar []float64
}

// New returns a net with the given sizes (inputs, hidden layers, classes),
// its weights std * N(0,1) drawn from rng, W1 first then W2 and so on, row
// by row, and zero biases, as cs231n's TwoLayerNet and FullyConnectedNet.
func New(sizes []int, std float64, rng *rand.Rand) *Net {
	return NewNorm(NoNorm, sizes, std, rng)
}

// NewNorm is New with a normalisation after each hidden affine layer, its
// gamma 1 and beta 0 and the running statistics 0, as cs231n's
// FullyConnectedNet. The weights are drawn as New draws them.
func NewNorm(norm Norm, sizes []int, std float64, rng *rand.Rand) *Net {
	n := ZerosNorm(norm, sizes...)
	for _, l := range n.Layers {
		w := l.W.RawMatrix().Data
		for i := range w {
			w[i] = std * rng.NormFloat64()
		}
		for i := range l.Gamma {
			l.Gamma[i] = 1
		}
	}
	return n
}

// Zeros returns a net with the given sizes (inputs, hidden layers,
// classes: at least two) and every parameter zero, for gradients and for
// loading.
func Zeros(sizes ...int) *Net { return ZerosNorm(NoNorm, sizes...) }

// ZerosNorm is Zeros with a normalisation: every parameter and running
// statistic zero, gamma too.
func ZerosNorm(norm Norm, sizes ...int) *Net {
	checkSizes(sizes)
	if !norm.Valid() {
		panic(fmt.Sprintf("model: unknown normalisation %q", norm))
	}
	n := &Net{Layers: make([]Layer, len(sizes)-1), Norm: norm}
	for l := range n.Layers {
		h := sizes[l+1]
		n.Layers[l] = Layer{W: mat.NewDense(sizes[l], h, nil), B: make([]float64, h)}
		if norm != NoNorm && l < len(n.Layers)-1 {
			n.Layers[l].Gamma, n.Layers[l].Beta = make([]float64, h), make([]float64, h)
		}
		if norm == BatchNorm && l < len(n.Layers)-1 {
			n.Layers[l].RunMean, n.Layers[l].RunVar = make([]float64, h), make([]float64, h)
		}
	}
	return n
}

func checkSizes(sizes []int) {
	if len(sizes) < 2 {
		panic("model: a net needs at least inputs and classes")
	}
	for _, s := range sizes {
		if s < 1 {
			panic(fmt.Sprintf("model: layer sizes %v: each must be at least 1", sizes))
		}
	}
}

// Sizes returns the width of every layer of n: inputs, hidden layers,
// classes.
func (n *Net) Sizes() []int {
	s := make([]int, 0, len(n.Layers)+1)
	for _, l := range n.Layers {
		in, _ := l.W.Dims()
		s = append(s, in)
	}
	_, c := n.Layers[len(n.Layers)-1].W.Dims()
	return append(s, c)
}

// Inputs returns D, the inputs n takes.
func (n *Net) Inputs() int { r, _ := n.Layers[0].W.Dims(); return r }

// Classes returns C, the classes n scores.
func (n *Net) Classes() int { _, c := n.Layers[len(n.Layers)-1].W.Dims(); return c }

// Hidden returns the widths of n's hidden layers.
func (n *Net) Hidden() []int { s := n.Sizes(); return s[1 : len(s)-1] }

// Params returns the parameters W1, b1, W2, b2, ... in that order, with a
// Norm gamma1, beta1 after b1 and so on for each hidden layer, sharing n's
// memory. Gradients line up entry for entry.
func (n *Net) Params() [][]float64 {
	p := make([][]float64, 0, 4*len(n.Layers))
	for _, l := range n.Layers {
		p = append(p, l.W.RawMatrix().Data, l.B)
		if l.Gamma != nil {
			p = append(p, l.Gamma, l.Beta)
		}
	}
	return p
}

// ParamNames returns the names of the parameters of a net of the given
// number of affine layers, as in checkpoints: W1, b1, W2, b2, ..., with
// gamma1, beta1, ... after each hidden layer's b under a Norm.
func ParamNames(layers int, norm Norm) []string {
	names := make([]string, 0, 4*layers)
	for l := 1; l <= layers; l++ {
		k := strconv.Itoa(l)
		names = append(names, "W"+k, "b"+k)
		if norm != NoNorm && l < layers {
			names = append(names, "gamma"+k, "beta"+k)
		}
	}
	return names
}

// ParamNames returns the names of Params.
func (n *Net) ParamNames() []string { return ParamNames(len(n.Layers), n.Norm) }

// Stats returns batch normalisation's running statistics, RunMean and
// RunVar of each hidden layer in order, sharing n's memory; none for other
// nets. They are state, not parameters: no gradient, no optimizer.
func (n *Net) Stats() [][]float64 {
	var s [][]float64
	for _, l := range n.Layers {
		if l.RunMean != nil {
			s = append(s, l.RunMean, l.RunVar)
		}
	}
	return s
}

// StatNames returns the names of Stats, cs231n's: running_mean1,
// running_var1, ...
func (n *Net) StatNames() []string { return statNames(len(n.Layers), n.Norm) }

func statNames(layers int, norm Norm) []string {
	var names []string
	for l := 1; norm == BatchNorm && l < layers; l++ {
		k := strconv.Itoa(l)
		names = append(names, "running_mean"+k, "running_var"+k)
	}
	return names
}

// Arrays returns Params then Stats: all that a copy of n must copy.
func (n *Net) Arrays() [][]float64 { return append(n.Params(), n.Stats()...) }

// ArrayNames returns the names of Arrays.
func (n *Net) ArrayNames() []string { return append(n.ParamNames(), n.StatNames()...) }

// Clone returns a deep copy of n.
func (n *Net) Clone() *Net {
	m := ZerosNorm(n.Norm, n.Sizes()...)
	dst := m.Arrays()
	for i, p := range n.Arrays() {
		copy(dst[i], p)
	}
	return m
}

// SameShape reports whether n and m have the same layer sizes and
// normalisation.
func (n *Net) SameShape(m *Net) bool { return slices.Equal(n.Sizes(), m.Sizes()) && n.Norm == m.Norm }

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
	r.forward(ws, x, len(x)/r.Sizes[0], nil, false)
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
	c := n.Classes()
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
