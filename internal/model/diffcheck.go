package model

import "math"

// diffCheck holds the forward pass of one batch for computing how the loss
// changes when one parameter entry does (NumGrad). A change is carried
// through the net as a whole (N, H) matrix of differences per layer:
// normalisation couples what the plain net keeps apart, batch norm the rows
// of a unit (the batch's statistics), layer norm the units of a row.
// Through a normalisation the differences are carried as differences too:
//
//	Δc = Δz - mean(Δz)                      (c = z - mean(z))
//	Δvar = mean(2 c Δc + Δc²)
//	Δσ = Δvar / (σ + σ'),  σ' = sqrt(var + Δvar + eps)
//	Δxhat = Δc / σ' - c Δσ / (σ σ')
//
// with the means over the rows (batch norm) or the units (layer norm), each
// term a difference of its own size, so that the precision argument of
// NumGrad holds as it does without normalisation.
type diffCheck struct {
	r         *Raw[float64]
	x         []float64
	y         []uint8
	reg       float64
	smoothing float64
	mask      []float64
	n         int
	c         [][]float64 // (N, H_l) pre-activations z + b, centred (z + b - mean) with a Norm
	sigma     [][]float64 // with a Norm, sqrt(var + eps) per group: unit (batch norm) or row (layer norm)
	yv        [][]float64 // (N, H_l) what the ReLU takes: gamma xhat + beta with a Norm, else z + b
	a         [][]float64 // (N, H_l) outputs max(yv, 0) * mask
	p         []float64   // (N, C) softmax of the scores
	dz, dy    [][]float64 // scratch: (N, H_l) differences per layer
	ds        []float64   // scratch: (N, C) change of the scores
	gc, gd    []float64   // scratch: one group's c and Δz
}

func newDiffCheck(r *Raw[float64], x []float64, y []uint8, reg, smoothing float64, mask []float64) *diffCheck {
	n, layers := len(y), len(r.W)
	c := r.Sizes[layers]
	dc := &diffCheck{r: r, x: x, y: y, reg: reg, smoothing: smoothing, mask: mask, n: n, p: make([]float64, n*c), ds: make([]float64, n*c)}
	in, k := x, r.Sizes[0]
	for l := range layers - 1 {
		h := r.Sizes[l+1]
		z := make([]float64, n*h)
		for i := range n {
			for u := range h {
				v := r.B[l][u]
				for j := range k {
					v += in[i*k+j] * r.W[l][j*h+u]
				}
				z[i*h+u] = v
			}
		}
		yv, a := make([]float64, n*h), make([]float64, n*h)
		if r.Norm == NoNorm {
			for t, v := range z {
				yv[t], a[t] = v, dc.keep(l, t)*max(v, 0)
			}
			dc.c, dc.yv, dc.a = append(dc.c, z), append(dc.yv, yv), append(dc.a, a)
			dc.dz, dc.dy = append(dc.dz, make([]float64, n*h)), append(dc.dy, make([]float64, n*h))
			in, k = a, h
			continue
		}
		groups, _, _ := dc.grouping(l)
		sigma := make([]float64, groups)
		for g := range groups {
			idx := dc.group(l, g)
			var mu float64
			for _, t := range idx {
				mu += z[t]
			}
			mu /= float64(len(idx))
			var vari float64
			for _, t := range idx {
				z[t] -= mu
				vari += z[t] * z[t]
			}
			sigma[g] = math.Sqrt(vari/float64(len(idx)) + NormEps)
		}
		for t, cv := range z {
			yv[t] = r.Gamma[l][t%h]*(cv/sigma[dc.groupOf(l, t)]) + r.Beta[l][t%h]
			a[t] = dc.keep(l, t) * max(yv[t], 0)
		}
		dc.c, dc.yv, dc.a = append(dc.c, z), append(dc.yv, yv), append(dc.a, a)
		dc.sigma = append(dc.sigma, sigma)
		dc.dz, dc.dy = append(dc.dz, make([]float64, n*h)), append(dc.dy, make([]float64, n*h))
		in, k = a, h
	}
	for i := range n {
		s := dc.p[i*c : (i+1)*c]
		for ci := range c {
			s[ci] = r.B[layers-1][ci]
			for u := range k {
				s[ci] += in[i*k+u] * r.W[layers-1][u*c+ci]
			}
		}
		softmaxInPlace(s)
	}
	return dc
}

// grouping returns the number of groups hidden layer l normalises over, and
// the stride and length of each: units (over the rows) for batch norm,
// rows (over the units) for layer norm.
func (dc *diffCheck) grouping(l int) (groups, stride, length int) {
	h := dc.r.Sizes[l+1]
	if dc.r.Norm == BatchNorm {
		return h, h, dc.n
	}
	return dc.n, 1, h
}

// group returns the flat indices of group g of hidden layer l.
func (dc *diffCheck) group(l, g int) []int {
	_, stride, length := dc.grouping(l)
	start := g * dc.r.Sizes[l+1] // row g (layer norm)
	if dc.r.Norm == BatchNorm {
		start = g // unit g
	}
	idx := make([]int, length)
	for i := range idx {
		idx[i] = start + i*stride
	}
	return idx
}

