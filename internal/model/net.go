package model

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// Net is the two-layer network. Its weights are float64, the precision of
// checkpoints and of the reference.
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

// Workspace holds the activations of one batch so that Loss and Scores
// allocate nothing after the first call. A Workspace serves one goroutine.
type Workspace struct {
	h      []float64 // (N, H) hidden activations, ReLU applied
	scores []float64 // (N, C) scores, then dscores
	dh     []float64 // (N, H) gradient at the hidden layer
}

func (ws *Workspace) fit(nrows, h, c int) {
	if cap(ws.h) < nrows*h {
		ws.h = make([]float64, nrows*h)
		ws.dh = make([]float64, nrows*h)
	}
	if cap(ws.scores) < nrows*c {
		ws.scores = make([]float64, nrows*c)
	}
	ws.h, ws.dh, ws.scores = ws.h[:nrows*h], ws.dh[:nrows*h], ws.scores[:nrows*c]
}

func general(rows, cols int, data []float64) blas64.General {
	return blas64.General{Rows: rows, Cols: cols, Stride: cols, Data: data}
}

// forward computes h = max(X W1 + b1, 0) and scores = h W2 + b2 into ws for
// the rows of x, a row-major (nrows, D) slice.
func (n *Net) forward(ws *Workspace, x []float64, nrows int) {
	d, hid, c := n.Dims()
	if len(x) != nrows*d {
		panic("model: X has the wrong shape")
	}
	ws.fit(nrows, hid, c)
	X := general(nrows, d, x)
	h := general(nrows, hid, ws.h)
	scores := general(nrows, c, ws.scores)

	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, X, n.W1.RawMatrix(), 0, h) // z = X W1
	for i := range nrows {
		row := ws.h[i*hid : (i+1)*hid]
		for j, b := range n.B1 {
			row[j] = max(row[j]+b, 0) // h = max(z + b1, 0), in place
		}
	}
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, h, n.W2.RawMatrix(), 0, scores) // h W2
	for i := range nrows {
		row := ws.scores[i*c : (i+1)*c]
		for j, b := range n.B2 {
			row[j] += b
		}
	}
}

// Loss returns the loss of n on the batch X, a row-major (N, D) slice with
// labels y: mean softmax cross-entropy plus 0.5*reg*(sum(W1^2)+sum(W2^2)).
// If grads is not nil it receives the gradient of the loss with respect to
// each parameter. ws may be nil; pass one to reuse buffers across calls.
// Loss panics if X, y or grads do not fit n.
func (n *Net) Loss(grads *Net, ws *Workspace, x []float64, y []uint8, reg float64) float64 {
	if ws == nil {
		ws = &Workspace{}
	}
	nrows := len(y)
	d, hid, c := n.Dims()
	n.forward(ws, x, nrows)

	// Softmax cross-entropy, fused with its gradient
	// dscores = (softmax - onehot(y)) / N, written over the scores.
	var data float64
	invN := 1 / float64(nrows)
	for i, yi := range y {
		row := ws.scores[i*c : (i+1)*c]
		// Subtract the row max so exp cannot overflow.
		m := row[0]
		for _, s := range row[1:] {
			m = max(m, s)
		}
		sy := row[yi] - m // kept before exp, which may underflow to 0
		var sum float64
		for j, s := range row {
			e := math.Exp(s - m)
			row[j] = e
			sum += e
		}
		// -log p_y = log(sum_j exp(s_j - m)) - (s_y - m).
		data += math.Log(sum) - sy
		if grads != nil {
			inv := invN / sum
			for j := range row {
				row[j] *= inv
			}
			row[yi] -= invN
		}
	}
	w1, w2 := n.W1.RawMatrix().Data, n.W2.RawMatrix().Data
	// 0.5*reg so that the gradient of the penalty is reg*W.
	loss := data*invN + 0.5*reg*(dot(w1, w1)+dot(w2, w2))
	if grads == nil {
		return loss
	}

	if gd, gh, gc := grads.Dims(); gd != d || gh != hid || gc != c {
		panic("model: grads have the wrong shape")
	}
	X := general(nrows, d, x)
	h := general(nrows, hid, ws.h)
	dscores := general(nrows, c, ws.scores)
	dh := general(nrows, hid, ws.dh)

	// dW2 = h^T dscores + reg W2; db2 = sum_rows(dscores).
	dW2 := grads.W2.RawMatrix()
	copy(dW2.Data, w2)
	blas64.Gemm(blas.Trans, blas.NoTrans, 1, h, dscores, reg, dW2)
	colSum(grads.B2, ws.scores, c)

	// dh = (dscores W2^T) * [z > 0]; h > 0 exactly where z > 0.
	blas64.Gemm(blas.NoTrans, blas.Trans, 1, dscores, n.W2.RawMatrix(), 0, dh)
	for i, v := range ws.h {
		if v <= 0 {
			ws.dh[i] = 0
		}
	}

	// dW1 = X^T dh + reg W1; db1 = sum_rows(dh).
	dW1 := grads.W1.RawMatrix()
	copy(dW1.Data, w1)
	blas64.Gemm(blas.Trans, blas.NoTrans, 1, X, dh, reg, dW1)
	colSum(grads.B1, ws.dh, hid)
	return loss
}

// Scores writes the class scores of the rows of x, a row-major (N, D) slice,
// into dst, a row-major (N, C) slice, and returns dst; nil dst allocates.
func (n *Net) Scores(dst []float64, ws *Workspace, x []float64) []float64 {
	d, _, _ := n.Dims()
	if ws == nil {
		ws = &Workspace{}
	}
	n.forward(ws, x, len(x)/d)
	if dst == nil {
		dst = make([]float64, len(ws.scores))
	}
	if len(dst) != len(ws.scores) {
		panic("model: Scores: dst has the wrong shape")
	}
	copy(dst, ws.scores)
	return dst
}

// Predict writes argmax(scores) of each row of x into dst and returns dst;
// nil dst allocates. Ties go to the lowest class, as numpy's argmax.
func (n *Net) Predict(dst []uint8, ws *Workspace, x []float64) []uint8 {
	d, _, c := n.Dims()
	if ws == nil {
		ws = &Workspace{}
	}
	nrows := len(x) / d
	n.forward(ws, x, nrows)
	if dst == nil {
		dst = make([]uint8, nrows)
	}
	for i := range nrows {
		dst[i] = uint8(argmax(ws.scores[i*c : (i+1)*c]))
	}
	return dst
}

func argmax(v []float64) int {
	best := 0
	for j, s := range v {
		if s > v[best] {
			best = j
		}
	}
	return best
}

func dot(a, b []float64) float64 {
	return blas64.Dot(blas64.Vector{N: len(a), Inc: 1, Data: a}, blas64.Vector{N: len(b), Inc: 1, Data: b})
}

// colSum sets dst[j] to the sum over rows of column j of the row-major a.
func colSum(dst, a []float64, cols int) {
	clear(dst)
	for i := 0; i < len(a); i += cols {
		for j, v := range a[i : i+cols] {
			dst[j] += v
		}
	}
}
