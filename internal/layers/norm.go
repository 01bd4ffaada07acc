package layers

import "math"

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
	mu, inv         []float64 // the last training batch's mean and 1/sqrt(var + Eps), per channel
	vari            []float64
	xhat, y, dx     []T
	train           bool
}

// NewBatchNorm returns batch normalisation of in, gamma 1 and beta 0,
// running mean 0 and variance 1, named gamma<id> and beta<id>.
func NewBatchNorm[T Float](id string, in Shape) *BatchNorm[T] {
	c := in.C
	b := &BatchNorm[T]{In: in, ID: id, RunMean: make([]T, c), RunVar: make([]T, c),
		mu: make([]float64, c), inv: make([]float64, c), vari: make([]float64, c)}
	b.Gamma = &Param[T]{Name: "gamma" + id, Shape: []int{c}, V: make([]T, c), G: make([]T, c)}
	b.Beta = &Param[T]{Name: "beta" + id, Shape: []int{c}, V: make([]T, c), G: make([]T, c)}
	for i := range c {
		b.Gamma.V[i], b.RunVar[i] = 1, 1
	}
	return b
}

// Out returns the input shape.
func (b *BatchNorm[T]) Out() Shape { return b.In }

// Params returns gamma and beta.
func (b *BatchNorm[T]) Params() []*Param[T] { return []*Param[T]{b.Gamma, b.Beta} }

// Forward normalises n examples: with the batch's statistics in training
// (summed in float64, examples in order, then positions), else with the
// running ones.
func (b *BatchNorm[T]) Forward(x []T, n int, train bool) []T {
	b.n, b.train = n, train
	c, hw := b.In.C, b.In.H*b.In.W
	b.y = grow(b.y, len(x))
	b.xhat = grow(b.xhat, len(x))
	m := float64(n * hw)
	for ch := range c {
		mu, inv := float64(b.RunMean[ch]), 1/math.Sqrt(float64(b.RunVar[ch])+Eps)
		if train {
			s := 0.0
			for e := range n {
				for _, v := range x[(e*c+ch)*hw:][:hw] {
					s += float64(v)
				}
			}
			mu = s / m
			ss := 0.0
			for e := range n {
				for _, v := range x[(e*c+ch)*hw:][:hw] {
					d := float64(v) - mu
					ss += d * d
				}
			}
			b.mu[ch], b.vari[ch] = mu, ss/m
			inv = 1 / math.Sqrt(ss/m+Eps)
			b.inv[ch] = inv
		}
		g, beta := float64(b.Gamma.V[ch]), float64(b.Beta.V[ch])
		for e := range n {
			off := (e*c + ch) * hw
			for i, v := range x[off : off+hw] {
				xh := (float64(v) - mu) * inv
				b.xhat[off+i] = T(xh)
				b.y[off+i] = T(g*xh + beta)
			}
		}
	}
	return b.y
}

// Backward returns dx of a training Forward, and sets gamma's and beta's
// gradients:
//
//	dx = gamma inv (dy - mean(dy) - xhat mean(dy xhat)),
//
// the means over the channel's N H W entries.
func (b *BatchNorm[T]) Backward(dy []T) []T {
	n, c, hw := b.n, b.In.C, b.In.H*b.In.W
	b.dx = grow(b.dx, len(dy))
	m := float64(n * hw)
	for ch := range c {
		sdy, sdyx := 0.0, 0.0
		for e := range n {
			off := (e*c + ch) * hw
			for i, d := range dy[off : off+hw] {
				sdy += float64(d)
				sdyx += float64(d) * float64(b.xhat[off+i])
			}
		}
		b.Gamma.G[ch], b.Beta.G[ch] = T(sdyx), T(sdy)
		if !b.train { // evaluation: an affine map of x
			k := float64(b.Gamma.V[ch]) / math.Sqrt(float64(b.RunVar[ch])+Eps)
			for e := range n {
				off := (e*c + ch) * hw
				for i, d := range dy[off : off+hw] {
					b.dx[off+i] = T(k * float64(d))
				}
			}
			continue
		}
		k := float64(b.Gamma.V[ch]) * b.inv[ch]
		mdy, mdyx := sdy/m, sdyx/m
		for e := range n {
			off := (e*c + ch) * hw
			for i, d := range dy[off : off+hw] {
				b.dx[off+i] = T(k * (float64(d) - mdy - float64(b.xhat[off+i])*mdyx))
			}
		}
	}
	return b.dx
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
