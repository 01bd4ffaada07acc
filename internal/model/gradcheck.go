package model

import "math"

// ParamCheck is the result of checking one parameter's gradient.
type ParamCheck struct {
	Name      string  // W1, b1, W2, b2, ...
	Entries   int     // entries compared
	Kinks     int     // entries not compared: a step of h crosses a ReLU kink
	MaxRelErr float64 // largest relative error over the entries compared
	Worst     int     // flat index of the entry with that error
	Analytic  float64 // analytic gradient at Worst
	Numeric   float64 // numerical gradient at Worst
}

// RelErr is the relative error cs231n uses: |a-b| / max(floor, |a|+|b|).
// The floor keeps two gradients that are both (almost) zero from counting
// as far apart; cs231n's is 1e-8.
func RelErr(a, b, floor float64) float64 {
	if a == b {
		return 0
	}
	return math.Abs(a-b) / math.Max(floor, math.Abs(a)+math.Abs(b))
}

// RelFloor is the floor of RelErr in CompareGrads, relative to the largest
// gradient of the parameter: an entry smaller than that is below the
// round-off of the analytic gradient itself, whose every entry is a sum of
// terms up to about as large as the largest gradient, each rounded to
// float64's 1.1e-16.
const RelFloor = 1e-8

// GradStep is the step h of NumGrad for gradcheck and the tests. Its
// differences are carried through the net, so h does not trade round-off
// against truncation as cs231n's f(p+h) - f(p-h) with h = 1e-5 does: a
// small h makes truncation negligible and crosses few ReLU kinks. Measured
// on the real images (seeds 0..9, N 5..100, H 10 and 50, reg 0..1, dropout 0
// and 0.5, weights 0.1 N(0,1)), the largest relative error is 1.0e-8 with
// it, round-off of entries near the floor of RelErr; with h = 1e-7 it is
// 7.9e-8, truncation on W2, falling as h².
const GradStep = 1e-9

// GradCheck compares the analytic gradients of n.Loss on the batch x, y with
// the numerical ones of NumGrad, step h, and returns what CompareGrads finds.
// dropout, if not nil, is a fixed inverted-dropout mask, and smoothing label
// smoothing (see Workspace), used by both. n is not changed.
func GradCheck(n *Net, x []float64, y []uint8, reg, h float64, dropout []float64, smoothing float64) []ParamCheck {
	grads := ZerosNorm(n.Norm, n.Sizes()...)
	n.Loss(grads, &Workspace[float64]{Dropout: dropout, Smoothing: smoothing}, x, y, reg)
	num, kinks := NumGrad(n, x, y, reg, h, dropout, smoothing)
	return CompareGrads(grads, num, kinks)
}

// CompareGrads returns, for each parameter, the largest RelErr between the
// analytic gradient a and the numerical one num over the entries not marked
// in kinks, with the floor RelFloor times the parameter's largest |a|. A NaN
// anywhere is the largest error.
func CompareGrads(a, num *Net, kinks [][]bool) []ParamCheck {
	out := make([]ParamCheck, len(a.Params()))
	names := a.ParamNames()
	for k, g := range a.Params() {
		ng := num.Params()[k]
		var big float64
		for _, v := range g {
			if math.Abs(v) > big { // not max: a NaN must not make every floor NaN
				big = math.Abs(v)
			}
		}
		pc := ParamCheck{Name: names[k]}
		for i := range g {
			if kinks[k][i] {
				pc.Kinks++
				continue
			}
			e := RelErr(g[i], ng[i], RelFloor*big)
			if pc.Entries == 0 || e > pc.MaxRelErr || math.IsNaN(e) && !math.IsNaN(pc.MaxRelErr) {
				pc.MaxRelErr, pc.Worst, pc.Analytic, pc.Numeric = e, i, g[i], ng[i]
			}
			pc.Entries++
		}
		out[k] = pc
	}
	return out
}

