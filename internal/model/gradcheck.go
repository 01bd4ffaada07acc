package model

import "math"

// ParamCheck is the result of checking one parameter's gradient.
type ParamCheck struct {
	Name      string  // W1, b1, W2 or b2
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
// dropout, if not nil, is a fixed inverted-dropout mask (see Workspace) used
// by both. n is not changed.
func GradCheck(n *Net, x []float64, y []uint8, reg, h float64, dropout []float64) [4]ParamCheck {
	d, hid, c := n.Dims()
	grads := Zeros(d, hid, c)
	n.Loss(grads, &Workspace[float64]{Dropout: dropout}, x, y, reg)
	num, kinks := NumGrad(n, x, y, reg, h, dropout)
	return CompareGrads(grads, num, kinks)
}

// CompareGrads returns, for each parameter, the largest RelErr between the
// analytic gradient a and the numerical one num over the entries not marked
// in kinks, with the floor RelFloor times the parameter's largest |a|. A NaN
// anywhere is the largest error.
func CompareGrads(a, num *Net, kinks [4][]bool) [4]ParamCheck {
	var out [4]ParamCheck
	for k, g := range a.Params() {
		ng := num.Params()[k]
		var big float64
		for _, v := range g {
			if math.Abs(v) > big { // not max: a NaN must not make every floor NaN
				big = math.Abs(v)
			}
		}
		pc := ParamCheck{Name: ParamNames[k]}
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
// difference: the change of the hidden pre-activations, of the ReLU outputs,
// of the scores, then of each row's loss, log1p(Σ_c p_c expm1(Δs_c - Δs_y))
// with p the softmax of the unchanged scores, and of the penalty,
// reg δ (w + δ/2). Each is exact up to a few roundings of its own size, so
// the round-off that makes f(p+h) - f(p-h) useless when a gradient is small
// next to the loss (real images: W1 gradients near 1e-6 against a loss near
// 2.3, relative errors up to 1e-4 in float64 with h = 1e-5) is gone, and h
// can be small enough that the truncation error (h² times the third
// derivative over 6) is too.
//
// An entry whose step moves any hidden pre-activation across zero, the kink
// of ReLU where the gradient jumps, is marked in kinks: a centered
// difference there averages the two one-sided slopes, and no tolerance can
// tell that from a bug. cs231n's notes suggest the same test.
func NumGrad(n *Net, x []float64, y []uint8, reg, h float64, dropout []float64) (num *Net, kinks [4][]bool) {
	d, hid, c := n.Dims()
	num = Zeros(d, hid, c)
	dc := newDiffCheck(n.Raw(), x, y, reg, dropout)
	for k, p := range n.Params() {
		kinks[k] = make([]bool, len(p))
		for i := range p {
			fp, kp := dc.delta(k, i, h)
			fm, km := dc.delta(k, i, -h)
			kinks[k][i] = kp || km
			num.Params()[k][i] = (fp - fm) / (2 * h)
		}
	}
	return num, kinks
}

// diffCheck holds the forward pass of one batch for computing how the loss
// changes when one parameter entry does.
type diffCheck struct {
	r      *Raw[float64]
	x      []float64
	y      []uint8
	reg    float64
	mask   []float64 // (N, H) dropout mask or nil
	z      []float64 // (N, H) hidden pre-activations X W1 + b1
	a      []float64 // (N, H) hidden outputs max(z, 0) * mask
	p      []float64 // (N, C) softmax of the scores
	dz, ds []float64 // scratch: change of z (one column) and of one row's scores
}

func newDiffCheck(r *Raw[float64], x []float64, y []uint8, reg float64, mask []float64) *diffCheck {
	n, d, hid, c := len(y), r.D, r.H, r.C
	dc := &diffCheck{r: r, x: x, y: y, reg: reg, mask: mask,
		z: make([]float64, n*hid), a: make([]float64, n*hid), p: make([]float64, n*c),
		dz: make([]float64, n), ds: make([]float64, c)}
	for i := range n {
		for k := range hid {
			z := r.B1[k]
			for j := range d {
				z += x[i*d+j] * r.W1[j*hid+k]
			}
			dc.z[i*hid+k] = z
			dc.a[i*hid+k] = dc.keep(i, k) * max(z, 0)
		}
		s := dc.p[i*c : (i+1)*c]
		for ci := range c {
			s[ci] = r.B2[ci]
			for k := range hid {
				s[ci] += dc.a[i*hid+k] * r.W2[k*c+ci]
			}
		}
		m := s[0]
		for _, v := range s {
			m = max(m, v)
		}
		var sum float64
		for ci, v := range s {
			s[ci] = math.Exp(v - m)
			sum += s[ci]
		}
		for ci := range s {
			s[ci] /= sum
		}
	}
	return dc
}

// keep is the dropout mask's value for row i, unit k: 1 without dropout.
func (dc *diffCheck) keep(i, k int) float64 {
	if dc.mask == nil {
		return 1
	}
	return dc.mask[i*dc.r.H+k]
}

// delta returns f(p+δ) - f(p) for entry i of parameter k (W1, b1, W2, b2),
// and whether the step crosses a ReLU kink.
func (dc *diffCheck) delta(k, i int, step float64) (df float64, kink bool) {
	r, n, hid, c := dc.r, len(dc.y), dc.r.H, dc.r.C
	var rows float64 // sum over rows of the change of the row's loss
	switch k {
	case 0, 1: // W1[j, u] or b1[u]: column u of z moves by step * x[:, j] or step.
		u := i % hid
		for row := range n {
			dc.dz[row] = step
			if k == 0 {
				dc.dz[row] *= dc.x[row*r.D+i/hid]
			}
		}
		for row := range n {
			z := dc.z[row*hid+u]
			nz := z + dc.dz[row]
			if (z > 0) != (nz > 0) {
				return 0, true
			}
			da := 0.0
			if z > 0 {
				da = dc.keep(row, u) * dc.dz[row] // exact: no max(nz,0) - max(z,0)
			}
			for ci := range c {
				dc.ds[ci] = da * r.W2[u*c+ci]
			}
			rows += dc.rowDelta(row, dc.ds)
		}
	case 2, 3: // W2[u, v] or b2[v]: column v of the scores moves by step * a[:, u] or step.
		v := i % c
		clear(dc.ds)
		for row := range n {
			dc.ds[v] = step
			if k == 2 {
				dc.ds[v] *= dc.a[row*hid+i/c]
			}
			rows += dc.rowDelta(row, dc.ds)
		}
	}
	df = rows / float64(n)
	if k == 0 || k == 2 {
		w := r.Params()[k][i]
		df += dc.reg * step * (w + step/2) // 0.5 reg ((w+δ)² - w²)
	}
	return df, false
}

// rowDelta is the change of -log softmax(s)_y of row i when its scores s
// move by ds: log(Σ_c p_c exp(ds_c - ds_y)), as Σ_c p_c = 1 written
// log1p(Σ_c p_c expm1(ds_c - ds_y)), so that it keeps its relative precision
// however small ds is and however close p_y is to 1.
func (dc *diffCheck) rowDelta(i int, ds []float64) float64 {
	c := dc.r.C
	y := int(dc.y[i])
	var s float64
	for ci, p := range dc.p[i*c : (i+1)*c] {
		if ci != y {
			s += p * math.Expm1(ds[ci]-ds[y])
		}
	}
	return math.Log1p(s)
}
