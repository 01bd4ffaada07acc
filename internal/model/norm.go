package model

import (
	"fmt"
	"math"
)

// Norm is the normalisation after each hidden affine layer, before its
// ReLU, as cs231n's FullyConnectedNet puts it.
type Norm string

// Normalisations.
const (
	NoNorm    Norm = ""      // none: affine, ReLU
	BatchNorm Norm = "batch" // each unit over the batch (Ioffe and Szegedy 2015)
	LayerNorm Norm = "layer" // each row over its units (Ba, Kiros and Hinton 2016)
)

// Valid reports whether n is a normalisation ("" is none).
func (n Norm) Valid() bool { return n == NoNorm || n == BatchNorm || n == LayerNorm }

// cs231n's constants for both normalisations.
const (
	NormEps = 1e-5 // added to the variance before its square root
	// NormTrack is the weight of each batch's statistics in batch
	// normalisation's running ones: running = (1-m) running + m batch.
	// cs231n calls 1-m its momentum (0.9); PyTorch calls m its momentum.
	NormTrack = 0.1
)

// normalise sets z, hidden layer l's pre-activations in W without b (nrows,
// H), to gamma xhat + beta, where xhat is z + b normalised:
//
//	batch norm, training:   xhat = (z - mean_rows) / sqrt(var_rows + eps)
//	batch norm, evaluation: xhat = (z - RunMean) / sqrt(RunVar + eps)
//	layer norm:             xhat = (z - mean_units) / sqrt(var_units + eps)
//
// with the biased variance, as cs231n. In training it keeps xhat and the
// 1/sqrt(var+eps) in ws for normBackward, and batch norm's statistics for
// Track. Statistics are summed in float64 whatever T is.
func (r *Raw[T]) normalise(ws *Workspace[T], l int, z []T, nrows int, train bool) {
	h, b := r.Sizes[l+1], r.B[l][:r.Sizes[l+1]]
	gamma, beta := r.Gamma[l][:h], r.Beta[l][:h]
	for i := range nrows {
		row := z[i*h : (i+1)*h : (i+1)*h]
		for j, v := range b {
			row[j] += v
		}
	}
	switch {
	case r.Norm == BatchNorm && !train:
		for j := range h {
			mu, inv := float64(r.RunMean[l][j]), 1/math.Sqrt(float64(r.RunVar[l][j])+NormEps)
			for i := j; i < len(z); i += h {
				z[i] = gamma[j]*T((float64(z[i])-mu)*inv) + beta[j]
			}
		}
	case r.Norm == BatchNorm:
		mu, vari, inv, xhat := ws.mu[l], ws.vari[l], ws.inv[l], ws.xhat[l]
		clear(mu)
		clear(vari)
		for i := 0; i < len(z); i += h {
			for j, v := range z[i : i+h : i+h] {
				mu[j] += float64(v)
			}
		}
		for j := range mu {
			mu[j] /= float64(nrows)
		}
		for i := 0; i < len(z); i += h {
			for j, v := range z[i : i+h : i+h] {
				d := float64(v) - mu[j]
				vari[j] += d * d
			}
		}
		for j := range vari {
			vari[j] /= float64(nrows)
			inv[j] = 1 / math.Sqrt(vari[j]+NormEps)
		}
		for i := 0; i < len(z); i += h {
			row, xr := z[i:i+h:i+h], xhat[i:i+h:i+h]
			for j, v := range row {
				xr[j] = T((float64(v) - mu[j]) * inv[j])
				row[j] = gamma[j]*xr[j] + beta[j]
			}
		}
	case r.Norm == LayerNorm:
		inv, xhat := ws.inv[l], ws.xhat[l]
		for i := range nrows {
			row, xr := z[i*h:(i+1)*h:(i+1)*h], xhat[i*h:(i+1)*h:(i+1)*h]
			var mu, vari float64
			for _, v := range row {
				mu += float64(v)
			}
			mu /= float64(h)
			for _, v := range row {
				d := float64(v) - mu
				vari += d * d
			}
			inv[i] = 1 / math.Sqrt(vari/float64(h)+NormEps)
			for j, v := range row {
				xr[j] = T((float64(v) - mu) * inv[i])
				row[j] = gamma[j]*xr[j] + beta[j]
			}
		}
	default:
		panic(fmt.Sprintf("model: unknown normalisation %q", r.Norm))
	}
}