// NumGrad returns the numerical gradient of n.Loss on the batch x, y by
// centered differences, and which entries it could not tell (kinks). n is
// not changed.
//
// The gradient of entry p is (Δ(h) - Δ(-h)) / 2h, where Δ(δ) = f(p+δ) - f(p)
// is not the difference of two losses but is carried through the net as a
// difference: the change of the pre-activations of p's layer, of its ReLU
// outputs, of each layer's above it, of the scores, then of each row's loss,
// log1p(Σ_c p_c expm1(Δs_c - Δs_y)) with p the softmax of the unchanged
// scores, and of the penalty, reg δ (w + δ/2). Each is exact up to a few
// roundings of its own size, so the round-off that makes f(p+h) - f(p-h)
// useless when a gradient is small next to the loss (real images: W1
// gradients near 1e-6 against a loss near 2.3, relative errors up to 1e-4 in
// float64 with h = 1e-5) is gone, and h can be small enough that the
// truncation error (h² times the third derivative over 6) is too.
//
// An entry whose step moves any hidden pre-activation across zero, the kink
// of ReLU where the gradient jumps, is marked in kinks: a centered
// difference there averages the two one-sided slopes, and no tolerance can
// tell that from a bug. cs231n's notes suggest the same test.
//
// With a Norm (training's, the batch's statistics) the differences are
// carried as whole matrices, since normalisation couples rows or units
// (normDiff).
func NumGrad(n *Net, x []float64, y []uint8, reg, h float64, dropout []float64, smoothing float64) (num *Net, kinks [][]bool) {
	num = ZerosNorm(n.Norm, n.Sizes()...)
	var delta func(k, i int, step float64) (float64, bool)
	if n.Norm == NoNorm {
		dc := newDiffCheck(n.Raw(), x, y, reg, dropout)
		dc.smoothing = smoothing
		delta = dc.delta
	} else {
		delta = newNormDiff(n.Raw(), x, y, reg, smoothing, dropout).delta
	}
	for k, p := range n.Params() {
		kinks = append(kinks, make([]bool, len(p)))
		for i := range p {
			fp, kp := delta(k, i, h)
			fm, km := delta(k, i, -h)
			kinks[k][i] = kp || km
			num.Params()[k][i] = (fp - fm) / (2 * h)
		}
	}
	return num, kinks
}

// diffCheck holds the forward pass of one batch for computing how the loss
// changes when one parameter entry does.
type diffCheck struct {
	r         *Raw[float64]
	x         []float64
	y         []uint8
	reg       float64
	smoothing float64     // label smoothing, as Workspace.Smoothing
	mask      []float64   // dropout masks of the hidden layers, as Workspace.Dropout, or nil
	z         [][]float64 // (N, H_l) hidden pre-activations in W + b
	a         [][]float64 // (N, H_l) hidden outputs max(z, 0) * mask
	p         []float64   // (N, C) softmax of the scores
	dz        [][]float64 // scratch: change of one row's pre-activations, per layer above the first
	ds        []float64   // scratch: change of one row's scores
}

func newDiffCheck(r *Raw[float64], x []float64, y []uint8, reg float64, mask []float64) *diffCheck {
	n, layers := len(y), len(r.W)
	c := r.Sizes[layers]
	dc := &diffCheck{r: r, x: x, y: y, reg: reg, mask: mask, p: make([]float64, n*c), ds: make([]float64, c)}
	for _, h := range r.Sizes[1:layers] {
		dc.z = append(dc.z, make([]float64, n*h))
		dc.a = append(dc.a, make([]float64, n*h))
		dc.dz = append(dc.dz, make([]float64, h))
	}
	for i := range n {
		in := x[i*r.Sizes[0] : (i+1)*r.Sizes[0]]
		for l := range layers - 1 {
			k, out := r.Sizes[l], r.Sizes[l+1]
			for u := range out {
				z := r.B[l][u]
				for j := range k {
					z += in[j] * r.W[l][j*out+u]
				}
				dc.z[l][i*out+u] = z
				dc.a[l][i*out+u] = dc.keep(l, i, u) * max(z, 0)
			}
			in = dc.a[l][i*out : (i+1)*out]
		}
		k, w, b := r.Sizes[layers-1], r.W[layers-1], r.B[layers-1]
		s := dc.p[i*c : (i+1)*c]
		for ci := range c {
			s[ci] = b[ci]
			for u := range k {
				s[ci] += in[u] * w[u*c+ci]
			}
		}
		softmaxInPlace(s)
	}
	return dc
}

// keep is the dropout mask's value in hidden layer l for row i, unit u: 1
// without dropout.
func (dc *diffCheck) keep(l, i, u int) float64 {
	if dc.mask == nil {
		return 1
	}
	h := dc.r.Sizes[l+1]
	return maskOf(dc.mask, dc.r.Sizes, len(dc.y), l)[i*h+u]
}

