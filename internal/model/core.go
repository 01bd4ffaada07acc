package model

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas"

	"github.com/nettrain/nettrain/internal/gemm"
)

// Float is the element type of the fast path: float32 for speed, float64
// for the reference precision; the matrix products' own constraint.
type Float = gemm.Float

// Raw is a net's parameters as flat row-major slices in precision T, the
// form the fast path works on. A Raw[float64] made by Net.Raw shares the
// Net's memory; other precisions are copies (RawOf).
type Raw[T Float] struct {
	Sizes []int // inputs, hidden layers, classes
	Norm  Norm  // after each hidden affine layer
	W     [][]T // W[l] is (Sizes[l], Sizes[l+1])
	B     [][]T // B[l] is (Sizes[l+1])

	// With a Norm, one of each per hidden layer, (Sizes[l+1]) each; as the
	// Layer fields of the same names.
	Gamma, Beta     [][]T
	RunMean, RunVar [][]T // batch normalisation only
}

// NewRaw returns zero parameters of the given sizes (inputs, hidden
// layers, classes).
func NewRaw[T Float](sizes ...int) *Raw[T] { return NewRawNorm[T](NoNorm, sizes...) }

// NewRawNorm is NewRaw with a normalisation after each hidden layer.
func NewRawNorm[T Float](norm Norm, sizes ...int) *Raw[T] {
	checkSizes(sizes)
	r := &Raw[T]{Sizes: slices.Clone(sizes), Norm: norm, W: make([][]T, len(sizes)-1), B: make([][]T, len(sizes)-1)}
	for l := range r.W {
		r.W[l], r.B[l] = make([]T, sizes[l]*sizes[l+1]), make([]T, sizes[l+1])
	}
	for _, h := range sizes[1 : len(sizes)-1] {
		if norm != NoNorm {
			r.Gamma, r.Beta = append(r.Gamma, make([]T, h)), append(r.Beta, make([]T, h))
		}
		if norm == BatchNorm {
			r.RunMean, r.RunVar = append(r.RunMean, make([]T, h)), append(r.RunVar, make([]T, h))
		}
	}
	return r
}

// RawOf returns a copy of n's parameters and statistics in precision T,
// rounded once.
func RawOf[T Float](n *Net) *Raw[T] {
	r := NewRawNorm[T](n.Norm, n.Sizes()...)
	rp := r.Arrays()
	for k, p := range n.Arrays() {
		dst := rp[k]
		for i, v := range p {
			dst[i] = T(v)
		}
	}
	return r
}

// Raw returns n's parameters as a Raw[float64] sharing n's memory.
func (n *Net) Raw() *Raw[float64] {
	r := &Raw[float64]{Sizes: n.Sizes(), Norm: n.Norm}
	for _, l := range n.Layers {
		r.W = append(r.W, l.W.RawMatrix().Data)
		r.B = append(r.B, l.B)
		if l.Gamma != nil {
			r.Gamma, r.Beta = append(r.Gamma, l.Gamma), append(r.Beta, l.Beta)
		}
		if l.RunMean != nil {
			r.RunMean, r.RunVar = append(r.RunMean, l.RunMean), append(r.RunVar, l.RunVar)
		}
	}
	return r
}

// SetFrom sets n's parameters and statistics to r's, converted exactly to
// float64.
func SetFrom[T Float](n *Net, r *Raw[T]) {
	rp := r.Arrays()
	for k, p := range n.Arrays() {
		for i, v := range rp[k] {
			p[i] = float64(v)
		}
	}
}

// Params returns W1, b1, (gamma1, beta1,) W2, b2, ... in the order of
// Net.Params, sharing r's memory.
func (r *Raw[T]) Params() [][]T {
	p := make([][]T, 0, 4*len(r.W))
	for l := range r.W {
		p = append(p, r.W[l], r.B[l])
		if l < len(r.Gamma) {
			p = append(p, r.Gamma[l], r.Beta[l])
		}
	}
	return p
}

// ParamNames returns the names of Params, as Net.ParamNames.
func (r *Raw[T]) ParamNames() []string { return ParamNames(len(r.W), r.Norm) }

// Arrays returns Params then the running statistics, as Net.Arrays.
func (r *Raw[T]) Arrays() [][]T {
	a := r.Params()
	for l := range r.RunMean {
		a = append(a, r.RunMean[l], r.RunVar[l])
	}
	return a
}

