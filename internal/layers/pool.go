package layers

import (
	"fmt"

	"github.com/nettrain/nettrain/internal/gemm"
)

// Pool is max or average pooling over K x K windows with stride S, no
// padding (PyTorch's MaxPool2d(K, S) and AvgPool2d(K, S); a window that
// would run past the edge is left out). A global pool is a window of the
// whole plane: NewGlobalPool.
type Pool[T Float] struct {
	In     Shape
	Max    bool // max pooling; else average
	KH, KW int
	S      int
	out    Shape
	n      int
	train  bool    // the last Forward was in training: arg is set
	arg    []int32 // max: the input index of each output's maximum, within its plane
	x, dy  []T
	y, dx  []T
	par    gemm.Group
	fwd    func(w, nt int)
	bwd    func(w, nt int)
}

func (l *Pool[T]) init() *Pool[T] {
	l.fwd = func(w, nt int) { lo, hi := gemm.Share(l.n*l.In.C, w, nt); l.forward(lo, hi) }
	l.bwd = func(w, nt int) { lo, hi := gemm.Share(l.n*l.In.C, w, nt); l.backward(lo, hi) }
	return l
}

// NewPool returns a k x k pool with stride s over in.
func NewPool[T Float](in Shape, isMax bool, k, s int) (*Pool[T], error) {
	ho, wo, err := ConvOut(in.H, in.W, k, s, 0)
	if err != nil {
		return nil, fmt.Errorf("pool: %w", err)
	}
	return (&Pool[T]{In: in, Max: isMax, KH: k, KW: k, S: s, out: Shape{in.C, ho, wo}}).init(), nil
}

// NewGlobalPool returns a pool over each whole plane: C x 1 x 1.
func NewGlobalPool[T Float](in Shape, isMax bool) *Pool[T] {
	return (&Pool[T]{In: in, Max: isMax, KH: in.H, KW: in.W, S: 1, out: Shape{in.C, 1, 1}}).init()
}

// Out returns the output shape.
func (l *Pool[T]) Out() Shape { return l.out }

// Params returns none: pooling learns nothing.
func (l *Pool[T]) Params() []*Param[T] { return nil }

// Forward pools n examples. Max pooling keeps the first maximum of each
// window in row-major order, where its gradient goes.
func (l *Pool[T]) Forward(x []T, n int, train bool) []T {
	l.n, l.train = n, train
	in, out := l.In, l.out
	l.y = grow(l.y, n*out.Size())
	if l.Max {
		if cap(l.arg) < len(l.y) {
			l.arg = make([]int32, len(l.y))
		}
		l.arg = l.arg[:len(l.y)]
	}
	l.x = x
	l.par.Run(n*in.C, l.fwd)
	return l.y
}

// forward pools planes lo to hi.
func (l *Pool[T]) forward(lo, hi int) {
	in, out, x := l.In, l.out, l.x
	inv := 1 / T(l.KH*l.KW)
	for pl := lo; pl < hi; pl++ {
		src := x[pl*in.H*in.W:][:in.H*in.W]
		at := pl * out.H * out.W
		if l.Max && l.KH == 2 && l.KW == 2 && l.S == 2 && !l.train { // evaluation: no argmax, no branches
			for i := range out.H {
				r0, r1 := src[2*i*in.W:][:in.W], src[(2*i+1)*in.W:][:in.W]
				y := l.y[at:][:out.W]
				for j := range y {
					y[j] = max(max(r0[2*j], r0[2*j+1]), max(r1[2*j], r1[2*j+1]))
				}
				at += out.W
			}
			continue
		}
		if l.Max && l.KH == 2 && l.KW == 2 && l.S == 2 { // the common case, unrolled
			// Without branches (the maxima fall anywhere): the first
			// maximum of each row's pair, then of the two rows; the same
			// window entry as the row-major scan below picks.
			for i := range out.H {
				r0, r1 := src[2*i*in.W:][:in.W], src[(2*i+1)*in.W:][:in.W]
				y, arg := l.y[at:][:out.W], l.arg[at:][:out.W]
				for j := range y {
					a, b, c, d := r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1]
					top, bot := max(a, b), max(c, d)
					k0, k1 := 2*i*in.W+2*j+b2i(b > a), (2*i+1)*in.W+2*j+b2i(d > c)
					sel := -b2i(bot > top) // all ones for the bottom row
					k0 = k0&^sel | k1&sel
					y[j], arg[j] = src[k0], int32(k0) // not max(top, bot): max(-0, 0) is 0, the scan keeps the first
				}
				at += out.W
			}
			continue
		}
		for i := range out.H {
			for j := range out.W {
				r0, c0 := i*l.S, j*l.S
				if l.Max {
					best := r0*in.W + c0
					for p := range l.KH {
						for q := range l.KW {
							if k := (r0+p)*in.W + c0 + q; src[k] > src[best] {
								best = k
							}
						}
					}
					l.y[at], l.arg[at] = src[best], int32(best)
				} else {
					var s T
					for p := range l.KH {
						for _, v := range src[(r0+p)*in.W+c0:][:l.KW] {
							s += v
						}
					}
					l.y[at] = s * inv
				}
				at++
			}
		}
	}
}

