package layers

import (
	"math"

	"github.com/nettrain/nettrain/internal/gemm"
)

// Eps is batch normalisation's epsilon, added to the variance (cs231n's
// and PyTorch's default).
const Eps = 1e-5

// BatchNorm is spatial batch normalisation (cs231n's
// spatial_batchnorm_forward; PyTorch's BatchNorm2d): each channel
// normalised over N, H and W with the batch's mean and biased variance in
// training, with the running statistics in evaluation, then scaled by
// gamma and shifted by beta. A vector input (C x 1 x 1) is the affine
// case, per unit over the batch.
type BatchNorm[T Float] struct {
	In              Shape
	ID              string // k of gammak, betak, running_meank, running_vark
	Gamma, Beta     *Param[T]
	RunMean, RunVar []T
	n               int
	mu, vari        []float64 // the last training batch's mean and variance, per channel (Track)
	fmu, finv       []float64 // the last Forward's mean and 1/sqrt(var + Eps), per channel
	sdy, sdyx       []float64 // Backward's sums, per channel
	x, dy           []T       // the last Forward's input and Backward's dy
	y, dx           []T
	train           bool
	par             gemm.Group
	fwd, bwd        func(w, nt int)
}

// NewBatchNorm returns batch normalisation of in, gamma 1 and beta 0,
// running mean 0 and variance 1, named gamma<id> and beta<id>.
func NewBatchNorm[T Float](id string, in Shape) *BatchNorm[T] {
	c := in.C
	b := &BatchNorm[T]{In: in, ID: id, RunMean: make([]T, c), RunVar: make([]T, c),
		mu: make([]float64, c), vari: make([]float64, c), fmu: make([]float64, c), finv: make([]float64, c),
		sdy: make([]float64, c), sdyx: make([]float64, c)}
	b.Gamma = &Param[T]{Name: "gamma" + id, Shape: []int{c}, V: make([]T, c), G: make([]T, c)}
	b.Beta = &Param[T]{Name: "beta" + id, Shape: []int{c}, V: make([]T, c), G: make([]T, c)}
	for i := range c {
		b.Gamma.V[i], b.RunVar[i] = 1, 1
	}
	b.fwd = func(w, nt int) { lo, hi := gemm.Share(c, w, nt); b.forward(lo, hi) }
	b.bwd = func(w, nt int) { lo, hi := gemm.Share(c, w, nt); b.backward(lo, hi) }
	return b
}

// Out returns the input shape.
func (b *BatchNorm[T]) Out() Shape { return b.In }

// Params returns gamma and beta.
func (b *BatchNorm[T]) Params() []*Param[T] { return []*Param[T]{b.Gamma, b.Beta} }

// Forward normalises n examples: with the batch's statistics in training
// (summed in float64, examples in order, then positions), else with the
// running ones. Each thread takes a share of the channels; a channel's
// sums are one thread's, in one order, so the bits do not depend on the
// threads.
func (b *BatchNorm[T]) Forward(x []T, n int, train bool) []T {
	b.n, b.train, b.x = n, train, x
	b.y = grow(b.y, len(x))
	b.par.Run(b.In.C, b.fwd)
	return b.y
}

// xhat returns the normalised input at index i, of channel ch, in T: what
// Forward scaled and shifted. Backward makes it again rather than keep it
// (a copy of every input: 240 MB of airbench's at batch 1024).
func (b *BatchNorm[T]) xhat(i, ch int) T { return T((float64(b.x[i]) - b.fmu[ch]) * b.finv[ch]) }

// forward normalises channels lo to hi. Each pass goes through the
// examples in order and, in each, the channels' runs of H W in order: the
// memory in order (a channel at a time would read runs of 9 to 225 numbers
// a whole example apart), and each channel's sum still in the order
// examples, then positions.
func (b *BatchNorm[T]) forward(lo, hi int) {
	n, c, hw, x := b.n, b.In.C, b.In.H*b.In.W, b.x
	m := float64(n * hw)
	mu, inv := b.fmu[lo:hi], b.finv[lo:hi]
	if b.train {
		clear(mu)
		for e := range n {
			for i := range mu {
				s := mu[i]
				for _, v := range x[(e*c+lo+i)*hw:][:hw] {
					s += float64(v)
				}
				mu[i] = s
			}
		}
		for i := range mu {
			mu[i] /= m
		}
		ss := b.vari[lo:hi]
		clear(ss)
		for e := range n {
			for i, mu := range mu {
				s := ss[i]
				for _, v := range x[(e*c+lo+i)*hw:][:hw] {
					d := float64(v) - mu
					s += d * d
				}
				ss[i] = s
			}
		}
		for i := range ss {
			ss[i] /= m
			inv[i] = 1 / math.Sqrt(ss[i]+Eps)
		}
		copy(b.mu[lo:hi], mu)
	} else {
		for i := range mu {
			mu[i], inv[i] = float64(b.RunMean[lo+i]), 1/math.Sqrt(float64(b.RunVar[lo+i])+Eps)
		}
	}
	for e := range n {
		for i, mu := range mu {
			inv, g, beta := inv[i], float64(b.Gamma.V[lo+i]), float64(b.Beta.V[lo+i])
			off := (e*c + lo + i) * hw
			y := b.y[off:][:hw]
			for j, v := range x[off:][:hw] {
				y[j] = T(g*((float64(v)-mu)*inv) + beta)
			}
		}
	}
}