// HiddenUnits is the sum of the hidden layers' widths of a net of the given
// layer sizes (inputs, hidden layers, classes).
func HiddenUnits(sizes []int) int {
	n := 0
	for _, h := range sizes[1 : len(sizes)-1] {
		n += h
	}
	return n
}

// Workspace holds the activations of one batch so that Loss and Predict
// allocate nothing after the first call. A Workspace serves one goroutine.
//
// Dropout, when not nil, is the inverted-dropout masks of the hidden layers
// for Loss, one after the other: a row-major (N, H1) slice, then (N, H2),
// and so on, of 0 (dropped) or 1/(1-p) (kept). Predict ignores it: dropout
// is off at evaluation.
//
// Smoothing, when above 0, is label smoothing for Loss: the targets are
// (1-Smoothing) onehot(y) + Smoothing/C instead of onehot(y).
//
// With a Norm, Loss normalises with the batch's statistics (training) and
// keeps batch norm's for Raw.Track; Predict uses the running ones.
//
// Threads, when above 0, is how many threads each matrix product of Loss
// and Predict may use; 0 means gemm.Threads(). Results do not depend on it.
type Workspace[T Float] struct {
	Dropout   []T
	Smoothing float64
	Threads   int

	a      [][]T // (N, H_l) hidden activations, ReLU (and dropout) applied
	da     [][]T // (N, H_l) gradient at the hidden layers
	scores []T   // (N, C) scores, then dscores

	// With a Norm, per hidden layer, from the last Loss.
	xhat     [][]T       // (N, H_l) normalised pre-activations
	inv      [][]float64 // 1/sqrt(var+eps): (H_l) per unit (batch norm), (N) per row (layer norm)
	mu, vari [][]float64 // (H_l) batch norm's batch mean and variance, for Track
	sums     []float64   // scratch of normBackward
}

func (ws *Workspace[T]) fit(nrows int, sizes []int, norm Norm) {
	hidden := sizes[1 : len(sizes)-1]
	if len(ws.a) != len(hidden) {
		ws.a, ws.da = make([][]T, len(hidden)), make([][]T, len(hidden))
		ws.xhat, ws.inv = make([][]T, len(hidden)), make([][]float64, len(hidden))
		ws.mu, ws.vari = make([][]float64, len(hidden)), make([][]float64, len(hidden))
	}
	for l, h := range hidden {
		if cap(ws.a[l]) < nrows*h {
			ws.a[l], ws.da[l] = make([]T, nrows*h), make([]T, nrows*h)
		}
		ws.a[l], ws.da[l] = ws.a[l][:nrows*h], ws.da[l][:nrows*h]
		if norm == NoNorm {
			continue
		}
		if cap(ws.xhat[l]) < nrows*h {
			ws.xhat[l] = make([]T, nrows*h)
		}
		ws.xhat[l] = ws.xhat[l][:nrows*h]
		n := h // statistics per unit
		if norm == LayerNorm {
			n = nrows // per row
		}
		if cap(ws.inv[l]) < n {
			ws.inv[l] = make([]float64, n)
		}
		ws.inv[l] = ws.inv[l][:n]
		if norm == BatchNorm && len(ws.mu[l]) != h {
			ws.mu[l], ws.vari[l] = make([]float64, h), make([]float64, h)
		}
	}
	c := sizes[len(sizes)-1]
	if cap(ws.scores) < nrows*c {
		ws.scores = make([]T, nrows*c)
	}
	ws.scores = ws.scores[:nrows*c]
}

// maskOf returns hidden layer l's part of the dropout mask, or nil.
func maskOf[T Float](mask []T, sizes []int, nrows, l int) []T {
	if mask == nil {
		return nil
	}
	off := nrows * HiddenUnits(sizes[:l+3]) // H1 + ... + H(l+1)
	return mask[off-nrows*sizes[l+1] : off]
}