// Backward routes dy to each window's maximum (max) or spreads it evenly
// (average); windows that overlap add in output order.
func (l *Pool[T]) Backward(dy []T) []T {
	in := l.In
	l.dx = grow(l.dx, l.n*in.Size())
	l.dy = dy
	l.par.Run(l.n*in.C, l.bwd)
	return l.dx
}

// backward sets the gradients of planes lo to hi.
func (l *Pool[T]) backward(lo, hi int) {
	in, out, dy := l.In, l.out, l.dy
	inv := 1 / T(l.KH*l.KW)
	for pl := lo; pl < hi; pl++ {
		dst := l.dx[pl*in.H*in.W:][:in.H*in.W]
		at := pl * out.H * out.W
		if l.Max && l.KH == 2 && l.KW == 2 && l.S == 2 {
			l.backward2(dst, dy[at:][:out.H*out.W], l.arg[at:][:out.H*out.W])
			continue
		}
		clear(dst)
		for i := range out.H {
			for j := range out.W {
				if l.Max {
					dst[l.arg[at]] += dy[at]
				} else {
					g := dy[at] * inv
					r0, c0 := i*l.S, j*l.S
					for p := range l.KH {
						row := dst[(r0+p)*in.W+c0:][:l.KW]
						for q := range row {
							row[q] += g
						}
					}
				}
				at++
			}
		}
	}
}

// backward2 sets one plane's gradient of 2x2 max pooling with stride 2:
// each window's maximum gets its output's gradient (0 + dy, as the
// general case adds it to a cleared plane: the same bits, -0 included)
// and the rest of the window 0, in one pass; the last row and column of
// an odd plane, in no window, 0.
func (l *Pool[T]) backward2(dst, dy []T, arg []int32) {
	in, out := l.In, l.out
	var zero T
	at := 0
	for i := range out.H {
		r0 := dst[2*i*in.W:][:in.W]
		r1 := dst[(2*i+1)*in.W:][:in.W]
		for j := range out.W {
			r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1] = 0, 0, 0, 0
			dst[arg[at]] = zero + dy[at]
			at++
		}
		if in.W%2 == 1 {
			r0[in.W-1], r1[in.W-1] = 0, 0
		}
	}
	if in.H%2 == 1 {
		clear(dst[(in.H-1)*in.W:])
	}
}

// b2i is 1 for true and 0 for false.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// PoolNaive is the reference forward pass (cs231n's max_pool_forward_naive,
// and its average): each output the max or mean of its window.
func PoolNaive(x []float64, n int, in Shape, isMax bool, kh, kw, s int) []float64 {
	ho, wo := 1+(in.H-kh)/s, 1+(in.W-kw)/s
	out := make([]float64, 0, n*in.C*ho*wo)
	for e := range n {
		for c := range in.C {
			for i := range ho {
				for j := range wo {
					var v float64
					if isMax {
						v = x[((e*in.C+c)*in.H+i*s)*in.W+j*s]
					}
					for p := range kh {
						for q := range kw {
							xv := x[((e*in.C+c)*in.H+i*s+p)*in.W+j*s+q]
							if isMax {
								v = max(v, xv)
							} else {
								v += xv / float64(kh*kw)
							}
						}
					}
					out = append(out, v)
				}
			}
		}
	}
	return out
}
