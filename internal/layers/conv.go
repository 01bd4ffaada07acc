package layers

import (
	"fmt"

	"gonum.org/v1/gonum/blas"

	"github.com/nettrain/nettrain/internal/gemm"
)

// Conv is a 2-D convolution of In to F channels with K x K kernels,
// stride S and zero padding P on each side, and a bias unless NoBias:
//
//	out[n, f, i, j] = b[f] + sum_{c, p, q} W[f, c, p, q] xpad[n, c, i S + p, j S + q]
//
// with W (F, C, K, K) as cs231n and PyTorch hold it. The fast path builds
// the patches of the whole batch as a (C K K, N Ho Wo) matrix (im2col) and
// multiplies W by it on the GEMM; the backward pass is two more products
// (W's gradient, the patches' gradient) and col2im.
type Conv[T Float] struct {
	In   Shape
	F, K int
	S, P int
	W, B *Param[T] // B is nil without a bias
	// NoInputGrad: Backward computes the parameters' gradients only and
	// returns nil (the net's first layer: nothing needs the images').
	NoInputGrad bool
	out         Shape
	n           int
	cols        []T // (C K K, N Ho Wo): the patches of the last Forward
	tmp         []T // (F, N Ho Wo): the product, then the output gradient in that layout
	y, dx       []T
	dcols       []T
	x           []T
	par         gemm.Group
	im, col     func(w, nt int) // im2col's and col2im's shares of the rows and channels
}

// NewConv returns a convolution of in to f channels, k x k, stride s,
// padding p, named W<id> and b<id>, with zero weights.
func NewConv[T Float](id string, in Shape, f, k, s, p int, bias bool) (*Conv[T], error) {
	ho, wo, err := ConvOut(in.H, in.W, k, s, p)
	if err != nil {
		return nil, err
	}
	if f < 1 {
		return nil, fmt.Errorf("a convolution needs at least 1 output channel, not %d", f)
	}
	ckk := in.C * k * k
	c := &Conv[T]{In: in, F: f, K: k, S: s, P: p, out: Shape{f, ho, wo}}
	c.im = func(w, nt int) {
		lo, hi := gemm.Share(in.C*k*k, w, nt)
		im2col(c.cols, c.x, c.n, c.In, c.K, c.S, c.P, c.out, lo, hi)
	}
	c.col = func(w, nt int) {
		lo, hi := gemm.Share(in.C, w, nt)
		col2im(c.dx, c.dcols, c.n, c.In, c.K, c.S, c.P, c.out, lo, hi)
	}
	c.W = &Param[T]{Name: "W" + id, Shape: []int{f, in.C, k, k}, V: make([]T, f*ckk), G: make([]T, f*ckk), Decay: true}
	if bias {
		c.B = &Param[T]{Name: "b" + id, Shape: []int{f}, V: make([]T, f), G: make([]T, f)}
	}
	return c, nil
}

// ConvOut returns the output size of a k x k convolution (or pooling
// window) with stride s and padding p over h x w, or an error naming what
// does not fit.
func ConvOut(h, w, k, s, p int) (int, int, error) {
	switch {
	case k < 1 || s < 1 || p < 0:
		return 0, 0, fmt.Errorf("kernel %d, stride %d, padding %d: want kernel and stride >= 1, padding >= 0", k, s, p)
	case h+2*p < k || w+2*p < k:
		return 0, 0, fmt.Errorf("a %dx%d kernel does not fit %dx%d inputs padded by %d", k, k, h, w, p)
	}
	return 1 + (h+2*p-k)/s, 1 + (w+2*p-k)/s, nil
}

// Out returns the output shape.
func (c *Conv[T]) Out() Shape { return c.out }

// Params returns W and, with a bias, b.
func (c *Conv[T]) Params() []*Param[T] {
	if c.B == nil {
		return []*Param[T]{c.W}
	}
	return []*Param[T]{c.W, c.B}
}

// Forward computes the convolution of n examples.
func (c *Conv[T]) Forward(x []T, n int, _ bool) []T {
	ckk, hw := c.In.C*c.K*c.K, c.out.H*c.out.W
	np := n * hw
	c.n = n
	c.cols = grow(c.cols, ckk*np)
	c.tmp = grow(c.tmp, c.F*np)
	c.y = grow(c.y, n*c.out.Size())
	c.x = x
	c.par.Run(ckk, c.im)
	gemm.Gemm(blas.NoTrans, blas.NoTrans, c.F, np, ckk, 1, c.W.V, ckk, c.cols, np, 0, c.tmp, np)
	for i := range n {
		for f := range c.F {
			var b T
			if c.B != nil {
				b = c.B.V[f]
			}
			src := c.tmp[f*np+i*hw : f*np+(i+1)*hw]
			dst := c.y[(i*c.F+f)*hw : (i*c.F+f+1)*hw]
			for p, v := range src {
				dst[p] = v + b
			}
		}
	}
	return c.y
}

