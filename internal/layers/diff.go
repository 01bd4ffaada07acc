package layers

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"

	"github.com/nettrain/nettrain/internal/gemm"
)

// Differ computes numerical gradients of a float64 net's loss by centred
// differences carried through the net as differences, never as the
// difference of two losses near 2.3: the layer whose parameter entry
// changes gives the change of its output exactly (d times an input, or d),
// every layer after it maps a change of its input to the change of its
// output by a formula in which nothing large cancels (diffLayer), and the
// loss's change is log1p(sum_j p_j expm1(ds_j)) - sum_j t_j ds_j per row
// (t the targets). So a difference keeps its digits however small the
// gradient: on real images some are 1e-6 of the loss, where the difference
// of two losses would lose 10 of float64's 16 digits. It holds the training
// forward pass of one batch; the net's parameters must not change while it
// is in use.
type Differ struct {
	net     *Net[float64]
	x       []float64
	y       []uint8
	reg     float64
	m       int
	ins     [][]float64 // the input of each layer in the forward pass
	probs   []float64   // softmax of the scores
	scratch []Layer[float64]
	owner   []int        // the layer of each parameter
	buf     [3][]float64 // the seed's, then two for the layers after it in turn
}

// NewDiffer runs a training forward pass of x, y through net (a dropout
// layer's mask must be Frozen, so that it stays) and returns its Differ.
func NewDiffer(net *Net[float64], x []float64, y []uint8, reg float64) *Differ {
	m := len(y)
	d := &Differ{net: net, x: x, y: y, reg: reg, m: m, scratch: make([]Layer[float64], len(net.Layers))}
	h := x
	for k, l := range net.Layers {
		d.ins = append(d.ins, h)
		h = l.Forward(h, m, true)
		for range l.Params() {
			d.owner = append(d.owner, k)
		}
	}
	d.probs = make([]float64, len(h))
	softmax(d.probs, h, net.Classes())
	return d
}

// NumGrad returns the numerical gradient with respect to entry i of
// parameter p (an index into the net's Params), with step h, and whether a
// step crossed a kink (ReLU's zero, a change of a max pool's choice), where
// no difference can match the gradient.
func (d *Differ) NumGrad(p, i int, h float64) (g float64, kink bool) {
	plus, k1 := d.change(p, i, h)
	minus, k2 := d.change(p, i, -h)
	return (plus - minus) / (2 * h), k1 || k2
}

// change returns loss(w + dw) - loss(w) for entry i of parameter p.
func (d *Differ) change(p, i int, dw float64) (float64, bool) {
	k := d.owner[p]
	par := d.net.Params()[p]
	delta := d.seed(k, par, i, dw)
	kink := false
	for j := k + 1; j < len(d.net.Layers); j++ {
		var kj bool
		delta, kj = d.diffLayer(j, delta)
		kink = kink || kj
	}
	// The loss: the mean over rows of log1p(sum p expm1(ds)) - sum t ds.
	c := d.net.Classes()
	e := d.net.Smoothing
	total := 0.0
	for r := range d.m {
		ds, pr := delta[r*c:(r+1)*c], d.probs[r*c:(r+1)*c]
		s, t := 0.0, 0.0
		for j, v := range ds {
			s += pr[j] * math.Expm1(v)
			target := e / float64(c)
			if j == int(d.y[r]) {
				target += 1 - e
			}
			t += target * v
		}
		total += math.Log1p(s) - t
	}
	change := total / float64(d.m)
	if par.Decay {
		w := par.V[i]
		change += 0.5 * d.reg * dw * (2*w + dw) // 0.5 reg ((w+dw)^2 - w^2)
	}
	return change, kink
}

