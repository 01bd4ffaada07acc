package model

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/nettrain/nettrain/internal/gemm"
)

// Float is the element type of the fast path: float32 for speed, float64
// for the reference precision; the matrix products' own constraint.
type Float = gemm.Float

// Raw is a net's parameters as flat row-major slices in precision T, the
// form the fast path works on. A Raw[float64] made by Net.Raw shares the
// Net's memory; other precisions are copies (RawOf).
type Raw[T Float] struct {
	D, H, C int
	W1      []T // (D, H)
	B1      []T // (H)
	W2      []T // (H, C)
	B2      []T // (C)
}

// NewRaw returns zero parameters of the given shape.
func NewRaw[T Float](d, h, c int) *Raw[T] {
	return &Raw[T]{D: d, H: h, C: c, W1: make([]T, d*h), B1: make([]T, h), W2: make([]T, h*c), B2: make([]T, c)}
}

// RawOf returns a copy of n's parameters in precision T, rounded once.
func RawOf[T Float](n *Net) *Raw[T] {
	d, h, c := n.Dims()
	r := NewRaw[T](d, h, c)
	for k, p := range n.Params() {
		dst := r.Params()[k]
		for i, v := range p {
			dst[i] = T(v)
		}
	}
	return r
}

// Raw returns n's parameters as a Raw[float64] sharing n's memory.
func (n *Net) Raw() *Raw[float64] {
	d, h, c := n.Dims()
	p := n.Params()
	return &Raw[float64]{D: d, H: h, C: c, W1: p[0], B1: p[1], W2: p[2], B2: p[3]}
}

// SetFrom sets n's parameters to r's, converted exactly to float64.
func SetFrom[T Float](n *Net, r *Raw[T]) {
	for k, p := range n.Params() {
		for i, v := range r.Params()[k] {
			p[i] = float64(v)
		}
	}
}

// Params returns W1, b1, W2, b2 in that order, sharing r's memory.
func (r *Raw[T]) Params() [4][]T { return [4][]T{r.W1, r.B1, r.W2, r.B2} }

// Workspace holds the activations of one batch so that Loss and Predict
// allocate nothing after the first call. A Workspace serves one goroutine.
//
// Dropout, when not nil, is the inverted-dropout mask of the hidden layer
// for Loss: a row-major (N, H) slice of 0 (dropped) or 1/(1-p) (kept).
// Predict ignores it: dropout is off at evaluation.
//
// Threads, when above 0, is how many threads each matrix product of Loss
// and Predict may use; 0 means gemm.Threads(). Results do not depend on it.
type Workspace[T Float] struct {
	Dropout []T
	Threads int

	h      []T // (N, H) hidden activations, ReLU applied
	scores []T // (N, C) scores, then dscores
	dh     []T // (N, H) gradient at the hidden layer
}

func (ws *Workspace[T]) fit(nrows, h, c int) {
	if cap(ws.h) < nrows*h {
		ws.h = make([]T, nrows*h)
		ws.dh = make([]T, nrows*h)
	}
	if cap(ws.scores) < nrows*c {
		ws.scores = make([]T, nrows*c)
	}
	ws.h, ws.dh, ws.scores = ws.h[:nrows*h], ws.dh[:nrows*h], ws.scores[:nrows*c]
}

// forward computes h = max(X W1 + b1, 0) and scores = h W2 + b2 into ws for
// the rows of x, a row-major (nrows, D) slice. With a dropout mask, h is
// multiplied by it before the second layer (inverted dropout: the mask is
// already scaled by 1/(1-p), so evaluation needs no rescaling).
func (r *Raw[T]) forward(ws *Workspace[T], x []T, nrows int, mask []T) {
	d, hid, c := r.D, r.H, r.C
	if len(x) != nrows*d {
		panic("model: X has the wrong shape")
	}
	ws.fit(nrows, hid, c)
	ws.gemm(blas.NoTrans, blas.NoTrans, nrows, hid, d, 1, x, d, r.W1, hid, 0, ws.h, hid) // z = X W1
	if mask != nil && len(mask) != nrows*hid {
		panic("model: dropout mask has the wrong shape")
	}
	for i := range nrows {
		row := ws.h[i*hid : (i+1)*hid : (i+1)*hid]
		for j, b := range r.B1[:hid] {
			row[j] = max(row[j]+b, 0) // h = max(z + b1, 0), in place
		}
		if mask != nil {
			for j, m := range mask[i*hid : (i+1)*hid] {
				row[j] *= m
			}
		}
	}
	ws.gemm(blas.NoTrans, blas.NoTrans, nrows, c, hid, 1, ws.h, hid, r.W2, c, 0, ws.scores, c) // h W2
	for i := range nrows {
		row := ws.scores[i*c : (i+1)*c : (i+1)*c]
		for j, b := range r.B2[:c] {
			row[j] += b
		}
	}
}