// normBackward turns dy, the gradient at hidden layer l's normalised output
// gamma xhat + beta (nrows, H), into the gradient at its pre-activations z
// + b, in place, and sets dgamma = sum_rows(dy xhat), dbeta = sum_rows(dy).
// With dxhat = gamma dy and the means taken over the rows (batch norm) or
// the units (layer norm), as the forward pass's statistics were,
//
//	dz = (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) / sqrt(var + eps),
//
// cs231n's batchnorm_backward_alt.
func (r *Raw[T]) normBackward(ws *Workspace[T], l int, dy []T, nrows int, dgamma, dbeta []T) {
	h := r.Sizes[l+1]
	gamma, xhat, inv := r.Gamma[l][:h], ws.xhat[l], ws.inv[l]
	if cap(ws.sums) < 2*h {
		ws.sums = make([]float64, 2*h)
	}
	acc := [2][]float64{ws.sums[:h], ws.sums[h : 2*h]} // per unit: sum(dy xhat), sum(dy)
	clear(ws.sums[:2*h])
	for i := 0; i < len(dy); i += h {
		xr := xhat[i : i+h : i+h]
		for j, d := range dy[i : i+h : i+h] {
			acc[0][j] += float64(d) * float64(xr[j])
			acc[1][j] += float64(d)
		}
	}
	for j := range h {
		dgamma[j], dbeta[j] = T(acc[0][j]), T(acc[1][j])
	}
	if r.Norm == BatchNorm {
		// Means over the rows: mean(dxhat) = gamma dbeta / N and
		// mean(dxhat xhat) = gamma dgamma / N.
		for i := 0; i < len(dy); i += h {
			row, xr := dy[i:i+h:i+h], xhat[i:i+h:i+h]
			for j, d := range row {
				g := float64(gamma[j])
				m1, m2 := g*acc[1][j]/float64(nrows), g*acc[0][j]/float64(nrows)
				row[j] = T((g*float64(d) - m1 - float64(xr[j])*m2) * inv[j])
			}
		}
		return
	}
	for i := range nrows { // layer norm: means over the units of each row
		row, xr := dy[i*h:(i+1)*h:(i+1)*h], xhat[i*h:(i+1)*h:(i+1)*h]
		var m1, m2 float64
		for j, d := range row {
			dx := float64(gamma[j]) * float64(d)
			m1 += dx
			m2 += dx * float64(xr[j])
		}
		m1, m2 = m1/float64(h), m2/float64(h)
		for j, d := range row {
			row[j] = T((float64(gamma[j])*float64(d) - m1 - float64(xr[j])*m2) * inv[i])
		}
	}
}

// Track moves batch normalisation's running statistics toward the batch
// statistics of the last Loss computed with ws, as cs231n does in each
// training forward pass: running = (1-m) running + m batch, m in (0, 1]
// (NormTrack, 0.1, is cs231n's; 1-0.1 is 0.9 exactly in float64, so its
// bits are those of cs231n's 0.9 running + 0.1 batch). It does nothing for
// other nets. Loss itself leaves them alone, so that it is a function of
// the parameters (gradient checks call it many times).
func (r *Raw[T]) Track(ws *Workspace[T], m float64) {
	if r.Norm != BatchNorm {
		return
	}
	keep := 1 - m
	for l := range r.RunMean {
		for j, v := range ws.mu[l] {
			r.RunMean[l][j] = T(keep*float64(r.RunMean[l][j]) + m*v)
		}
		for j, v := range ws.vari[l] {
			r.RunVar[l][j] = T(keep*float64(r.RunVar[l][j]) + m*v)
		}
	}
}

// FoldNorm returns a net without normalisation that computes in evaluation
// what n does: batch normalisation with running statistics is an affine
// map of each unit, so it folds into the layer before it,
//
//	W' = W diag(s),  b' = (b - RunMean) s + beta,  s = gamma / sqrt(RunVar + eps).
//
// Layer normalisation depends on each row's own statistics and cannot be
// folded: FoldNorm returns n itself for it, as for a net without any.
func (n *Net) FoldNorm() *Net {
	if n.Norm != BatchNorm {
		return n
	}
	out := Zeros(n.Sizes()...)
	for l, layer := range n.Layers {
		dst := out.Layers[l]
		dst.W.Copy(layer.W)
		copy(dst.B, layer.B)
		if layer.Gamma == nil {
			continue // the last layer
		}
		w := dst.W.RawMatrix()
		for j := range dst.B {
			s := layer.Gamma[j] / math.Sqrt(layer.RunVar[j]+NormEps)
			for i := range w.Rows {
				w.Data[i*w.Stride+j] *= s
			}
			dst.B[j] = (layer.B[j]-layer.RunMean[j])*s + layer.Beta[j]
		}
	}
	return out
}