// seed returns the change of layer k's output when entry i of its
// parameter par changes by dw: exact, as the output is linear in it.
func (d *Differ) seed(k int, par *Param[float64], i int, dw float64) []float64 {
	l, in := d.net.Layers[k], d.ins[k]
	out := l.Out()
	delta := d.grow(0, d.m*out.Size())
	clear(delta)
	switch l := l.(type) {
	case *Conv[float64]:
		hw := out.H * out.W
		if par == l.B {
			for r := range d.m {
				for q := range hw {
					delta[(r*l.F+i)*hw+q] = dw
				}
			}
			break
		}
		ckk := l.In.C * l.K * l.K
		f, rest := i/ckk, i%ckk
		c, p, q := rest/(l.K*l.K), rest/l.K%l.K, rest%l.K
		for r := range d.m {
			plane := in[(r*l.In.C+c)*l.In.H*l.In.W:][:l.In.H*l.In.W]
			for a := range out.H {
				yy := a*l.S + p - l.P
				if yy < 0 || yy >= l.In.H {
					continue
				}
				for b := range out.W {
					if xx := b*l.S + q - l.P; xx >= 0 && xx < l.In.W {
						delta[(r*l.F+f)*hw+a*out.W+b] = dw * plane[yy*l.In.W+xx]
					}
				}
			}
		}
	case *Affine[float64]:
		if par == l.B {
			for r := range d.m {
				delta[r*l.M+i] = dw
			}
			break
		}
		dIn, u := i/l.M, i%l.M
		for r := range d.m {
			delta[r*l.M+u] = dw * in[r*l.In.Size()+dIn]
		}
	case *BatchNorm[float64]:
		hw := l.In.H * l.In.W
		for r := range d.m {
			off := (r*l.In.C + i) * hw
			for q := range hw {
				if par == l.Beta {
					delta[off+q] = dw
				} else {
					delta[off+q] = dw * l.xhat(off+q, i)
				}
			}
		}
	default:
		panic(fmt.Sprintf("layers: NumGrad: layer %d has no parameters", k))
	}
	return delta
}

// diffLayer maps the change delta of layer j's input to the change of its
// output, f(x + delta) - f(x), x its input in the forward pass.
func (d *Differ) diffLayer(j int, delta []float64) ([]float64, bool) {
	l, x := d.net.Layers[j], d.ins[j]
	out := d.grow(j%2+1, d.m*l.Out().Size())
	switch l := l.(type) {
	case *Conv[float64]: // linear: the convolution of delta, without the bias
		s, ok := d.scratch[j].(*Conv[float64])
		if !ok {
			s, _ = NewConv[float64]("", l.In, l.F, l.K, l.S, l.P, false)
			copy(s.W.V, l.W.V)
			d.scratch[j] = s
		}
		copy(out, s.Forward(delta, d.m, true))
	case *Affine[float64]: // linear: delta W
		gemm.Gemm(blas.NoTrans, blas.NoTrans, d.m, l.M, l.In.Size(), 1, delta, l.In.Size(), l.W.V, l.M, 0, out, l.M)
	case *Pool[float64]:
		if !l.Max {
			s, ok := d.scratch[j].(*Pool[float64])
			if !ok {
				s = (&Pool[float64]{In: l.In, KH: l.KH, KW: l.KW, S: l.S, out: l.out}).init()
				d.scratch[j] = s
			}
			copy(out, s.Forward(delta, d.m, true))
			break
		}
		return out, maxPoolDiff(l, x, delta, out, d.m)
	case *Act[float64]:
		kink := false
		for t, v := range x {
			dv := delta[t]
			switch {
			case l.GELU:
				out[t] = geluDiff(v, dv)
			case v > 0 && v+dv > 0:
				out[t] = dv
			case v <= 0 && v+dv <= 0:
				out[t] = 0
			default:
				kink = true
				out[t] = max(v+dv, 0) - max(v, 0)
			}
		}
		return out, kink
	case *BatchNorm[float64]:
		batchNormDiff(l, delta, out, d.m)
	case *Dropout[float64]:
		if l.P == 0 {
			copy(out, delta)
			break
		}
		for t, v := range delta {
			out[t] = v * l.mask[t]
		}
	case *Scale[float64]:
		for t, v := range delta {
			out[t] = l.K * v
		}
	case *Flatten[float64]:
		copy(out, delta)
	}
	return out, false
}

