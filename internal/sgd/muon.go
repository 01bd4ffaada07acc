package sgd

import (
	"math"

	"gonum.org/v1/gonum/blas"

	"github.com/nettrain/nettrain/internal/gemm"
	"github.com/nettrain/nettrain/internal/model"
)

// The quintic Newton-Schulz iteration of Muon (Jordan et al. 2024; as
// airbench94_muon): x <- a x + (b A + c A A) x with A = x x^T, three
// times, from x = G/(|G| + eps). Its coefficients maximise the slope at
// 0 rather than converge: it maps each singular value of G/|G| into
// about [0.5, 1.5] and keeps the singular vectors, which trains as well
// as U V^T.
const (
	nsA, nsB, nsC = 3.4445, -4.7750, 2.0315
	nsSteps       = 3
	nsEps         = 1e-7
)

// muon is optimizer muon's part for the conv filters (paramSet.rows): for
// each, with g its gradient and v its momentum,
//
//	v = mu v + g;  u = g + mu v             (Nesterov)
//	W *= sqrt(F) / |W|                     (renormalised: batch norm after it makes the scale moot)
//	W -= lr NS(u as F x CKK)              (orthogonalised: newtonSchulz)
//
// as airbench94_muon's Muon. The filters take neither the L2 penalty nor
// weight decay (TrainConv leaves them undecayed): the renormalisation
// undoes any shrinking.
type muon[T model.Float] struct {
	ratio, mu float64 // MuonLR/LR: the filters' rate in each iteration is ratio times the scheduled lr
	idx       []int   // the parameters it steps
	rows      []int
	// Scratch for the largest: the update, the iterate and the next one,
	// A and B (at most min(F, CKK)^2 each).
	u, x, xn, a, b []T
}

func newMuon[T model.Float](ps paramSet[T], c Config) *muon[T] {
	m := &muon[T]{ratio: c.MuonLR / c.LR, mu: c.MuonMomentum}
	size, square := 0, 0
	for i, r := range ps.rows {
		if r == 0 {
			continue
		}
		n := len(ps.params[i])
		m.idx, m.rows = append(m.idx, i), append(m.rows, r)
		k := min(r, n/r)
		size, square = max(size, n), max(square, k*k)
	}
	m.u, m.x, m.xn = make([]T, size), make([]T, size), make([]T, size)
	m.a, m.b = make([]T, square), make([]T, square)
	return m
}

// step updates the filters at the scheduled rate lr (o.scale applies, as
// to the other parameters: 0 leaves a filter and its momentum alone).
func (m *muon[T]) step(o *optimizer[T], lr float64) {
	mu := T(m.mu)
	for k, i := range m.idx {
		rate := lr * m.ratio
		if o.scale != nil {
			if o.scale[i] == 0 {
				continue
			}
			rate *= o.scale[i]
		}
		p, g, v := o.params[i], o.grads[i], o.v[i]
		u := m.u[:len(p)]
		for j, gj := range g {
			v[j] = mu*v[j] + gj
			u[j] = gj + mu*v[j]
		}
		m.newtonSchulz(u, m.rows[k], len(p)/m.rows[k])
		s := T(1)
		if n := norm(p); n > 0 {
			s = T(math.Sqrt(float64(m.rows[k])) / n)
		}
		r := T(rate)
		for j := range p {
			p[j] = p[j]*s - r*u[j]
		}
	}
}

// norm is the Frobenius norm of x, summed in float64 in order.
func norm[T model.Float](x []T) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// newtonSchulz overwrites g, an (r, c) matrix, with the Newton-Schulz
// iteration's orthogonalisation of it (nsA, nsSteps). It works on the
// wide way round (x x^T is the smaller square), transposing a tall g.
func (m *muon[T]) newtonSchulz(g []T, r, c int) {
	x, xn := m.x[:r*c], m.xn[:r*c]
	tall := r > c
	if tall {
		transpose(x, g, r, c)
		r, c = c, r
	} else {
		copy(x, g)
	}
	s := T(1 / (norm(x) + nsEps))
	for j := range x {
		x[j] *= s
	}
	a, b := m.a[:r*r], m.b[:r*r]
	for range nsSteps {
		gemm.Gemm(blas.NoTrans, blas.Trans, r, r, c, 1, x, c, x, c, 0, a, r)
		gemm.Gemm(blas.NoTrans, blas.NoTrans, r, r, r, nsC, a, r, a, r, 0, b, r)
		for j, v := range a {
			b[j] += nsB * v
		}
		copy(xn, x)
		gemm.Gemm(blas.NoTrans, blas.NoTrans, r, c, r, 1, b, r, x, c, nsA, xn, c)
		x, xn = xn, x
	}
	if tall {
		transpose(g, x, r, c)
	} else {
		copy(g, x)
	}
}

// transpose writes the (r, c) matrix src into dst as (c, r).
func transpose[T model.Float](dst, src []T, r, c int) {
	for i := range r {
		for j := range c {
			dst[j*r+i] = src[i*c+j]
		}
	}
}