// Loss returns the loss on the batch x, a row-major (N, D) slice with labels
// y: mean softmax cross-entropy plus 0.5*reg*(sum(W1^2)+sum(W2^2)), summed
// in float64 whatever T is. If grads is not nil it receives the gradient of
// the loss with respect to each parameter. ws may be nil; pass one to reuse
// buffers across calls. Loss panics if x, y or grads do not fit r.
func (r *Raw[T]) Loss(grads *Raw[T], ws *Workspace[T], x []T, y []uint8, reg float64) float64 {
	if ws == nil {
		ws = &Workspace[T]{}
	}
	nrows := len(y)
	d, hid, c := r.D, r.H, r.C
	r.forward(ws, x, nrows, ws.Dropout)

	// Softmax cross-entropy, fused with its gradient
	// dscores = (softmax - onehot(y)) / N, written over the scores.
	// Each row is worked in float64: C is small.
	var data float64
	invN := 1 / float64(nrows)
	var e [256]float64 // exp(s_j - m) of one row; C <= 256 as labels are bytes
	for i, yi := range y {
		row := ws.scores[i*c : (i+1)*c : (i+1)*c]
		// Subtract the row max so exp cannot overflow.
		m := float64(row[0])
		for _, s := range row[1:] {
			m = max(m, float64(s))
		}
		sy := float64(row[yi]) - m // kept before exp, which may underflow to 0
		var sum float64
		for j, s := range row {
			e[j] = math.Exp(float64(s) - m)
			sum += e[j]
		}
		// -log p_y = log(sum_j exp(s_j - m)) - (s_y - m).
		data += math.Log(sum) - sy
		if grads != nil {
			inv := invN / sum
			for j := range row {
				row[j] = T(e[j] * inv)
			}
			row[yi] = T(e[yi]*inv - invN)
		}
	}
	// 0.5*reg so that the gradient of the penalty is reg*W.
	loss := data*invN + 0.5*reg*(sumSquares(r.W1)+sumSquares(r.W2))
	if grads == nil {
		return loss
	}
	if grads.D != d || grads.H != hid || grads.C != c {
		panic("model: grads have the wrong shape")
	}

	// dW2 = h^T dscores + reg W2; db2 = sum_rows(dscores).
	scaled(grads.W2, T(reg), r.W2)
	ws.gemm(blas.Trans, blas.NoTrans, hid, c, nrows, 1, ws.h, hid, ws.scores, c, 1, grads.W2, c)
	colSum(grads.B2, ws.scores, c)

	// dz = (dscores W2^T) * [z > 0]; h > 0 exactly where z > 0 (and,
	// with dropout, the unit was kept, whose mask value scales dh).
	ws.gemm(blas.NoTrans, blas.Trans, nrows, hid, c, 1, ws.scores, c, r.W2, c, 0, ws.dh, hid)
	for i, v := range ws.h {
		switch {
		case v <= 0:
			ws.dh[i] = 0
		case ws.Dropout != nil:
			ws.dh[i] *= ws.Dropout[i]
		}
	}

	// dW1 = X^T dh + reg W1; db1 = sum_rows(dh).
	scaled(grads.W1, T(reg), r.W1)
	ws.gemm(blas.Trans, blas.NoTrans, d, hid, nrows, 1, x, d, ws.dh, hid, 1, grads.W1, hid)
	colSum(grads.B1, ws.dh, hid)
	return loss
}

// Predict writes argmax(scores) of each row of x into dst and returns dst;
// nil dst allocates. Ties go to the lowest class, as numpy's argmax.
func (r *Raw[T]) Predict(dst []uint8, ws *Workspace[T], x []T) []uint8 {
	if ws == nil {
		ws = &Workspace[T]{}
	}
	nrows := len(x) / r.D
	r.forward(ws, x, nrows, nil)
	if dst == nil {
		dst = make([]uint8, nrows)
	}
	c := r.C
	for i := range nrows {
		row := ws.scores[i*c : (i+1)*c]
		best := 0
		for j, s := range row {
			if s > row[best] {
				best = j
			}
		}
		dst[i] = uint8(best)
	}
	return dst
}

// Step does p -= lr * g for every parameter.
func (r *Raw[T]) Step(grads *Raw[T], lr float64) {
	for k, p := range r.Params() {
		axpy(-lr, grads.Params()[k], p)
	}
}

// gemm is C = alpha op(A) op(B) + beta C on ws.Threads threads.
func (ws *Workspace[T]) gemm(tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	nt := ws.Threads
	if nt <= 0 {
		nt = gemm.Threads()
	}
	gemm.GemmThreads(nt, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// scaled sets dst to alpha*src.
func scaled[T Float](dst []T, alpha T, src []T) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = alpha * v
	}
}

// axpy is y += alpha x.
func axpy[T Float](alpha float64, x, y []T) {
	switch x := any(x).(type) {
	case []float64:
		blas64.Implementation().Daxpy(len(x), alpha, x, 1, any(y).([]float64), 1)
	case []float32:
		blas32.Implementation().Saxpy(len(x), float32(alpha), x, 1, any(y).([]float32), 1)
	}
}

// sumSquares returns sum(v^2), accumulated in float64.
func sumSquares[T Float](v []T) float64 {
	switch v := any(v).(type) {
	case []float64:
		return blas64.Implementation().Ddot(len(v), v, 1, v, 1)
	case []float32:
		return blas32.Implementation().Dsdot(len(v), v, 1, v, 1)
	}
	panic("unreachable")
}

// colSum sets dst[j] to the sum over rows of column j of the row-major a.
func colSum[T Float](dst, a []T, cols int) {
	clear(dst)
	for i := 0; i < len(a); i += cols {
		for j, v := range a[i : i+cols : i+cols] {
			dst[j] += v
		}
	}
}