// Backward returns dx of a training Forward, and sets gamma's and beta's
// gradients:
//
//	dx = gamma inv (dy - mean(dy) - xhat mean(dy xhat)),
//
// the means over the channel's N H W entries.
func (b *BatchNorm[T]) Backward(dy []T) []T {
	b.dy = dy
	b.dx = grow(b.dx, len(dy))
	b.par.Run(b.In.C, b.bwd)
	return b.dx
}

// backward is Backward of channels lo to hi, examples in order as
// forward.
func (b *BatchNorm[T]) backward(lo, hi int) {
	n, c, hw, dy := b.n, b.In.C, b.In.H*b.In.W, b.dy
	m := float64(n * hw)
	sdy, sdyx := b.sdy[lo:hi], b.sdyx[lo:hi]
	clear(sdy)
	clear(sdyx)
	for e := range n {
		for i := range sdy {
			ch := lo + i
			off := (e*c + ch) * hw
			s, sx := sdy[i], sdyx[i]
			for j, d := range dy[off:][:hw] {
				s += float64(d)
				sx += float64(d) * float64(b.xhat(off+j, ch))
			}
			sdy[i], sdyx[i] = s, sx
		}
	}
	for i := range sdy {
		b.Gamma.G[lo+i], b.Beta.G[lo+i] = T(sdyx[i]), T(sdy[i])
	}
	for e := range n {
		for i := range sdy {
			ch := lo + i
			off := (e*c + ch) * hw
			dx := b.dx[off:][:hw]
			if !b.train { // evaluation: an affine map of x
				k := float64(b.Gamma.V[ch]) / math.Sqrt(float64(b.RunVar[ch])+Eps)
				for j, d := range dy[off:][:hw] {
					dx[j] = T(k * float64(d))
				}
				continue
			}
			k := float64(b.Gamma.V[ch]) * b.finv[ch]
			mdy, mdyx := sdy[i]/m, sdyx[i]/m
			for j, d := range dy[off:][:hw] {
				dx[j] = T(k * (float64(d) - mdy - float64(b.xhat(off+j, ch))*mdyx))
			}
		}
	}
}

// Track moves the running statistics the fraction m of the way to the last
// training batch's: running = (1-m) running + m batch (model.Raw.Track's
// rule; m = 0.1 is cs231n's 0.9 running + 0.1 batch).
func (b *BatchNorm[T]) Track(m float64) {
	keep := 1 - m
	for ch := range b.In.C {
		b.RunMean[ch] = T(keep*float64(b.RunMean[ch]) + m*b.mu[ch])
		b.RunVar[ch] = T(keep*float64(b.RunVar[ch]) + m*b.vari[ch])
	}
}

// BatchNormNaive is the reference training forward pass: per channel, the
// mean and biased variance over N H W, then gamma xhat + beta.
func BatchNormNaive(x []float64, n int, in Shape, gamma, beta []float64) []float64 {
	hw := in.H * in.W
	y := make([]float64, len(x))
	for c := range in.C {
		var vals []float64
		for e := range n {
			vals = append(vals, x[(e*in.C+c)*hw:][:hw]...)
		}
		mu, vr := 0.0, 0.0
		for _, v := range vals {
			mu += v
		}
		mu /= float64(len(vals))
		for _, v := range vals {
			vr += (v - mu) * (v - mu)
		}
		vr /= float64(len(vals))
		for e := range n {
			for i := range hw {
				k := (e*in.C+c)*hw + i
				y[k] = gamma[c]*(x[k]-mu)/math.Sqrt(vr+Eps) + beta[c]
			}
		}
	}
	return y
}
