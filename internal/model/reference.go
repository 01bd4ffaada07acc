package model

import (
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// LossRef is the plain reference for Loss: the formulas of DESIGN.md written
// with mat.Dense methods and fresh allocations, one step per line. It returns
// the loss and the gradients. dropout, if not nil, is an inverted-dropout
// mask (N, H) applied to the hidden layer. It is slow; tests compare the
// fast path with it.
func LossRef(n *Net, X *mat.Dense, y []uint8, reg float64, dropout []float64) (float64, *Net) {
	nrows, _ := X.Dims()
	d, hid, c := n.Dims()

	// Forward: z = X W1 + b1, h = max(z, 0), scores = h W2 + b2.
	var z mat.Dense
	z.Mul(X, n.W1)
	z.Apply(func(_, j int, v float64) float64 { return v + n.B1[j] }, &z)
	var h mat.Dense
	h.Apply(func(_, _ int, v float64) float64 { return math.Max(v, 0) }, &z)
	var mask *mat.Dense
	if dropout != nil {
		mask = mat.NewDense(nrows, hid, dropout)
		h.MulElem(&h, mask) // h = relu(z) * mask
	}
	var scores mat.Dense
	scores.Mul(&h, n.W2)
	scores.Apply(func(_, j int, v float64) float64 { return v + n.B2[j] }, &scores)

	// Softmax with the row max subtracted, cross-entropy, L2 penalty.
	probs := mat.NewDense(nrows, c, nil)
	var data float64
	for i := range nrows {
		row := mat.Row(nil, i, &scores)
		m := floats.Max(row)
		floats.AddConst(-m, row)
		logSum := math.Log(floats.Sum(expAll(row)))
		data += logSum - row[y[i]]
		for j := range row {
			probs.Set(i, j, math.Exp(row[j]-logSum))
		}
	}
	loss := data/float64(nrows) + 0.5*reg*(sumSq(n.W1)+sumSq(n.W2))

	// Backward.
	dscores := mat.DenseCopyOf(probs)
	for i := range nrows {
		dscores.Set(i, int(y[i]), dscores.At(i, int(y[i]))-1)
	}
	dscores.Scale(1/float64(nrows), dscores)

	g := Zeros(d, hid, c)
	g.W2.Mul(h.T(), dscores)
	var rW2 mat.Dense
	rW2.Scale(reg, n.W2)
	g.W2.Add(g.W2, &rW2)
	colSums(g.B2, dscores)

	var dz mat.Dense
	dz.Mul(dscores, n.W2.T()) // dh
	if mask != nil {
		dz.MulElem(&dz, mask) // back through the mask
	}
	dz.Apply(func(i, j int, v float64) float64 {
		if z.At(i, j) > 0 {
			return v
		}
		return 0
	}, &dz)
	g.W1.Mul(X.T(), &dz)
	var rW1 mat.Dense
	rW1.Scale(reg, n.W1)
	g.W1.Add(g.W1, &rW1)
	colSums(g.B1, &dz)
	return loss, g
}

func expAll(v []float64) []float64 {
	e := make([]float64, len(v))
	for i, x := range v {
		e[i] = math.Exp(x)
	}
	return e
}

func sumSq(m *mat.Dense) float64 {
	var sq mat.Dense
	sq.MulElem(m, m)
	return mat.Sum(&sq)
}

func colSums(dst []float64, m *mat.Dense) {
	r, _ := m.Dims()
	for j := range dst {
		dst[j] = mat.Sum(m.Slice(0, r, j, j+1))
	}
}