// forward computes each hidden layer's a = max(in W + b, 0) and the scores
// = a W + b of the last layer into ws for the rows of x, a row-major
// (nrows, D) slice. With a dropout mask, each hidden layer's a is
// multiplied by its part before the next layer (inverted dropout: the mask
// is already scaled by 1/(1-p), so evaluation needs no rescaling). With a
// Norm, a = max(gamma xhat + beta, 0) with xhat the normalised in W + b:
// batch normalisation with the batch's statistics in training (train) and
// the running ones in evaluation.
func (r *Raw[T]) forward(ws *Workspace[T], x []T, nrows int, mask []T, train bool) {
	if len(x) != nrows*r.Sizes[0] {
		panic("model: X has the wrong shape")
	}
	if mask != nil && len(mask) != nrows*HiddenUnits(r.Sizes) {
		panic("model: dropout mask has the wrong shape")
	}
	ws.fit(nrows, r.Sizes, r.Norm)
	in := x
	for l := range r.W {
		k, out := r.Sizes[l], r.Sizes[l+1]
		if l == len(r.W)-1 {
			ws.gemm(blas.NoTrans, blas.NoTrans, nrows, out, k, 1, in, k, r.W[l], out, 0, ws.scores, out) // a W
			for i := range nrows {
				row := ws.scores[i*out : (i+1)*out : (i+1)*out]
				for j, b := range r.B[l][:out] {
					row[j] += b
				}
			}
			return
		}
		a, m := ws.a[l], maskOf(mask, r.Sizes, nrows, l)
		ws.gemm(blas.NoTrans, blas.NoTrans, nrows, out, k, 1, in, k, r.W[l], out, 0, a, out) // z = in W
		if r.Norm != NoNorm {
			r.normalise(ws, l, a, nrows, train) // a = gamma xhat + beta, xhat of z + b
			for i := range nrows {
				row := a[i*out : (i+1)*out : (i+1)*out]
				for j, v := range row {
					row[j] = max(v, 0)
				}
				if m != nil {
					for j, v := range m[i*out : (i+1)*out] {
						row[j] *= v
					}
				}
			}
			in = a
			continue
		}
		for i := range nrows {
			row := a[i*out : (i+1)*out : (i+1)*out]
			for j, b := range r.B[l][:out] {
				row[j] = max(row[j]+b, 0) // a = max(z + b, 0), in place
			}
			if m != nil {
				for j, v := range m[i*out : (i+1)*out] {
					row[j] *= v
				}
			}
		}
		in = a
	}
}

// Loss returns the loss on the batch x, a row-major (N, D) slice with labels
// y: mean softmax cross-entropy plus 0.5*reg*(sum(W1^2)+sum(W2^2)+...),
// summed in float64 whatever T is. If grads is not nil it receives the
// gradient of the loss with respect to each parameter. ws may be nil; pass
// one to reuse buffers across calls. Loss panics if x, y or grads do not
// fit r.
func (r *Raw[T]) Loss(grads *Raw[T], ws *Workspace[T], x []T, y []uint8, reg float64) float64 {
	if ws == nil {
		ws = &Workspace[T]{}
	}
	nrows := len(y)
	r.forward(ws, x, nrows, ws.Dropout, true)

	// Softmax cross-entropy, fused with its gradient
	// dscores = (softmax - onehot(y)) / N, written over the scores.
	// Each row is worked in float64: C is small.
	c := r.Sizes[len(r.Sizes)-1]
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
		if eps := ws.Smoothing; eps > 0 {
			// -sum_j q_j log p_j = log(sum_j exp(s_j - m)) - sum_j q_j (s_j - m),
			// with q = (1-eps) onehot(y) + eps/C; dscores = (p - q) / N.
			var mean float64
			for _, s := range row {
				mean += float64(s) - m
			}
			mean /= float64(c)
			data += math.Log(sum) - ((1-eps)*sy + eps*mean)
			if grads != nil {
				inv, off := invN/sum, eps/float64(c)*invN
				for j := range row {
					row[j] = T(e[j]*inv - off)
				}
				row[yi] = T(e[yi]*inv - (1-eps)*invN - off)
			}
			continue
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
	var sq float64
	for _, w := range r.W {
		sq += sumSquares(w)
	}
	loss := data*invN + 0.5*reg*sq
	if grads == nil {
		return loss
	}
	if !slices.Equal(grads.Sizes, r.Sizes) {
		panic("model: grads have the wrong shape")
	}

	// Layer by layer from the top, with dout the gradient at the layer's
	// output (dscores first): dW = in^T dout + reg W; db = sum_rows(dout);
	// then the gradient at its input, din = (dout W^T) * [z > 0], which is
	// the next dout down. a > 0 exactly where z > 0 (and, with dropout,
	// the unit was kept, whose mask value scales din). With a Norm, din is
	// then carried back through the normalisation (normBackward), which
	// also gives dgamma and dbeta.
	dout := ws.scores
	for l := len(r.W) - 1; l >= 0; l-- {
		k, out := r.Sizes[l], r.Sizes[l+1]
		in := x
		if l > 0 {
			in = ws.a[l-1]
		}
		scaled(grads.W[l], T(reg), r.W[l])
		ws.gemm(blas.Trans, blas.NoTrans, k, out, nrows, 1, in, k, dout, out, 1, grads.W[l], out)
		if r.Norm == BatchNorm && l < len(r.W)-1 {
			// Batch norm subtracts the batch mean, b with it: db is exactly
			// 0 (a sum of dz, which sums to 0), not the round-off of one.
			clear(grads.B[l])
		} else {
			colSum(grads.B[l], dout, out)
		}
		if l == 0 {
			break
		}
		din, m := ws.da[l-1], maskOf(ws.Dropout, r.Sizes, nrows, l-1)
		ws.gemm(blas.NoTrans, blas.Trans, nrows, k, out, 1, dout, out, r.W[l], out, 0, din, k)
		for i, v := range in {
			switch {
			case v <= 0:
				din[i] = 0
			case m != nil:
				din[i] *= m[i]
			}
		}
		if r.Norm != NoNorm {
			r.normBackward(ws, l-1, din, nrows, grads.Gamma[l-1], grads.Beta[l-1])
		}
		dout = din
	}
	return loss
}

// Predict writes argmax(scores) of each row of x into dst and returns dst;
// nil dst allocates. Ties go to the lowest class, as numpy's argmax.
func (r *Raw[T]) Predict(dst []uint8, ws *Workspace[T], x []T) []uint8 {
	if ws == nil {
		ws = &Workspace[T]{}
	}
	nrows := len(x) / r.Sizes[0]
	r.forward(ws, x, nrows, nil, false)
	if dst == nil {
		dst = make([]uint8, nrows)
	}
	c := r.Sizes[len(r.Sizes)-1]
	for i := range nrows {
		row := ws.scores[i*c : (i+1)*c]
		best := 0
		for j, s := range row {
			if s > row[best] {
				best = j
			}
			if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
				best = NotFinite
				break
			}
		}
		dst[i] = uint8(best)
	}
	return dst
}

