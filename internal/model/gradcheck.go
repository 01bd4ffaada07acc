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
// The differences are carried as whole (N, H) matrices, one per layer
// (diffCheck): a normalisation (training's, with the batch's statistics)
// couples the rows of a batch or the units of a row.
func NumGrad(n *Net, x []float64, y []uint8, reg, h float64, dropout []float64, smoothing float64) (num *Net, kinks [][]bool) {
	num = ZerosNorm(n.Norm, n.Sizes()...)
	dc := newDiffCheck(n.Raw(), x, y, reg, smoothing, dropout)
	for k, p := range n.Params() {
		kinks = append(kinks, make([]bool, len(p)))
		for i := range p {
			fp, kp := dc.delta(k, i, h)
			fm, km := dc.delta(k, i, -h)
			kinks[k][i] = kp || km
			num.Params()[k][i] = (fp - fm) / (2 * h)
		}
	}
	return num, kinks
}

// rowDelta is the change of -log softmax(s)_y of row i when its scores s
// move by ds: log(Σ_c p_c exp(ds_c - ds_y)), as Σ_c p_c = 1 written
// log1p(Σ_c p_c expm1(ds_c - ds_y)), so that it keeps its relative precision
// however small ds is and however close p_y is to 1. With label smoothing
// the row's loss is LSE(s) - Σ_c q_c s_c, and ds_y becomes t = Σ_c q_c ds_c.
func (dc *diffCheck) rowDelta(i int, ds []float64) float64 {
	c := len(ds)
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
