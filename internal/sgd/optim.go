package sgd

import (
	"fmt"
	"math"

	"github.com/nettrain/nettrain/internal/gemm"
	"github.com/nettrain/nettrain/internal/model"
)

// optimizer updates the parameters from their gradients, as cs231n's
// optim.py: sgd, sgd_momentum, Nesterov momentum (the CS231n notes' form)
// and adam, in the precision of the weights.
type optimizer[T model.Float] struct {
	kind              Optimizer
	mu                float64
	wd                float64 // decoupled weight decay
	beta1, beta2, eps float64
	v, m              [][]T // velocity (momentum, nesterov), or second moment v and first m (adam)

	ps            paramSet[T]
	params, grads [][]T    // the parameters it updates and their gradients
	names         []string // of the parameters: W1, b1, ...

	// scale multiplies each parameter's learning rate (0: not updated at
	// all, its state kept), or is nil: 1 for every parameter.
	scale []float64

	chunks [][3]int // parameter, first and end entry of each share's piece
	muon   *muon[T] // optimizer muon's filters, or nil
	par    gemm.Group
	share  func(w, nt int)
	lr     float64
	it     int
}

// newOptimizer returns the optimizer of c for the parameters ps.
func newOptimizer[T model.Float](ps paramSet[T], c Config) *optimizer[T] {
	// Adam's constants are the paper's (and PyTorch's) defaults.
	o := &optimizer[T]{kind: c.Optimizer, mu: c.Momentum, wd: c.WeightDecay, beta1: 0.9, beta2: 0.999, eps: 1e-8}
	if o.kind == "" {
		o.kind = SGD
	}
	if o.mu == 0 {
		o.mu = 0.9
	}
	o.ps, o.names = ps, ps.names
	o.params, o.grads = ps.params, ps.grads
	if o.kind == Muon {
		o.muon = newMuon(ps, c)
	}
	for i, p := range o.params {
		if o.muon != nil && ps.rows[i] > 0 {
			continue // muon.step's
		}
		for lo := 0; lo < len(p); lo += updateChunk {
			o.chunks = append(o.chunks, [3]int{i, lo, min(lo+updateChunk, len(p))})
		}
	}
	o.share = func(w, nt int) { lo, hi := gemm.Share(len(o.chunks), w, nt); o.update(lo, hi) }
	o.v, o.m = make([][]T, len(o.params)), make([][]T, len(o.params))
	for i, p := range o.params {
		switch o.kind {
		case Momentum, Nesterov, Muon:
			o.v[i] = make([]T, len(p))
		case Adam:
			o.v[i], o.m[i] = make([]T, len(p)), make([]T, len(p))
		}
	}
	return o
}

// step updates the parameters from their gradients at iteration it
// (1-based; adam's bias correction uses it).
func (o *optimizer[T]) step(lr float64, it int) {
	if o.wd > 0 {
		// Decoupled from the gradient (Loshchilov and Hutter's AdamW and
		// SGDW): W *= 1 - lr*wd before the update, on the weights only, as
		// the L2 penalty leaves the biases alone.
		keep := T(1 - lr*o.wd)
		for _, w := range o.ps.weights {
			for j := range w {
				w[j] *= keep
			}
		}
	}
	if o.kind == SGD && o.scale == nil {
		o.ps.sgdStep(lr)
		return
	}
	o.lr, o.it = lr, it
	o.par.Run(len(o.chunks), o.share)
	if o.muon != nil {
		o.muon.step(o, lr)
	}
}

// updateChunk is the entries of a parameter one share updates: each entry
// is updated on its own, so the split never changes a bit.
const updateChunk = 1 << 15

// update updates chunks lo to hi.
func (o *optimizer[T]) update(lo, hi int) {
	lr, it := o.lr, o.it
	mu, lrT := T(o.mu), T(lr)
	b1, b2 := T(o.beta1), T(o.beta2)
	c1 := 1 - math.Pow(o.beta1, float64(it))
	c2 := 1 - math.Pow(o.beta2, float64(it))
	// lr * mt / (sqrt(vt) + eps) with mt = m/c1, vt = v/c2.
	a, e := T(lr/c1), T(o.eps)
	s2 := T(1 / c2)
	for _, ch := range o.chunks[lo:hi] {
		i := ch[0]
		p, dp := o.params[i][ch[1]:ch[2]], o.grads[i][ch[1]:ch[2]]
		lrT, a := lrT, a
		if o.scale != nil {
			if o.scale[i] == 0 {
				continue
			}
			lrT, a = T(lr*o.scale[i]), T(lr*o.scale[i]/c1)
		}
		switch o.kind {
		case SGD:
			axpy(-lrT, dp, p)
		case Momentum:
			v := o.v[i][ch[1]:ch[2]]
			for j := range p {
				v[j] = mu*v[j] - lrT*dp[j]
				p[j] += v[j]
			}
		case Nesterov, Muon: // Muon's filters are not among the chunks
			v := o.v[i][ch[1]:ch[2]]
			for j := range p {
				prev := v[j]
				v[j] = mu*v[j] - lrT*dp[j]
				p[j] += -mu*prev + (1+mu)*v[j]
			}
		case Adam:
			m, v := o.m[i][ch[1]:ch[2]], o.v[i][ch[1]:ch[2]]
			for j := range p {
				m[j] = b1*m[j] + (1-b1)*dp[j]
				v[j] = b2*v[j] + (1-b2)*dp[j]*dp[j]
				p[j] -= a * m[j] / (T(math.Sqrt(float64(v[j]*s2))) + e)
			}
		}
	}
}

// save returns the optimizer's state as float64 slices by "slot.param".
func (o *optimizer[T]) save() map[string][]float64 {
	out := map[string][]float64{}
	for i, name := range o.names {
		for _, slot := range []struct {
			name string
			v    []T
		}{{"v", o.v[i]}, {"m", o.m[i]}} {
			if slot.v == nil {
				continue
			}
			f := make([]float64, len(slot.v))
			for j, x := range slot.v {
				f[j] = float64(x)
			}
			out[slot.name+"."+name] = f
		}
	}
	return out
}

// load restores what save returned.
func (o *optimizer[T]) load(slots map[string][]float64) error {
	for i, name := range o.names {
		for _, slot := range []struct {
			name string
			v    []T
		}{{"v", o.v[i]}, {"m", o.m[i]}} {
			if slot.v == nil {
				continue
			}
			f, ok := slots[slot.name+"."+name]
			if !ok || len(f) != len(slot.v) {
				return fmt.Errorf("the checkpoint has no %s state %s.%s of %d numbers; resume with the optimizer it was trained with", o.kind, slot.name, name, len(slot.v))
			}
			for j, x := range f {
				slot.v[j] = T(x)
			}
		}
	}
	return nil
}