// groupOf returns the group of flat index t of hidden layer l.
func (dc *diffCheck) groupOf(l, t int) int {
	h := dc.r.Sizes[l+1]
	if dc.r.Norm == BatchNorm {
		return t % h
	}
	return t / h
}

func (dc *diffCheck) keep(l, t int) float64 {
	if dc.mask == nil {
		return 1
	}
	return maskOf(dc.mask, dc.r.Sizes, dc.n, l)[t]
}

// delta returns f(p+δ) - f(p) for entry i of parameter k (in the order of
// Params), and whether the step moves a hidden unit across a ReLU kink.
func (dc *diffCheck) delta(k, i int, step float64) (df float64, kink bool) {
	r := dc.r
	layers := len(r.W)
	l, kind := paramAt(k, layers, r.Norm)
	out := r.Sizes[l+1]
	u := i % out // the unit the entry feeds
	var d []float64
	if l == layers-1 {
		d = dc.ds
	} else {
		d = dc.dz[l]
	}
	clear(d)
	switch kind {
	case 'W', 'b':
		for row := range dc.n {
			d[row*out+u] = step
			if kind == 'W' {
				d[row*out+u] *= dc.input(l, row)[i/out]
			}
		}
		if l < layers-1 {
			d = dc.through(l, d)
		}
	case 'g', 'B': // gamma or beta: yv moves directly
		d = dc.dy[l]
		clear(d)
		for row := range dc.n {
			d[row*out+u] = step
			if kind == 'g' {
				d[row*out+u] *= dc.c[l][row*out+u] / dc.sigma[l][dc.groupOf(l, row*out+u)]
			}
		}
	}
	// d is the change of the scores (last layer) or of hidden layer l's yv.
	for m := l; m < layers-1; m++ {
		h, above := r.Sizes[m+1], r.Sizes[m+2]
		for t, dv := range d {
			if dv == 0 {
				continue
			}
			yv := dc.yv[m][t]
			if (yv > 0) != (yv+dv > 0) {
				return 0, true
			}
			if yv > 0 {
				d[t] *= dc.keep(m, t)
			} else {
				d[t] = 0
			}
		}
		next := dc.ds
		if m+1 < layers-1 {
			next = dc.dz[m+1]
		}
		clear(next)
		for t, dv := range d {
			if dv == 0 {
				continue
			}
			row, v := t/h, t%h
			w, dst := r.W[m+1][v*above:(v+1)*above], next[row*above:(row+1)*above]
			for o := range above {
				dst[o] += dv * w[o]
			}
		}
		d = next
		if m+1 < layers-1 {
			d = dc.through(m+1, d)
		}
	}
	c := r.Sizes[layers]
	var rows float64
	for row := range dc.n {
		rows += dc.rowDelta(row, d[row*c:(row+1)*c])
	}
	df = rows / float64(dc.n)
	if kind == 'W' {
		w := r.W[l][i]
		df += dc.reg * step * (w + step/2)
	}
	return df, false
}

// through returns the change of hidden layer l's yv = gamma xhat + beta
// given dz, the change of its pre-activations, by the formulas of
// diffCheck; without a Norm, yv is z + b and the change is dz itself.
func (dc *diffCheck) through(l int, dz []float64) []float64 {
	if dc.r.Norm == NoNorm {
		return dz
	}
	h := dc.r.Sizes[l+1]
	dy := dc.dy[l]
	clear(dy)
	groups, _, length := dc.grouping(l)
	if cap(dc.gc) < length {
		dc.gc, dc.gd = make([]float64, length), make([]float64, length)
	}
	gc, gd := dc.gc[:length], dc.gd[:length]
	for g := range groups {
		idx := dc.group(l, g)
		var dmu float64
		moved := false
		for e, t := range idx {
			gc[e], gd[e] = dc.c[l][t], dz[t]
			dmu += dz[t]
			moved = moved || dz[t] != 0
		}
		if !moved {
			continue
		}
		dmu /= float64(length)
		var dvar float64
		for e := range gd {
			gd[e] -= dmu // Δc
			dvar += 2*gc[e]*gd[e] + gd[e]*gd[e]
		}
		dvar /= float64(length)
		s := dc.sigma[l][g]
		s2 := math.Sqrt(s*s + dvar)
		ds := dvar / (s + s2)
		for e, t := range idx {
			dy[t] = dc.r.Gamma[l][t%h] * (gd[e]/s2 - gc[e]*ds/(s*s2))
		}
	}
	return dy
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

// paramAt returns the layer of parameter k in the order of Params (W1, b1,
// with a Norm gamma1, beta1, then W2, ...) and its kind: 'W', 'b', 'g'
// (gamma) or 'B' (beta).
func paramAt(k, layers int, norm Norm) (l int, kind byte) {
	for l = range layers {
		n := 4
		if l == layers-1 || norm == NoNorm {
			n = 2
		}
		if k < n {
			return l, "WbgB"[k]
		}
		k -= n
	}
	panic("model: parameter index out of range")
}

// softmaxInPlace sets s to its softmax, the max subtracted first.
func softmaxInPlace(s []float64) {
	m := s[0]
	for _, v := range s {
		m = max(m, v)
	}
	var sum float64
	for i, v := range s {
		s[i] = math.Exp(v - m)
		sum += s[i]
	}
	for i := range s {
		s[i] /= sum
	}
}