// NotFinite is the class Predict gives an image whose scores are not all
// finite (weights so large that the products overflow, or NaN): no class
// at all, which scoring reports rather than counting (CheckFinite).
const NotFinite = 255

// CheckFinite returns an error if any prediction is NotFinite.
func CheckFinite(pred []uint8) error {
	n := 0
	for _, p := range pred {
		if p == NotFinite {
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("model: the net's scores are not finite for %d of %d images (weights too large, or NaN): no prediction; retrain with a smaller {lr} or {std}", n, len(pred))
	}
	return nil
}

// Step does p -= lr * g for every parameter.
func (r *Raw[T]) Step(grads *Raw[T], lr float64) {
	for l := range r.W {
		axpy(-lr, grads.W[l], r.W[l])
		axpy(-lr, grads.B[l], r.B[l])
	}
	for l := range r.Gamma {
		axpy(-lr, grads.Gamma[l], r.Gamma[l])
		axpy(-lr, grads.Beta[l], r.Beta[l])
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

// axpy is y += alpha x in precision T: alpha is rounded to T once, and each
// element is a product rounded to T and then a sum, never one fused
// multiply-add (the explicit conversion forbids Go from fusing the two), so
// the update has the same bits on every CPU and build. It is the arithmetic
// of gonum's pure-Go Daxpy and Saxpy, whose bits the pinned weights were
// made with; it is our own so that no BLAS chosen at run time (OpenBLAS
// fuses, on current CPUs) can change them.
func axpy[T Float](alpha float64, x, y []T) {
	a := T(alpha)
	y = y[:len(x)]
	for i, v := range x {
		y[i] += T(a * v)
	}
}

// sumSquares returns sum(v^2) in float64 (a float32 square is exact in
// float64) in one fixed order: four running sums s0..s3 over the elements
// i = 0, 1, 2, 3 (mod 4) of the whole blocks of four, the last len%4
// elements added to s0, then (s0 + s2) + (s1 + s3). For float64 that is the
// order of gonum's amd64 Ddot, with which the pinned losses were made.
func sumSquares[T Float](v []T) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		x0, x1, x2, x3 := float64(v[i]), float64(v[i+1]), float64(v[i+2]), float64(v[i+3])
		s0 += float64(x0 * x0)
		s1 += float64(x1 * x1)
		s2 += float64(x2 * x2)
		s3 += float64(x3 * x3)
	}
	for ; i < len(v); i++ {
		x := float64(v[i])
		s0 += float64(x * x)
	}
	return (s0 + s2) + (s1 + s3)
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