// input returns row i of layer l's input: the image, or the outputs of
// hidden layer l-1.
func (dc *diffCheck) input(l, i int) []float64 {
	k := dc.r.Sizes[l]
	if l == 0 {
		return dc.x[i*k : (i+1)*k]
	}
	return dc.a[l-1][i*k : (i+1)*k]
}

// delta returns f(p+δ) - f(p) for entry i of parameter k (W1, b1, W2, b2,
// ... in the order of Params), and whether the step crosses a ReLU kink.
func (dc *diffCheck) delta(k, i int, step float64) (df float64, kink bool) {
	r, n := dc.r, len(dc.y)
	layers := len(r.W)
	l, isW := k/2, k%2 == 0
	out := r.Sizes[l+1]
	u := i % out     // the output unit the entry feeds: column u of W, or b[u]
	var rows float64 // sum over rows of the change of the row's loss
	for row := range n {
		dz := step // change of unit u's pre-activation in layer l
		if isW {
			dz *= dc.input(l, row)[i/out]
		}
		if l == layers-1 { // a score moves
			clear(dc.ds)
			dc.ds[u] = dz
			rows += dc.rowDelta(row, dc.ds)
			continue
		}
		z := dc.z[l][row*out+u]
		if (z > 0) != (z+dz > 0) {
			return 0, true
		}
		da := 0.0
		if z > 0 {
			da = dc.keep(l, row, u) * dz // exact: no max(z+dz,0) - max(z,0)
		}
		if da == 0 {
			continue // nothing above moves: the row's loss does not change
		}
		d, kinked := dc.propagate(l, row, u, da)
		if kinked {
			return 0, true
		}
		rows += dc.rowDelta(row, d)
	}
	df = rows / float64(n)
	if isW {
		w := r.Params()[k][i]
		df += dc.reg * step * (w + step/2) // 0.5 reg ((w+δ)² - w²)
	}
	return df, false
}

// propagate returns the change of row's scores when unit u of hidden layer
// l changes its output by da, carried up through the layers above as a
// difference, and whether a pre-activation above crosses a ReLU kink.
func (dc *diffCheck) propagate(l, row, u int, da float64) (ds []float64, kink bool) {
	r := dc.r
	layers := len(r.W)
	// The layer above sees one input move: its change is da times row u of W.
	next := r.Sizes[l+2]
	d := dc.ds
	if l+1 < layers-1 {
		d = dc.dz[l+1]
	}
	for v := range next {
		d[v] = da * r.W[l+1][u*next+v]
	}
	for m := l + 1; m < layers-1; m++ {
		// d is the change of hidden layer m's pre-activations: through
		// its ReLU, then into layer m+1.
		h := r.Sizes[m+1]
		for v := range h {
			z := dc.z[m][row*h+v]
			if (z > 0) != (z+d[v] > 0) {
				return nil, true
			}
			if z > 0 {
				d[v] *= dc.keep(m, row, v)
			} else {
				d[v] = 0
			}
		}
		above := r.Sizes[m+2]
		nd := dc.ds
		if m+1 < layers-1 {
			nd = dc.dz[m+1]
		}
		clear(nd)
		for v, dv := range d {
			if dv == 0 {
				continue
			}
			w := r.W[m+1][v*above : (v+1)*above]
			for t := range above {
				nd[t] += dv * w[t]
			}
		}
		d = nd
	}
	return d, false
}

// rowDelta is the change of -log softmax(s)_y of row i when its scores s
// move by ds: log(Σ_c p_c exp(ds_c - ds_y)), as Σ_c p_c = 1 written
// log1p(Σ_c p_c expm1(ds_c - ds_y)), so that it keeps its relative precision
// however small ds is and however close p_y is to 1. With label smoothing
// the row's loss is LSE(s) - Σ_c q_c s_c, and ds_y becomes t = Σ_c q_c ds_c.
func (dc *diffCheck) rowDelta(i int, ds []float64) float64 {
	c := len(dc.ds)
	y := int(dc.y[i])
	var s float64
	if eps := dc.smoothing; eps > 0 {
		var mean float64
		for _, d := range ds {
			mean += d
		}
		t := (1-eps)*ds[y] + eps*mean/float64(c)
		for ci, p := range dc.p[i*c : (i+1)*c] {
			s += p * math.Expm1(ds[ci]-t)
		}
		return math.Log1p(s)
	}
	for ci, p := range dc.p[i*c : (i+1)*c] {
		if ci != y {
			s += p * math.Expm1(ds[ci]-ds[y])
		}
	}
	return math.Log1p(s)
}
