package model

import "math"

// ParamCheck is the result of checking one parameter's gradient.
type ParamCheck struct {
	Name      string  // W1, b1, W2 or b2
	Entries   int     // entries checked
	MaxRelErr float64 // largest relative error over the entries
	Worst     int     // flat index of the entry with that error
	Analytic  float64 // analytic gradient at Worst
	Numeric   float64 // numerical gradient at Worst
}

// RelErr is the relative error cs231n uses: |a-b| / max(1e-8, |a|+|b|).
// The floor keeps two gradients that are both (almost) zero from counting
// as far apart.
func RelErr(a, b float64) float64 {
	return math.Abs(a-b) / math.Max(1e-8, math.Abs(a)+math.Abs(b))
}

// GradCheck compares the analytic gradients of n.Loss on the batch x, y with
// centered differences (f(p+h) - f(p-h)) / 2h for every entry of W1, b1, W2
// and b2, in float64. dropout, if not nil, is a fixed inverted-dropout mask
// (see Workspace) used by every evaluation. It perturbs n in place and
// restores each entry exactly before it returns.
func GradCheck(n *Net, x []float64, y []uint8, reg, h float64, dropout []float64) [4]ParamCheck {
	d, hid, c := n.Dims()
	grads := Zeros(d, hid, c)
	ws := &Workspace[float64]{Dropout: dropout}
	n.Loss(grads, ws, x, y, reg)

	var out [4]ParamCheck
	for k, p := range n.Params() {
		g := grads.Params()[k]
		pc := ParamCheck{Name: ParamNames[k], Entries: len(p)}
		for i := range p {
			old := p[i]
			p[i] = old + h
			fp := n.Loss(nil, ws, x, y, reg)
			p[i] = old - h
			fm := n.Loss(nil, ws, x, y, reg)
			p[i] = old
			num := (fp - fm) / (2 * h)
			if e := RelErr(g[i], num); e > pc.MaxRelErr || i == 0 {
				pc.MaxRelErr, pc.Worst, pc.Analytic, pc.Numeric = e, i, g[i], num
			}
		}
		out[k] = pc
	}
	return out
}
