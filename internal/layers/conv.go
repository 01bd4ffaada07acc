package layers

import (
	"fmt"

	"gonum.org/v1/gonum/blas"

	"github.com/nettrain/nettrain/internal/gemm"
	"github.com/nettrain/nettrain/internal/vmath"
)

// Conv is a 2-D convolution of In to F channels with K x K kernels,
// stride S and zero padding P on each side, and a bias unless NoBias:
//
//	out[n, f, i, j] = b[f] + sum_{c, p, q} W[f, c, p, q] xpad[n, c, i S + p, j S + q]
//
// with W (F, C, K, K) as cs231n and PyTorch hold it. The fast path builds
// the patches of a block of examples as a (B Ho Wo, K K C) matrix, a row
// per output position (im2row, from each image copied channels last, so
// that a window's line is one run of K C numbers), and multiplies it by
// Wr^T on the GEMM into a (B Ho Wo, F) product, Wr being W with its
// columns in the patches' order (p, q, c); the backward pass is two more
// products per block (W's gradient, from the block's patches made again,
// and the patches' gradient) and row2im. A block's patches and its product (or
// output gradient) in the product's layout live in its thread's buffers,
// in its cache; no pass keeps the batch's. This orientation keeps the
// long dimension N Ho Wo as the products' rows: the GEMM ran the first
// layer of cs231n-convnet 2 to 5 times faster so than with the patches as
// columns (measured on a 2-core AMD EPYC, BenchmarkWeightGradShapes).
type Conv[T Float] struct {
	In   Shape
	F, K int
	S, P int
	W, B *Param[T] // B is nil without a bias
	// NoInputGrad: Backward computes the parameters' gradients only and
	// returns nil (the net's first layer with a parameter to train:
	// nothing before it needs a gradient; Net.Refreeze sets it).
	NoInputGrad bool
	// BF16: the three products take their inputs rounded to bfloat16 and
	// sum in float32 (gemm.GemmBF16); float32 nets only.
	BF16    bool
	wt, w   gemm.PackedBF16 // with BF16: Wr^T (Forward's) and Wr (the input gradient's), packed once a pass
	wr      []T             // W with its columns in the patches' order, (F, K, K, C), made by Forward
	out     Shape
	n       int
	blk     int // examples a block holds (blockExamples)
	gblk    int // examples a block of W's gradient holds (gradExamples)
	rows    []T // (gblk Ho Wo, K K C) per thread: a block's patches
	prod    []T // (gblk Ho Wo, F) per thread: a block's product, or its output gradient in that layout
	dwp     []T // (blocks, K K C, F): each block's part of W's gradient, transposed
	dwt     []T // (K K C, F): W's gradient transposed, in the patches' order
	y, dx   []T
	drows   []T
	padded  []T // paddedSize per thread: an image channels last with its padding, for im2row and row2im
	x, dy   []T
	par     gemm.Group
	im, col func(w, nt int) // Forward's and row2im's shares of the examples
	wg, sum func(w, nt int) // the blocks' parts of W's gradient, and their sum
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
		lo, hi := gemm.Share(c.n, w, nt)
		c.forward(w, lo, hi)
	}
	c.col = func(w, nt int) {
		lo, hi := gemm.Share(c.n, w, nt)
		c.inputGrad(w, lo, hi)
	}
	c.wg = func(w, nt int) {
		lo, hi := gemm.Share(c.blocks(), w, nt)
		c.weightGrad(w, lo, hi)
	}
	c.sum = func(w, nt int) {
		lo, hi := gemm.Share(len(c.dwt), w, nt)
		c.sumParts(lo, hi)
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

// blockBytes bounds the patches of a block of examples: a thread writes
// a block's patches and multiplies them while they are still in its
// core's L2 cache, instead of the batch's patches going out to memory and
// back (at batch 250, cs231n-convnet's first layer has 150 MB of them).
const blockBytes = 512 << 10

// minBlockRows is the fewest patches (rows of the product) a block has,
// whatever blockBytes says: a product of fewer rows spends more time
// packing W than multiplying (airbench's 256x7x7 layer, 49 rows an
// example, ran its forward at 69 GFLOPS in blocks of one example and 105
// in blocks of 11; 2-core AMD EPYC).
const minBlockRows = 512

// blockExamples is how many examples a block takes: the patches of
// hw positions of ckk numbers of size bytes each.
func blockExamples(hw, ckk, size int) int {
	return max(1, blockBytes/(hw*ckk*size), (minBlockRows+hw-1)/hw)
}

// gradRows is the fewest patches a block of W's gradient has: each block
// adds a C K K x F part to sum (airbench's 256x7x7 layer at batch 1024:
// 94 parts of 590,000 numbers in blocks of 11 examples, 25 in blocks of
// 42), and a longer inner dimension suits the GEMM.
const gradRows = 2048

// gradExamples is how many examples a block of W's gradient takes.
func gradExamples(hw, ckk, size int) int {
	return max(blockExamples(hw, ckk, size), (gradRows+hw-1)/hw)
}

// Forward computes the convolution of n examples: each thread takes a
// share of them, a block at a time (blockExamples): im2row, the product
// on that thread alone, and the output in (N, F, Ho, Wo) with the bias. A
// product's rows are the same bits however they are split. A thread
// reuses one block's patches; Backward makes them again from x.
func (c *Conv[T]) Forward(x []T, n int, _ bool) []T {
	ckk, hw := c.In.C*c.K*c.K, c.out.H*c.out.W
	c.n, c.x = n, x
	c.blk = blockExamples(hw, ckk, sizeOf[T]())
	c.gblk = gradExamples(hw, ckk, sizeOf[T]())
	c.rows = c.perThread(c.rows, c.gblk, ckk)
	c.prod = c.perThread(c.prod, c.gblk, c.F)
	c.padded = grow(c.padded, min(gemm.Threads(), n)*paddedSize(c.In, c.P))
	c.y = grow(c.y, n*c.out.Size())
	c.wr = grow(c.wr, c.F*ckk)
	c.patchOrder(c.wr, c.W.V)
	if w, ok := any(c.wr).([]float32); ok && c.BF16 {
		c.wt.Pack(blas.Trans, c.F, ckk, w, ckk) // once for all the blocks
	}
	c.par.Run(n, c.im)
	return c.y
}

// perThread returns buf grown to a block for each thread of a pass over
// the last Forward's examples (gemm.Group.Run's shares): the examples'
// positions, width numbers each (C K K for patches, F for a product).
func (c *Conv[T]) perThread(buf []T, examples, width int) []T {
	return grow(buf, min(gemm.Threads(), c.n)*examples*c.out.H*c.out.W*width)
}

// block returns thread w's block of a perThread buffer.
func (c *Conv[T]) block(buf []T, w, examples, width int) []T {
	size := examples * c.out.H * c.out.W * width
	return buf[w*size:][:size]
}

// scratch returns thread w's padded image (c.padded).
func (c *Conv[T]) scratch(w int) []T {
	size := paddedSize(c.In, c.P)
	return c.padded[w*size:][:size]
}

// forward is share w of Forward: examples lo to hi.
func (c *Conv[T]) forward(w, lo, hi int) {
	ckk, hw := c.In.C*c.K*c.K, c.out.H*c.out.W
	rows, prod := c.block(c.rows, w, c.gblk, ckk), c.block(c.prod, w, c.gblk, c.F)
	for e0 := lo; e0 < hi; e0 += c.blk {
		e1 := min(e0+c.blk, hi)
		rows := rows[:(e1-e0)*hw*ckk]
		im2row(rows, c.x[e0*c.In.Size():], c.In, c.K, c.S, c.P, c.out, 0, e1-e0, c.scratch(w))
		c.productW(&c.wt, blas.Trans, (e1-e0)*hw, c.F, ckk, rows, ckk, prod, c.F)
		c.fromProduct(prod, e0, e1)
	}
}

// product sets C = op(A) op(B) on the calling thread, in bfloat16 with
// BF16 (a float32 net's; a float64 one ignores it).
func (c *Conv[T]) product(tA, tB blas.Transpose, m, n, k int, a []T, lda int, b []T, ldb int, cc []T, ldc int) {
	if c.BF16 {
		if a32, ok := any(a).([]float32); ok {
			gemm.GemmBF16(1, tA, tB, m, n, k, a32, lda, any(b).([]float32), ldb, 0, any(cc).([]float32), ldc)
			return
		}
	}
	gemm.GemmThreads(1, tA, tB, m, n, k, 1, a, lda, b, ldb, 0, cc, ldc)
}

// productW sets C = A op(W) (op(W) k x n) on the calling thread, with BF16
// from W packed in pw.
func (c *Conv[T]) productW(pw *gemm.PackedBF16, tW blas.Transpose, m, n, k int, a []T, lda int, cc []T, ldc int) {
	if a32, ok := any(a).([]float32); ok && c.BF16 {
		gemm.GemmBF16Packed(1, blas.NoTrans, m, a32, lda, pw, 0, any(cc).([]float32), ldc)
		return
	}
	gemm.GemmThreads(1, blas.NoTrans, tW, m, n, k, 1, a, lda, c.wr, c.In.C*c.K*c.K, 0, cc, ldc)
}

// fromProduct writes the product of examples lo to hi, prod in the
// layout (N Ho Wo, F), into the output, (N, F, Ho, Wo), adding the bias.
func (c *Conv[T]) fromProduct(prod []T, lo, hi int) {
	hw := c.out.H * c.out.W
	for i := lo; i < hi; i++ {
		y := c.y[i*c.F*hw:][:c.F*hw]
		vmath.Transpose(y, hw, prod[(i-lo)*hw*c.F:], c.F, hw, c.F)
		if c.B == nil {
			continue
		}
		for f, b := range c.B.V {
			row := y[f*hw:][:hw]
			for p := range row {
				row[p] += b
			}
		}
	}
}

// toProduct writes examples lo to hi of dy, (N, F, Ho, Wo), into prod in
// the product's layout, (N Ho Wo, F).
func (c *Conv[T]) toProduct(prod []T, lo, hi int) {
	hw := c.out.H * c.out.W
	for i := lo; i < hi; i++ {
		vmath.Transpose(prod[(i-lo)*hw*c.F:], c.F, c.dy[i*c.F*hw:], hw, c.F, hw)
	}
}

// Backward sets W's and b's gradients from dy and returns dx.
func (c *Conv[T]) Backward(dy []T) []T {
	n := c.n
	ckk, hw := c.In.C*c.K*c.K, c.out.H*c.out.W
	c.dy = dy
	if c.B != nil {
		for f := range c.F {
			var s T
			for i := range n { // examples in order, then positions
				for _, v := range dy[(i*c.F+f)*hw:][:hw] {
					s += v
				}
			}
			c.B.G[f] = s
		}
	}
	// W's gradient: each block's patches made again and multiplied by its
	// output gradient (transposed to the product's layout, in the
	// thread's cache), on whichever thread, then the blocks' parts summed
	// in order; the blocks are the same for any number of threads, so the
	// sum is the same bits.
	// A frozen W (a whitening layer's) needs none: it is left as it was.
	if !c.W.Frozen {
		c.dwp = grow(c.dwp, c.blocks()*ckk*c.F)
		c.dwt = grow(c.dwt, ckk*c.F)
		c.par.Run(c.blocks(), c.wg)
		c.par.Run(len(c.dwt)/minShare+1, c.sum)
		c.fromPatchOrder(c.W.G, c.dwt)
	}
	if c.NoInputGrad {
		return nil
	}
	c.drows = c.perThread(c.drows, c.blk, ckk)
	c.dx = grow(c.dx, n*c.In.Size())
	if w, ok := any(c.wr).([]float32); ok && c.BF16 {
		c.w.Pack(blas.NoTrans, ckk, c.F, w, ckk)
	}
	c.par.Run(n, c.col)
	return c.dx
}

// patchOrder sets wr, (F, K, K, C), from w, (F, C, K, K): W with its
// columns in the patches' order.
func (c *Conv[T]) patchOrder(wr, w []T) {
	kk, ckk := c.K*c.K, c.In.C*c.K*c.K
	for f := range c.F {
		d, s := wr[f*ckk:][:ckk], w[f*ckk:][:ckk]
		for pq := range kk {
			for ch := range c.In.C {
				d[pq*c.In.C+ch] = s[ch*kk+pq]
			}
		}
	}
}

// fromPatchOrder sets dw, (F, C, K, K), from dwt, (K K C, F): W's
// gradient as the product gives it.
func (c *Conv[T]) fromPatchOrder(dw, dwt []T) {
	kk, ckk := c.K*c.K, c.In.C*c.K*c.K
	for pq := range kk {
		for ch := range c.In.C {
			for f, v := range dwt[(pq*c.In.C+ch)*c.F:][:c.F] {
				dw[f*ckk+ch*kk+pq] = v
			}
		}
	}
}

// blocks is the number of blocks of W's gradient of the last Forward's
// examples.
func (c *Conv[T]) blocks() int { return (c.n + c.gblk - 1) / c.gblk }

// weightGrad is share w of W's gradient: blocks lo to hi, each one's
// patches made again on this thread and multiplied by its output
// gradient into its part of dwp.
func (c *Conv[T]) weightGrad(w, lo, hi int) {
	ckk, hw := c.In.C*c.K*c.K, c.out.H*c.out.W
	rows, prod := c.block(c.rows, w, c.gblk, ckk), c.block(c.prod, w, c.gblk, c.F)
	for b := lo; b < hi; b++ {
		e0 := b * c.gblk
		e1 := min(e0+c.gblk, c.n)
		c.toProduct(prod, e0, e1)
		im2row(rows, c.x[e0*c.In.Size():], c.In, c.K, c.S, c.P, c.out, 0, e1-e0, c.scratch(w))
		c.product(blas.Trans, blas.NoTrans, ckk, c.F, (e1-e0)*hw, rows, ckk, prod, c.F, c.dwp[b*ckk*c.F:], c.F)
	}
}

// sumParts sums entries lo to hi of the blocks' parts of W's gradient into
// dwt, the blocks in order.
func (c *Conv[T]) sumParts(lo, hi int) {
	dst := c.dwt[lo:hi]
	copy(dst, c.dwp[lo:hi])
	for b := 1; b < c.blocks(); b++ {
		for i, v := range c.dwp[b*len(c.dwt)+lo:][:hi-lo] {
			dst[i] += v
		}
	}
}

// inputGrad is share w of the input's gradient, examples lo to hi, a
// block at a time as Forward: the patches' gradients (dy in the product's
// layout times W) on this thread alone, then row2im while they are in its
// cache.
func (c *Conv[T]) inputGrad(w, lo, hi int) {
	ckk, hw := c.In.C*c.K*c.K, c.out.H*c.out.W
	drows, prod := c.block(c.drows, w, c.blk, ckk), c.block(c.prod, w, c.gblk, c.F)
	for e0 := lo; e0 < hi; e0 += c.blk {
		e1 := min(e0+c.blk, hi)
		c.toProduct(prod, e0, e1)
		c.productW(&c.w, blas.NoTrans, (e1-e0)*hw, ckk, c.F, prod, c.F, drows, ckk)
		row2im(c.dx[e0*c.In.Size():], drows, c.In, c.K, c.S, c.P, c.out, 0, e1-e0, c.scratch(w))
	}
}

// im2row writes the patches of examples lo to hi of x (in) into rows,
// (N Ho Wo, K K C): row (n, i, j), column (p, q, c) holds
// xpad[n, c, i s + p, j s + q]. Each image is first copied, channels
// last, into the inside of scratch (paddedSize: (H+2pad, W+2pad, C), its
// edges cleared here and left zero), so that a window's line p is one
// run of K C numbers and every window lies inside what it reads.
func im2row[T Float](rows, x []T, in Shape, k, s, pad int, out Shape, lo, hi int, scratch []T) {
	ckk, hw, run := in.C*k*k, out.H*out.W, k*in.C
	line := (in.W + 2*pad) * in.C
	scratch = scratch[:paddedSize(in, pad)]
	if pad > 0 {
		clear(scratch)
	}
	for e := lo; e < hi; e++ {
		toPadded(scratch, x[e*in.Size():][:in.Size()], in, pad)
		for i := range out.H {
			for j := range out.W {
				row := rows[(e*hw+i*out.W+j)*ckk:][:ckk]
				at := i*s*line + j*s*in.C
				for p := range k {
					copy(row[p*run:][:run], scratch[at+p*line:][:run])
				}
			}
		}
	}
}

// paddedSize is the length of the scratch im2row and row2im need for an
// image of in with pad zeros on each side, channels last, and with
// padding, the image channels last without it.
func paddedSize(in Shape, pad int) int {
	if pad == 0 {
		return in.Size()
	}
	return in.C*(in.H+2*pad)*(in.W+2*pad) + in.Size()
}

// toPadded copies img, (C, H, W), into the inside of padded, (H+2pad,
// W+2pad, C), leaving its edges as they are; with padding, through the
// end of padded (paddedSize), where the image is transposed whole.
func toPadded[T Float](padded, img []T, in Shape, pad int) {
	if pad == 0 {
		vmath.Transpose(padded, in.C, img, in.H*in.W, in.C, in.H*in.W)
		return
	}
	line, hwc := (in.W+2*pad)*in.C, in.W*in.C
	tmp := padded[len(padded)-in.Size():]
	vmath.Transpose(tmp, in.C, img, in.H*in.W, in.C, in.H*in.W)
	for y := range in.H {
		copy(padded[(y+pad)*line+pad*in.C:][:hwc], tmp[y*hwc:][:hwc])
	}
}

// fromPadded copies the inside of padded, (H+2pad, W+2pad, C), into img,
// (C, H, W), as toPadded's inverse.
func fromPadded[T Float](img, padded []T, in Shape, pad int) {
	if pad == 0 {
		vmath.Transpose(img, in.H*in.W, padded, in.C, in.H*in.W, in.C)
		return
	}
	line, hwc := (in.W+2*pad)*in.C, in.W*in.C
	tmp := padded[len(padded)-in.Size():]
	for y := range in.H {
		copy(tmp[y*hwc:][:hwc], padded[(y+pad)*line+pad*in.C:][:hwc])
	}
	vmath.Transpose(img, in.H*in.W, tmp, in.C, in.H*in.W, in.C)
}

// row2im sets the gradients of examples lo to hi of dx, (N, C, H, W), from
// the patches' gradients drows: each input's gradient is the sum, in the
// order of the positions (i, j), of the patch entries it appeared in,
// starting from zero. The sums are made channels last in scratch
// (paddedSize), a window's line at a time as im2row copies it; the
// inside of scratch is then dx's example (what falls on the padding is
// dropped).
func row2im[T Float](dx, drows []T, in Shape, k, s, pad int, out Shape, lo, hi int, scratch []T) {
	ckk, hw, run := in.C*k*k, out.H*out.W, k*in.C
	line := (in.W + 2*pad) * in.C
	scratch = scratch[:paddedSize(in, pad)]
	sums := scratch[:line*(in.H+2*pad)] // the rest is fromPadded's
	for e := lo; e < hi; e++ {
		clear(sums)
		for i := range out.H {
			for j := range out.W {
				row := drows[(e*hw+i*out.W+j)*ckk:][:ckk]
				at := i*s*line + j*s*in.C
				for p := range k {
					vmath.Add(sums[at+p*line:][:run], row[p*run:][:run])
				}
			}
		}
		fromPadded(dx[e*in.Size():][:in.Size()], scratch, in, pad)
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