// maxPoolDiff sets out to the change of each window's maximum; a window
// whose maximum moves to another entry is a kink.
func maxPoolDiff(l *Pool[float64], x, delta, out []float64, m int) bool {
	in, o := l.In, l.out
	kink := false
	at := 0
	for pl := range m * in.C {
		src, dsrc := x[pl*in.H*in.W:][:in.H*in.W], delta[pl*in.H*in.W:][:in.H*in.W]
		for i := range o.H {
			for j := range o.W {
				best, moved := -1, -1
				for p := range l.KH {
					for q := range l.KW {
						k := (i*l.S+p)*in.W + j*l.S + q
						if best < 0 || src[k] > src[best] {
							best = k
						}
						if moved < 0 || src[k]+dsrc[k] > src[moved]+dsrc[moved] {
							moved = k
						}
					}
				}
				if moved != best {
					kink = true
					out[at] = (src[moved] + dsrc[moved]) - src[best]
				} else {
					out[at] = dsrc[best]
				}
				at++
			}
		}
	}
	return kink
}

// geluDiff is gelu(x + d) - gelu(x) = d Phi(x + d) + x (Phi(x + d) - Phi(x)),
// the difference of Phi the integral of the normal density over [x, x+d]
// by 5-point Gauss-Legendre: no cancellation for small d.
func geluDiff(x, d float64) float64 {
	if math.Abs(d) > 1e-2 {
		return gelu(x+d) - gelu(x)
	}
	nodes := [5]float64{0, -0.5384693101056831, 0.5384693101056831, -0.9061798459386640, 0.9061798459386640}
	weights := [5]float64{0.5688888888888889, 0.4786286704993665, 0.4786286704993665, 0.2369268850561891, 0.2369268850561891}
	dphi := 0.0
	for k, t := range nodes {
		u := x + d*(1+t)/2
		dphi += weights[k] * math.Exp(-u*u/2)
	}
	dphi *= d / 2 / math.Sqrt(2*math.Pi)
	return d*0.5*(1+math.Erf((x+d)/math.Sqrt2)) + x*dphi
}

// batchNormDiff sets out to the change of a training batch norm's output,
// per channel over N, H, W, from the change delta of its input:
//
//	Δc = Δz - mean(Δz),  Δvar = mean(2 c Δc + Δc²),
//	Δσ = Δvar / (σ + σ'),  σ' = sqrt(var + eps + Δvar),
//	Δy = gamma (Δc / σ' - c Δσ / (σ σ')).
func batchNormDiff(l *BatchNorm[float64], delta, out []float64, m int) {
	c, hw := l.In.C, l.In.H*l.In.W
	cnt := float64(m * hw)
	for ch := range c {
		sigma := 1 / l.finv[ch]
		var sum neumaier // compensated: a constant change (a bias before the norm) must cancel to 0
		for r := range m {
			for _, v := range delta[(r*c+ch)*hw:][:hw] {
				sum.add(v)
			}
		}
		mean := sum.value() / cnt
		dvar := 0.0
		for r := range m {
			off := (r*c + ch) * hw
			for q := range hw {
				cv := l.xhat(off+q, ch) * sigma
				dc := delta[off+q] - mean
				dvar += 2*cv*dc + dc*dc
			}
		}
		dvar /= cnt
		sigma2 := math.Sqrt(sigma*sigma + dvar)
		dsigma := dvar / (sigma + sigma2)
		g := l.Gamma.V[ch]
		for r := range m {
			off := (r*c + ch) * hw
			for q := range hw {
				cv := l.xhat(off+q, ch) * sigma
				dc := delta[off+q] - mean
				out[off+q] = g * (dc/sigma2 - cv*dsigma/(sigma*sigma2))
			}
		}
	}
}

// grow returns buffer b (0 for seeds, 1 and 2 alternately for layers) of
// length n.
func (d *Differ) grow(b, n int) []float64 {
	d.buf[b] = grow(d.buf[b], n)
	return d.buf[b]
}

// neumaier is a compensated sum (Neumaier's variant of Kahan's): the
// rounding of each addition is kept and added back at the end.
type neumaier struct{ s, c float64 }

func (n *neumaier) add(v float64) {
	t := n.s + v
	if math.Abs(n.s) >= math.Abs(v) {
		n.c += (n.s - t) + v
	} else {
		n.c += (v - t) + n.s
	}
	n.s = t
}

func (n *neumaier) value() float64 { return n.s + n.c }