// Backward sets W's and b's gradients from dy and returns dx.
func (c *Conv[T]) Backward(dy []T) []T {
	n := c.n
	ckk, hw := c.In.C*c.K*c.K, c.out.H*c.out.W
	np := n * hw
	for i := range n { // dy to the product's (F, N Ho Wo) layout
		for f := range c.F {
			copy(c.tmp[f*np+i*hw:f*np+(i+1)*hw], dy[(i*c.F+f)*hw:(i*c.F+f+1)*hw])
		}
	}
	if c.B != nil {
		for f := range c.F {
			var s T
			for _, v := range c.tmp[f*np : (f+1)*np] { // examples in order, then positions
				s += v
			}
			c.B.G[f] = s
		}
	}
	gemm.Gemm(blas.NoTrans, blas.Trans, c.F, ckk, np, 1, c.tmp, np, c.cols, np, 0, c.W.G, ckk)
	if c.NoInputGrad {
		return nil
	}
	c.dcols = grow(c.dcols, ckk*np)
	gemm.Gemm(blas.Trans, blas.NoTrans, ckk, np, c.F, 1, c.W.V, ckk, c.tmp, np, 0, c.dcols, np)
	c.dx = grow(c.dx, n*c.In.Size())
	c.par.Run(c.In.C, c.col)
	return c.dx
}

// im2col writes the patches of n examples x (in) into cols, (C K K, N Ho
// Wo): row (c, p, q), column (n, i, j) holds xpad[n, c, i s + p, j s + q].
// It writes rows lo to hi.
func im2col[T Float](cols, x []T, n int, in Shape, k, s, pad int, out Shape, lo, hi int) {
	np := n * out.H * out.W
	for r := lo; r < hi; r++ {
		c, p, q := r/(k*k), r/k%k, r%k
		// Output columns j0 <= j < j1 read inside the row; the rest pad.
		j0 := min(out.W, max(0, (pad-q+s-1)/s))
		j1 := max(j0, min(out.W, floorDiv(in.W-1+pad-q, s)+1))
		row := cols[r*np:][:np]
		at := 0
		for e := range n {
			plane := x[(e*in.C+c)*in.H*in.W:][:in.H*in.W]
			for i := range out.H {
				dst := row[at : at+out.W]
				at += out.W
				y := i*s + p - pad
				if y < 0 || y >= in.H {
					clear(dst)
					continue
				}
				src := plane[y*in.W:][:in.W]
				clear(dst[:j0])
				clear(dst[j1:])
				if s == 1 && j1 > j0 {
					copy(dst[j0:j1], src[j0+q-pad:])
					continue
				}
				for j := j0; j < j1; j++ {
					dst[j] = src[j*s+q-pad]
				}
			}
		}
	}
}

// floorDiv is a/b rounded down, b > 0.
func floorDiv(a, b int) int {
	if a < 0 {
		return -((-a + b - 1) / b)
	}
	return a / b
}

// col2im sets the gradients of channels lo to hi of dx, (N, C, H, W), from
// the patches' gradients dcols: each input's gradient is the sum, in the
// order of the rows (c, p, q), of the patch entries it appeared in.
func col2im[T Float](dx, dcols []T, n int, in Shape, k, s, pad int, out Shape, lo, hi int) {
	np := n * out.H * out.W
	for e := range n {
		clear(dx[(e*in.C+lo)*in.H*in.W : (e*in.C+hi)*in.H*in.W])
	}
	for c := lo; c < hi; c++ {
		for p := range k {
			for q := range k {
				row := dcols[((c*k+p)*k+q)*np:][:np]
				at := 0
				for e := range n {
					plane := dx[(e*in.C+c)*in.H*in.W:][:in.H*in.W]
					for i := range out.H {
						r := i*s + p - pad
						if r < 0 || r >= in.H {
							at += out.W
							continue
						}
						dst := plane[r*in.W:][:in.W]
						for j := range out.W {
							if col := j*s + q - pad; col >= 0 && col < in.W {
								dst[col] += row[at]
							}
							at++
						}
					}
				}
			}
		}
	}
}

// ConvNaive is the reference: cs231n's conv_forward_naive, the
// definition's loops in float64.
func ConvNaive(x []float64, n int, in Shape, w, b []float64, f, k, s, pad int) []float64 {
	ho, wo, err := ConvOut(in.H, in.W, k, s, pad)
	if err != nil {
		panic(err)
	}
	out := make([]float64, n*f*ho*wo)
	for e := range n {
		for o := range f {
			for i := range ho {
				for j := range wo {
					v := 0.0
					if b != nil {
						v = b[o]
					}
					for c := range in.C {
						for p := range k {
							for q := range k {
								r, col := i*s+p-pad, j*s+q-pad
								if r >= 0 && r < in.H && col >= 0 && col < in.W {
									v += w[((o*in.C+c)*k+p)*k+q] * x[((e*in.C+c)*in.H+r)*in.W+col]
								}
							}
						}
					}
					out[((e*f+o)*ho+i)*wo+j] = v
				}
			}
		}
	}
	return out
}

// ConvBackwardNaive is the reference backward pass (cs231n's
// conv_backward_naive): the gradients of x, w and b from dout.
func ConvBackwardNaive(dout, x []float64, n int, in Shape, w []float64, f, k, s, pad int) (dx, dw, db []float64) {
	ho, wo, _ := ConvOut(in.H, in.W, k, s, pad)
	dx, dw, db = make([]float64, len(x)), make([]float64, len(w)), make([]float64, f)
	for e := range n {
		for o := range f {
			for i := range ho {
				for j := range wo {
					d := dout[((e*f+o)*ho+i)*wo+j]
					db[o] += d
					for c := range in.C {
						for p := range k {
							for q := range k {
								r, col := i*s+p-pad, j*s+q-pad
								if r >= 0 && r < in.H && col >= 0 && col < in.W {
									xi := ((e*in.C+c)*in.H+r)*in.W + col
									wi := ((o*in.C+c)*k+p)*k + q
									dw[wi] += d * x[xi]
									dx[xi] += d * w[wi]
								}
							}
						}
					}
				}
			}
		}
	}
	return dx, dw, db
}
