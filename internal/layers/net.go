package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/nettrain/nettrain/internal/gemm"
)

// Net is a sequence of layers from an Arch, ending in the class scores,
// trained on the softmax loss with cs231n's L2 penalty 0.5 reg sum(W^2)
// over the weights of convolutions and affine layers.
type Net[T Float] struct {
	Arch   Arch
	In     Shape
	Layers []Layer[T]
	dy     []T
	first  int // the first layer with parameters: backward ends there

	// The L2 penalty's chunks, their sums and the share that computes them.
	chunks   []chunk
	sums     []float64
	params   []*Param[T]
	reg      T
	par      gemm.Group
	penShare func(w, nt int)
	// Smoothing is label smoothing e: the loss is against targets
	// (1-e) onehot + e/C.
	Smoothing float64
}

// Build makes the net a describes for inputs of shape in and classes
// classes, every parameter zero (gamma 1), numbered in layer order as a
// checkpoint names them (W1, b1 of the first layer with weights, ...). An
// error names the layer that does not fit (its position and text).
func Build[T Float](a Arch, in Shape, classes int, rng *rand.Rand) (*Net[T], error) {
	net := &Net[T]{Arch: a, In: in}
	shape, id := in, 0
	for i, sp := range a.Layers {
		var l Layer[T]
		next := func() string { id++; return strconv.Itoa(id) }
		var err error
		switch sp.Kind {
		case "conv":
			if shape.H == 1 && shape.W == 1 && i > 0 && a.Layers[i-1].Kind == "fc" {
				err = fmt.Errorf("a convolution after an affine layer")
				break
			}
			l, err = NewConv[T](next(), shape, sp.N, sp.K, sp.S, sp.Pad, sp.Bias)
		case "maxpool", "avgpool":
			var p *Pool[T]
			p, err = NewPool[T](shape, sp.Kind == "maxpool", sp.K, sp.S)
			l = p
		case "gmaxpool", "gavgpool":
			l = NewGlobalPool[T](shape, sp.Kind == "gmaxpool")
		case "bn": // named after the layer with weights before it, as the MLP's gamma1 follows W1
			if id == 0 {
				err = fmt.Errorf("batch norm needs a convolution or affine layer before it")
				break
			}
			b := NewBatchNorm[T](strconv.Itoa(id), shape)
			b.Gamma.Frozen = sp.NoScale
			l = b
		case "relu":
			l = NewReLU[T](shape)
		case "gelu":
			l = NewGELU[T](shape)
		case "fc":
			l = NewAffine[T](next(), shape, sp.N, sp.Bias)
		case "dropout":
			l = &Dropout[T]{In: shape, P: sp.X, Rng: rng}
		case "scale":
			l = &Scale[T]{In: shape, K: sp.X}
		case "flatten":
			l = &Flatten[T]{In: shape}
		default:
			err = fmt.Errorf("unknown layer kind %q", sp.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("layer %d %q on %v inputs: %v", i+1, sp.Text, shape, err)
		}
		net.Layers = append(net.Layers, l)
		shape = l.Out()
	}
	net.Refreeze()
	if shape != (Shape{classes, 1, 1}) {
		return nil, fmt.Errorf("the net ends in %v outputs, not %d class scores: end it with fc%d", shape, classes, classes)
	}
	return net, nil
}

// Params returns every parameter in layer order.
func (n *Net[T]) Params() []*Param[T] {
	var ps []*Param[T]
	for _, l := range n.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// Array is one of a net's arrays by the name a checkpoint gives it: a
// parameter's values, or a batch norm's running statistic (not learned:
// running_meank or running_vark).
type Array[T Float] struct {
	Name string
	V    []T
}

// Stats returns the running statistics of every batch norm, in layer order.
func (n *Net[T]) Stats() []Array[T] {
	var st []Array[T]
	for _, l := range n.Layers {
		if b, ok := l.(*BatchNorm[T]); ok {
			st = append(st, Array[T]{"running_mean" + b.ID, b.RunMean}, Array[T]{"running_var" + b.ID, b.RunVar})
		}
	}
	return st
}

// Arrays returns every parameter's values, then the running statistics:
// all a checkpoint holds of the net.
func (n *Net[T]) Arrays() []Array[T] {
	var a []Array[T]
	for _, p := range n.Params() {
		a = append(a, Array[T]{p.Name, p.V})
	}
	return append(a, n.Stats()...)
}

// Classes returns the number of class scores the net ends in.
func (n *Net[T]) Classes() int { return n.Layers[len(n.Layers)-1].Out().C }

// Init draws every weight (the Decay parameters) as std N(0,1) from rng, in
// parameter order, entry by entry, as cs231n's weight_scale does; biases
// and beta stay 0 and gamma 1.
func (n *Net[T]) Init(std float64, rng *rand.Rand) {
	for _, p := range n.Params() {
		if p.Decay {
			for i := range p.V {
				p.V[i] = T(std * rng.NormFloat64())
			}
		}
	}
}

// Refreeze sets where backward stops from the parameters' Frozen marks
// (Build calls it; call it again after changing them). Nothing needs the
// gradient of the images, nor that of a layer's input when no layer
// before it has a parameter to train: backward stops at the first layer
// with a parameter that is not frozen, and that layer (a convolution or
// an affine layer) skips its input's gradient. The layers before it get
// no gradients at all.
func (n *Net[T]) Refreeze() {
	n.first = 0
	for i, l := range n.Layers {
		if slices.ContainsFunc(l.Params(), func(p *Param[T]) bool { return !p.Frozen }) {
			n.first = i
			break
		}
	}
	for i, l := range n.Layers {
		switch l := l.(type) {
		case *Conv[T]:
			l.NoInputGrad = i == n.first
		case *Affine[T]:
			l.NoInputGrad = i == n.first
		}
	}
}

// Scores runs the net forward on m examples x in evaluation (running
// statistics, no dropout) and returns the class scores (m, classes), a
// buffer of the last layer.
func (n *Net[T]) Scores(x []T, m int) []T {
	return n.forward(x, m, false)
}

func (n *Net[T]) forward(x []T, m int, train bool) []T {
	h := x
	for _, l := range n.Layers {
		h = l.Forward(h, m, train)
	}
	return h
}

// Loss runs m training examples forward and back: it returns the mean
// softmax loss of labels y plus 0.5 reg sum(W^2), and sets every
// parameter's gradient (with reg W for the weights).
func (n *Net[T]) Loss(x []T, y []uint8, reg float64) float64 {
	m := len(y)
	scores := n.forward(x, m, true)
	c := len(scores) / m
	n.dy = grow(n.dy, len(scores))
	loss := 0.0
	for i := range m {
		row, d := scores[i*c:(i+1)*c], n.dy[i*c:(i+1)*c]
		top, sum := expSum(row)
		logSum := math.Log(sum) + top
		e, cf := n.Smoothing, float64(c)
		for j, v := range row {
			target := e / cf
			if j == int(y[i]) {
				target += 1 - e
			}
			if target != 0 {
				loss += target * (logSum - float64(v))
			}
			d[j] = T((math.Exp(float64(v)-logSum) - target) / float64(m))
		}
	}
	loss /= float64(m)
	g := n.dy
	for i := len(n.Layers) - 1; i >= n.first; i-- {
		g = n.Layers[i].Backward(g)
	}
	if reg != 0 {
		loss += 0.5 * reg * n.penalty(T(reg))
	}
	return loss
}

// Track moves every batch norm's running statistics toward the last
// training batch's (BatchNorm.Track).
func (n *Net[T]) Track(m float64) {
	for _, l := range n.Layers {
		if b, ok := l.(*BatchNorm[T]); ok {
			b.Track(m)
		}
	}
}

// As returns a copy of n in precision T: its parameters and running
// statistics rounded to T.
func As[T Float](n *Net[float64]) *Net[T] {
	m, err := Build[T](n.Arch, n.In, n.Classes(), nil)
	if err != nil {
		panic(fmt.Sprintf("layers: As: %v", err)) // n was built from the same arch
	}
	for i, p := range n.Params() {
		convert(m.Params()[i].V, p.V)
	}
	for i, s := range n.Stats() {
		convert(m.Stats()[i].V, s.V)
	}
	for i, l := range n.Layers {
		if d, ok := l.(*Dropout[float64]); ok {
			m.Layers[i].(*Dropout[T]).Rng = d.Rng
		}
	}
	return m
}

// SetFrom copies the parameters and running statistics of src, in any
// precision, into n of the same arch.
func SetFrom[T, S Float](n *Net[T], src *Net[S]) {
	for i, p := range src.Params() {
		convert(n.Params()[i].V, p.V)
	}
	for i, s := range src.Stats() {
		convert(n.Stats()[i].V, s.V)
	}
}

func convert[T, S Float](dst []T, src []S) {
	for i, v := range src {
		dst[i] = T(v)
	}
}

// NotFinite is the class Predict gives an example whose scores are not
// all finite, as model.NotFinite.
const NotFinite = 255

// Predict writes the class of each of the m examples x (the most probable,
// ties to the lower class; NotFinite if a score is not finite) into dst,
// scoring in evaluation.
func (n *Net[T]) Predict(dst []uint8, x []T, m int) {
	scores := n.Scores(x, m)
	c := n.Classes()
	for i := range m {
		dst[i] = Class(scores[i*c : (i+1)*c])
	}
}

// Class returns the index of row's largest score (the first of a tie), or
// NotFinite if a score is not finite.
func Class[T Float](row []T) uint8 {
	best := 0
	for j, v := range row {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return NotFinite
		}
		if v > row[best] {
			best = j
		}
	}
	return uint8(best)
}

// Floats returns how many numbers of T the net's buffers hold for each
// example of a training step (its forward and backward passes: outputs,
// input gradients, a convolution's blocks' parts of W's gradient), and how
// many parameters it has. The patches, their gradients and the products
// are a block per thread (ScoreFloats' fixed), not counted per example.
func (n *Net[T]) Floats() (perExample, params int) {
	for _, l := range n.Layers {
		out := l.Out().Size()
		perExample += 2 * out // y and the next layer's dx
		switch l := l.(type) {
		case *Conv[T]:
			// Each block's part of W's gradient (a block per
			// gradExamples examples, rounded up).
			hw, ckk := out/l.F, l.In.C*l.K*l.K
			blk := gradExamples(hw, ckk, sizeOf[T]())
			perExample += (ckk*l.F + blk - 1) / blk
		}
		for _, p := range l.Params() {
			params += len(p.V)
		}
	}
	return perExample, params
}

// ScoreFloats returns how many numbers of T the net's buffers hold in
// evaluation (Scores, Predict) for each example (outputs) and in all
// besides (each convolution's block of patches and of its product per
// thread, gradExamples), and as much again for the patches' gradients in
// training.
func (n *Net[T]) ScoreFloats() (perExample, fixed int) {
	size := sizeOf[T]()
	for _, l := range n.Layers {
		out := l.Out().Size()
		perExample += out
		switch l := l.(type) {
		case *Conv[T]:
			hw, ckk := out/l.F, l.In.C*l.K*l.K
			fixed += gemm.Threads() * gradExamples(hw, ckk, size) * hw * (ckk + l.F)
		}
	}
	return perExample, fixed
}

// Probabilities returns the softmax of the class scores of the m examples
// x in evaluation, (m, classes), into dst (nil allocates).
func (n *Net[T]) Probabilities(dst, x []T, m int) []T {
	scores := n.Scores(x, m)
	dst = grow(dst, len(scores))
	softmax(dst, scores, n.Classes())
	return dst
}

// expSum returns the largest score of row and the sum of exp(v - top)
// over it, in float64: softmax's denominator, shifted so that no exp
// overflows.
func expSum[T Float](row []T) (top, sum float64) {
	top = float64(row[0])
	for _, v := range row {
		top = max(top, float64(v))
	}
	for _, v := range row {
		sum += math.Exp(float64(v) - top)
	}
	return top, sum
}

// softmax writes the softmax of each row of c scores into dst, the
// largest score subtracted first.
func softmax[T Float](dst, scores []T, c int) {
	for i := 0; i < len(scores); i += c {
		row, out := scores[i:i+c], dst[i:i+c]
		top, sum := expSum(row)
		for j, v := range row {
			out[j] = T(math.Exp(float64(v)-top) / sum)
		}
	}
}

// ScoreChunk is how many images a conv net scores at once (run's
// PredictConv, the loop's validation): its activations and patches for them
// stay within some hundreds of megabytes for the presets.
const ScoreChunk = 250

// penaltyChunk is the entries of a weight whose squares one share sums: a
// fixed split, so that the sum's order, and its bits, do not depend on the
// number of threads.
const penaltyChunk = 1 << 14

type chunk struct{ p, lo, hi int }

// penalty adds reg W to every weight's gradient and returns sum(W^2), the
// sum of fixed chunks' float64 sums in order, the chunks on the GEMM's
// goroutines.
func (n *Net[T]) penalty(reg T) float64 {
	if n.chunks == nil {
		for k, p := range n.Params() {
			if p.Decay {
				for lo := 0; lo < len(p.V); lo += penaltyChunk {
					n.chunks = append(n.chunks, chunk{k, lo, min(lo+penaltyChunk, len(p.V))})
				}
			}
		}
		n.sums = make([]float64, len(n.chunks))
		n.params = n.Params()
		n.penShare = func(w, nt int) {
			lo, hi := gemm.Share(len(n.chunks), w, nt)
			for c := lo; c < hi; c++ {
				ch := n.chunks[c]
				p := n.params[ch.p]
				v, g := p.V[ch.lo:ch.hi], p.G[ch.lo:ch.hi]
				s := 0.0
				for i, x := range v {
					s += float64(x) * float64(x)
					g[i] += n.reg * x
				}
				n.sums[c] = s
			}
		}
	}
	n.reg = reg
	n.par.Run(len(n.chunks), n.penShare)
	total := 0.0
	for _, s := range n.sums {
		total += s
	}
	return total
}
