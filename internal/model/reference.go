package model

import (
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// LossRef is the plain reference for Loss: the formulas of docs/DESIGN.md written
// with mat.Dense methods and fresh allocations, one step per line. It returns
// the loss and the gradients. dropout, if not nil, is the inverted-dropout
// masks of the hidden layers, as Workspace.Dropout; smoothing is label
// smoothing, as Workspace.Smoothing. A net with a Norm is normalised with
// the batch's statistics (training). It is slow; tests compare the fast
// path with it.
func LossRef(n *Net, X *mat.Dense, y []uint8, reg float64, dropout []float64, smoothing float64) (float64, *Net) {
	nrows, _ := X.Dims()
	layers := len(n.Layers)

	// Forward: z = in W + b, a = max(z, 0) * mask for each hidden layer;
	// scores = a W + b for the last.
	in := mat.Matrix(X)
	var zs, masks []*mat.Dense
	var norms []*refNorm
	inputs := []mat.Matrix{X}
	for l, layer := range n.Layers[:layers-1] {
		var z mat.Dense
		z.Mul(in, layer.W)
		z.Apply(func(_, j int, v float64) float64 { return v + layer.B[j] }, &z)
		if n.Norm != NoNorm {
			nm := newRefNorm(&z, n.Norm == LayerNorm)
			z.Apply(func(i, j int, _ float64) float64 { return layer.Gamma[j]*nm.xhat.At(i, j) + layer.Beta[j] }, nm.xhat)
			norms = append(norms, nm)
		}
		var a mat.Dense
		a.Apply(func(_, _ int, v float64) float64 { return math.Max(v, 0) }, &z)
		var mask *mat.Dense
		if dropout != nil {
			_, h := z.Dims()
			off := 0
			for _, prev := range n.Layers[:l] {
				_, w := prev.W.Dims()
				off += nrows * w
			}
			mask = mat.NewDense(nrows, h, dropout[off:off+nrows*h])
			a.MulElem(&a, mask) // a = relu(z) * mask
		}
		zs, masks = append(zs, &z), append(masks, mask)
		inputs = append(inputs, &a)
		in = &a
	}
	last := n.Layers[layers-1]
	var scores mat.Dense
	scores.Mul(in, last.W)
	scores.Apply(func(_, j int, v float64) float64 { return v + last.B[j] }, &scores)
	_, c := scores.Dims()

	// Targets q = (1-smoothing) onehot(y) + smoothing/C; softmax with the
	// row max subtracted; cross-entropy -sum q log p; L2 penalty.
	targets := mat.NewDense(nrows, c, nil)
	for i := range nrows {
		for j := range c {
			q := smoothing / float64(c)
			if j == int(y[i]) {
				q += 1 - smoothing
			}
			targets.Set(i, j, q)
		}
	}
	probs := mat.NewDense(nrows, c, nil)
	var data float64
	for i := range nrows {
		row := mat.Row(nil, i, &scores)
		m := floats.Max(row)
		floats.AddConst(-m, row)
		logSum := math.Log(floats.Sum(expAll(row)))
		for j := range row {
			data -= targets.At(i, j) * (row[j] - logSum)
			probs.Set(i, j, math.Exp(row[j]-logSum))
		}
	}
	var sq float64
	for _, layer := range n.Layers {
		sq += sumSq(layer.W)
	}
	loss := data/float64(nrows) + 0.5*reg*sq

	// Backward, from dscores = (probs - q) / N down.
	dout := mat.DenseCopyOf(probs)
	dout.Sub(dout, targets)
	dout.Scale(1/float64(nrows), dout)

	g := ZerosNorm(n.Norm, n.Sizes()...)
	for l := layers - 1; l >= 0; l-- {
		gl := g.Layers[l]
		gl.W.Mul(inputs[l].T(), dout)
		var rW mat.Dense
		rW.Scale(reg, n.Layers[l].W)
		gl.W.Add(gl.W, &rW)
		colSums(gl.B, dout)
		if l == 0 {
			break
		}
		var dz mat.Dense
		dz.Mul(dout, n.Layers[l].W.T()) // da
		if masks[l-1] != nil {
			dz.MulElem(&dz, masks[l-1]) // back through the mask
		}
		z := zs[l-1]
		dz.Apply(func(i, j int, v float64) float64 {
			if z.At(i, j) > 0 {
				return v
			}
			return 0
		}, &dz)
		if n.Norm != NoNorm {
			// dz is at gamma xhat + beta: dgamma, dbeta, then through the
			// normalisation.
			nm, gamma := norms[l-1], n.Layers[l-1].Gamma
			var dxy mat.Dense
			dxy.MulElem(&dz, nm.xhat)
			colSums(g.Layers[l-1].Gamma, &dxy)
			colSums(g.Layers[l-1].Beta, &dz)
			dz.Apply(func(_, j int, v float64) float64 { return v * gamma[j] }, &dz) // dxhat
			dz = *nm.backward(&dz)
		}
		dout = &dz
	}
	return loss, g
}

// refNorm is cs231n's batchnorm_forward and batchnorm_backward in
// training, one stage per line: each column of a matrix normalised over its
// rows. Layer normalisation is the same on the transpose, as cs231n
// writes layernorm_forward.
type refNorm struct {
	transposed bool
	xc         *mat.Dense // centred, in the orientation normalised
	std        []float64  // sqrt(var + eps) per column normalised
	xhat       *mat.Dense // normalised, in the net's orientation
}

func newRefNorm(z *mat.Dense, transposed bool) *refNorm {
	nm := &refNorm{transposed: transposed}
	zz := mat.DenseCopyOf(z)
	if transposed {
		zz = mat.DenseCopyOf(z.T())
	}
	rows, cols := zz.Dims()
	mu := make([]float64, cols)
	colSums(mu, zz)
	floats.Scale(1/float64(rows), mu)
	nm.xc = mat.NewDense(rows, cols, nil)
	nm.xc.Apply(func(i, j int, v float64) float64 { return v - mu[j] }, zz)
	var sq mat.Dense
	sq.MulElem(nm.xc, nm.xc)
	nm.std = make([]float64, cols)
	colSums(nm.std, &sq)
	for j := range nm.std {
		nm.std[j] = math.Sqrt(nm.std[j]/float64(rows) + NormEps)
	}
	var xhat mat.Dense
	xhat.Apply(func(_, j int, v float64) float64 { return v / nm.std[j] }, nm.xc)
	nm.xhat = &xhat
	if transposed {
		nm.xhat = mat.DenseCopyOf(xhat.T())
	}
	return nm
}

// backward returns the gradient at the normalisation's input given dxhat,
// the gradient at xhat, in the net's orientation.
func (nm *refNorm) backward(dxhat *mat.Dense) *mat.Dense {
	d := mat.DenseCopyOf(dxhat)
	if nm.transposed {
		d = mat.DenseCopyOf(dxhat.T())
	}
	rows, cols := d.Dims()
	var dxc1 mat.Dense // xhat = xc / std
	dxc1.Apply(func(_, j int, v float64) float64 { return v / nm.std[j] }, d)
	var prod mat.Dense
	prod.MulElem(d, nm.xc)
	dstd := make([]float64, cols)
	colSums(dstd, &prod)
	for j := range dstd {
		dstd[j] *= -1 / (nm.std[j] * nm.std[j])
	}
	dvar := make([]float64, cols) // std = sqrt(var + eps)
	for j := range dvar {
		dvar[j] = 0.5 * dstd[j] / nm.std[j]
	}
	var dxc2 mat.Dense // var = mean_rows(xc²)
	dxc2.Apply(func(_, j int, v float64) float64 { return 2 * v * dvar[j] / float64(rows) }, nm.xc)
	var dxc mat.Dense
	dxc.Add(&dxc1, &dxc2)
	dmu := make([]float64, cols) // xc = z - mu
	colSums(dmu, &dxc)
	var dz mat.Dense
	dz.Apply(func(_, j int, v float64) float64 { return v - dmu[j]/float64(rows) }, &dxc)
	if nm.transposed {
		return mat.DenseCopyOf(dz.T())
	}
	return &dz
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
