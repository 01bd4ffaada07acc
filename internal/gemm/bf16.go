package gemm

import (
	"math"
	"sync"
	"unsafe"

	"gonum.org/v1/gonum/blas"
)

// # Products in bfloat16
//
// GemmBF16 multiplies float32 matrices with their entries rounded to
// bfloat16 (float32's sign and exponent, 8 bits of significand) and the
// sums kept in float32, as AVX512_BF16's VDPBF16PS does: twice the
// multiply-adds of a float32 FMA per instruction. The result is defined
// to the bit, whatever the kernel or the blocking:
//
//	a[i,p] = BF16(A[i,p]), b[p,j] = BF16(B[p,j])   (0 at p = k when k is odd)
//	c = beta*C[i,j]                                (beta 0 or 1)
//	for q = 0, 1, ..., ceil(k/2)-1:
//	    c = dot(c, a[i,2q+1], b[2q+1,j])           (the odd one first)
//	    c = dot(c, a[i,2q], b[2q,j])
//	C[i,j] = c
//
// where dot(c, x, y) is c + x*y with the product exact and the sum rounded
// once to float32 (to nearest, ties to even), a subnormal c, x or y read as
// a zero of its sign, and a result below float32's smallest normal in
// magnitude flushed to a zero of its sign (VDPBF16PS's DAZ and FTZ). That
// is the instruction's arithmetic as Intel's manual gives it; on AMD Zen 4
// it matched bit for bit on millions of random operands, subnormal and
// underflowing ones included (TestDotMatchesInstruction).

// BF16 rounds x to bfloat16 as VCVTNEPS2BF16 does, to nearest with ties
// to even, a subnormal to a zero of its sign, a NaN to a quiet NaN, and
// returns its 16 bits.
func BF16(x float32) uint16 {
	u := math.Float32bits(x)
	switch {
	case u&0x7f800000 == 0:
		return uint16(u>>16) & 0x8000
	case u&0x7fffffff > 0x7f800000:
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// bf16Float returns the float32 of bfloat16 bits h, a subnormal as a zero
// of its sign.
func bf16Float(h uint16) float32 {
	if h&0x7f80 == 0 {
		h &= 0x8000
	}
	return math.Float32frombits(uint32(h) << 16)
}

const minNormal32 = 0x1p-126

// dot returns c + x*y for bfloat16 x and y as VDPBF16PS computes it (see
// GemmBF16). The product of two bfloat16s is exact in float64, and so is
// rounding their sum with c to float64 then to float32 (53 >= 2*24+2).
func dot(c float32, x, y uint16) float32 {
	if math.Abs(float64(c)) < minNormal32 {
		c = float32(math.Copysign(0, float64(c)))
	}
	s := float64(c) + float64(bf16Float(x))*float64(bf16Float(y))
	switch a := math.Abs(s); {
	case a < minNormal32*(1-0x1p-25): // rounds to a subnormal: flushed
		return float32(math.Copysign(0, s))
	case a < minNormal32: // rounds up to the smallest normal
		return float32(math.Copysign(minNormal32, s))
	}
	return float32(s)
}

// pair packs bfloat16s of entries p (low half) and p+1 (high half).
func pair(lo, hi float32) uint32 { return uint32(BF16(lo)) | uint32(BF16(hi))<<16 }

// kernelB is a micro-kernel set for GemmBF16: as kernel, with A and B
// holding pairs (pair) of consecutive steps, k counting pairs.
type kernelB struct {
	name       string
	mr, nr     int
	rows, cols func(k int, a *uint32, lda int, b *uint32, ldb int, c *float32, ldc int, cn *float32, load bool)
	// Or, on a CPU without AVX512_BF16, float32 kernels that run with
	// MXCSR's FTZ and DAZ set, on the bfloat16s' values a step at a time
	// (expand): an FMA of two bfloat16s is dot to the bit.
	rowsF, colsF func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, cn *float32, load bool)
}

// The bfloat16 kernels this CPU runs, best first (simdKernelsB, then the
// plain-Go one).
var kernelsB = append(simdKernelsB(), kernelB{name: "go", mr: goMR, nr: goNR,
	rows: func(k int, a *uint32, lda int, b *uint32, ldb int, c *float32, ldc int, _ *float32, load bool) {
		goBodyB(k, a, lda, 1, b, ldb, c, ldc, load)
	},
	cols: func(k int, a *uint32, lda int, b *uint32, ldb int, c *float32, ldc int, _ *float32, load bool) {
		goBodyB(k, a, 1, lda, b, ldb, c, ldc, load)
	}})

// KernelsBF16 lists the kernels GemmBF16 runs on this CPU, best first.
func KernelsBF16() []string {
	names := make([]string, len(kernelsB))
	for i, k := range kernelsB {
		names[i] = k.name
	}
	return names
}

// kernelBFor returns the kernel GemmBF16 uses: the best, unless Use
// chose a float32 kernel other than the best one ("avx2", "go": so that
// $NETTRAIN_GEMM=go runs everything in Go), then GemmBF16's kernel of that
// name. The backends have no bfloat16 product.
func kernelBFor() *kernelB {
	if sel := current.Load(); sel.backend == nil && sel.kernel != 0 {
		for i := range kernelsB {
			if kernelsB[i].name == kernels32[sel.kernel].name {
				return &kernelsB[i]
			}
		}
	}
	return &kernelsB[0]
}

// goBodyB is the plain-Go tile of GemmBF16: pair q of row i at a[i*rs+q*cs].
func goBodyB(k int, a *uint32, rs, cs int, b *uint32, ldb int, c *float32, ldc int, load bool) {
	var acc [goMR][goNR]float32
	if load {
		for i := range goMR {
			acc[i] = *(*[goNR]float32)(unsafe.Pointer(at(c, i*ldc)))
		}
	}
	for q := range k {
		bq := (*[goNR]uint32)(unsafe.Add(unsafe.Pointer(b), uintptr(q*ldb)*4))
		for i := range goMR {
			ai := *(*uint32)(unsafe.Add(unsafe.Pointer(a), uintptr(i*rs+q*cs)*4))
			for j := range goNR {
				s := dot(acc[i][j], uint16(ai>>16), uint16(bq[j]>>16))
				acc[i][j] = dot(s, uint16(ai), uint16(bq[j]))
			}
		}
	}
	for i := range goMR {
		*(*[goNR]float32)(unsafe.Pointer(at(c, i*ldc))) = acc[i]
	}
}

// Block sizes of GemmBF16, in pairs of steps (kcB) and rows (mcB) and
// columns (ncB): a kcB x nr panel of B (16 KiB) stays in L1, an mcB x kcB
// block of A (120 KiB) and a kcB x ncB block of B (256 KiB) in L2.
const (
	kcB = 128
	mcB = 240
	ncB = 512
)

// GemmBF16 computes C = op(A) op(B) + beta C, beta 0 or 1, with A and B
// rounded to bfloat16 and the sums in float32 (see the arithmetic above),
// on at most nt threads. It panics if a slice is too short for its shape
// or beta is neither 0 nor 1.
func GemmBF16(nt int, tA, tB blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if beta != 0 && beta != 1 {
		panic("gemm: GemmBF16's beta must be 0 or 1")
	}
	gemmBF16(kernelBFor(), nt, tA == blas.Trans, tB == blas.Trans, m, n, k, a, lda, b, ldb, nil, beta == 1, c, ldc)
}

// PackedBF16 is op(B) of GemmBF16 rounded and packed once, for products
// that share it (a convolution's filters, in each block of examples).
type PackedBF16 struct {
	kr      *kernelB
	n, k    int
	blocks  [][]uint32  // block (jc, pc) of packB at [jc*pcs+pc]
	blocksF [][]float32 // the same expanded, for float32 kernels with FTZ
	zero    []float32
	tmp     []uint32
}

// Pack packs op(B) (k x n) for GemmBF16Packed, reusing p's memory. It
// panics if b is too short for its shape.
func (p *PackedBF16) Pack(tB blas.Transpose, n, k int, b []float32, ldb int) {
	checkArgs(blas.NoTrans, tB, 0, n, k, 0, max(1, k), len(b), ldb, 0, max(1, n))
	p.pack(kernelBFor(), tB == blas.Trans, n, k, b, ldb)
}

func (p *PackedBF16) pack(kr *kernelB, tB bool, n, k int, b []float32, ldb int) {
	p.kr, p.n, p.k = kr, n, k
	nr := p.kr.nr
	kp := (k + 1) / 2
	if p.zero == nil {
		p.zero, p.tmp = make([]float32, ncB), make([]uint32, kcB)
	}
	i := 0
	for j0 := 0; j0 < n; j0 += ncB {
		nb := min(ncB, n-j0)
		nJr := (nb + nr - 1) / nr
		for q0 := 0; q0 < kp; q0 += kcB {
			qb := min(kcB, kp-q0)
			if i == len(p.blocks) {
				p.blocks, p.blocksF = append(p.blocks, nil), append(p.blocksF, nil)
			}
			p.blocks[i] = grow(p.blocks[i], nJr*qb*nr)
			packB(p.blocks[i], b, ldb, tB, k, q0, qb, j0, nb, nr, p.zero, p.tmp)
			if p.kr.rowsF != nil {
				p.blocksF[i] = grow(p.blocksF[i], 2*len(p.blocks[i]))
				expand(p.blocksF[i], p.blocks[i], nr)
			}
			i++
		}
	}
}

// GemmBF16Packed is GemmBF16 with op(B) packed by Pack: C = op(A) B +
// beta C, op(A) m x b's k. It panics if a slice is too short for its shape
// or beta is neither 0 nor 1.
func GemmBF16Packed(nt int, tA blas.Transpose, m int, a []float32, lda int, b *PackedBF16, beta float32, c []float32, ldc int) {
	checkArgs(tA, blas.NoTrans, m, b.n, b.k, len(a), lda, b.k*b.n, max(1, b.n), len(c), ldc) // B is b's to check
	if beta != 0 && beta != 1 {
		panic("gemm: GemmBF16Packed's beta must be 0 or 1")
	}
	gemmBF16(b.kr, nt, tA == blas.Trans, false, m, b.n, b.k, a, lda, nil, 0, b, beta == 1, c, ldc)
}

func gemmBF16(kr *kernelB, nt int, tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, pb *PackedBF16, load bool, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !load {
			scale(0, c, m, n, ldc)
		}
		return
	}
	// Several threads take bands of rows of C, each packing B for itself:
	// an element's chain is the same in any band.
	nt = min(nt, (m+mcB-1)/mcB)
	if nt <= 1 || m*n*k < minParallel {
		bf16Band(kr, tA, tB, 0, m, n, k, a, lda, b, ldb, pb, load, c, ldc)
		return
	}
	var wg sync.WaitGroup
	for w := range nt {
		lo, hi := Share(m, w, nt)
		wg.Add(1)
		go func() {
			defer wg.Done()
			bf16Band(kr, tA, tB, lo, hi, n, k, a, lda, b, ldb, pb, load, c, ldc)
		}()
	}
	wg.Wait()
}

// bf16Scratch is one band's packed blocks of A and B and an edge tile.
type bf16Scratch struct {
	ap, bp, tmp []uint32
	apf, bpf    []float32 // ap and bp expanded, for the float32 kernels
	ctile, zero []float32
}

var bf16Scratches = sync.Pool{New: func() any { return new(bf16Scratch) }}

// bf16Band computes rows m0 to m1 of C, B packed here or already (pb).
func bf16Band(kr *kernelB, tA, tB bool, m0, m1, n, k int, a []float32, lda int, b []float32, ldb int, pb *PackedBF16, load bool, c []float32, ldc int) {
	mr, nr := kr.mr, kr.nr
	sc := bf16Scratches.Get().(*bf16Scratch)
	defer bf16Scratches.Put(sc)
	sc.ap = grow(sc.ap, (mcB+mr)*kcB)
	sc.bp = grow(sc.bp, (ncB+nr)*kcB)
	sc.tmp = grow(sc.tmp, max(mcB, kcB))
	if kr.rowsF != nil {
		sc.apf = grow(sc.apf, 2*len(sc.ap))
		sc.bpf = grow(sc.bpf, 2*len(sc.bp))
	}
	sc.ctile = grow(sc.ctile, mr*nr)
	if len(sc.zero) < max(mcB, ncB) {
		sc.zero = make([]float32, max(mcB, ncB))
	}
	kp := (k + 1) / 2
	block := 0 // of pb
	for j0 := 0; j0 < n; j0 += ncB {
		nb := min(ncB, n-j0)
		nJr := (nb + nr - 1) / nr
		for q0 := 0; q0 < kp; q0 += kcB {
			qb := min(kcB, kp-q0)
			bp, bpf := sc.bp, sc.bpf
			if pb != nil {
				bp, bpf = pb.blocks[block], pb.blocksF[block]
				block++
			} else {
				packB(bp, b, ldb, tB, k, q0, qb, j0, nb, nr, sc.zero, sc.tmp)
				if kr.rowsF != nil {
					expand(bpf, bp[:nJr*qb*nr], nr)
				}
			}
			ld := load || q0 > 0
			for i0 := m0; i0 < m1; i0 += mcB {
				ib := min(mcB, m1-i0)
				nIr := (ib + mr - 1) / mr
				// A's tile ir at ap[ir*mr*qb] either way: rows of qb pairs
				// (lda qb), or a panel of qb steps of mr (lda mr).
				fn, fnF, alda, width := kr.cols, kr.colsF, mr, mr
				if tA {
					packACols(sc.ap, a, lda, k, q0, qb, i0, ib, mr, sc.zero, sc.tmp)
				} else {
					packARows(sc.ap, a, lda, k, q0, qb, i0, ib, mr)
					fn, fnF, alda, width = kr.rows, kr.rowsF, qb, 1
				}
				if fnF != nil {
					expand(sc.apf, sc.ap[:nIr*mr*qb], width)
					if !tA {
						alda = 2 * qb
					}
				}
				tile := func(ir, jr int, c *float32, ldc int, ld bool) {
					if fnF != nil {
						fnF(2*qb, &sc.apf[2*ir*mr*qb], alda, &bpf[2*jr*qb*nr], nr, c, ldc, c, ld)
						return
					}
					fn(qb, &sc.ap[ir*mr*qb], alda, &bp[jr*qb*nr], nr, c, ldc, c, ld)
				}
				for jr := range nJr {
					j := j0 + jr*nr
					w := min(nr, n-j)
					for ir := range nIr {
						i := i0 + ir*mr
						h := min(mr, m1-i)
						if h == mr && w == nr {
							tile(ir, jr, &c[i*ldc+j], ldc, ld)
							continue
						}
						t := sc.ctile[:mr*nr]
						clear(t)
						if ld {
							for r := range h {
								copy(t[r*nr:r*nr+w], c[(i+r)*ldc+j:])
							}
						}
						tile(ir, jr, &t[0], nr, true)
						for r := range h {
							copy(c[(i+r)*ldc+j:(i+r)*ldc+j+w], t[r*nr:])
						}
					}
				}
			}
		}
	}
}

// expand writes packed pairs as the float32 kernels' steps: src holds
// groups of width pairs, one group a pair step; dst gets each group twice
// as wide, the high halves (the odd step, first in GemmBF16's order) then
// the low ones, as the float32s they stand for.
func expand(dst []float32, src []uint32, width int) {
	for g := 0; g < len(src); g += width {
		hi, lo := dst[2*g:][:width], dst[2*g+width:][:width]
		for x, v := range src[g : g+width] {
			hi[x] = math.Float32frombits(v &^ 0xffff)
			lo[x] = math.Float32frombits(v << 16)
		}
	}
}

// grow returns s with length n, reallocated only if its capacity is short.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// packB packs pairs q0 to q0+qb of columns j0 to j0+nb of op(B) into
// panels nr wide: panel jr at bp[jr*qb*nr], pair q of column j at
// [q*nr+j], the last panel's missing columns zero. tmp holds 2 kcB.
func packB(bp []uint32, b []float32, ldb int, tB bool, k, q0, qb, j0, nb, nr int, zero []float32, tmp []uint32) {
	nJr := (nb + nr - 1) / nr
	for jr := range nJr {
		pan := bp[jr*qb*nr:][:qb*nr]
		w := min(nr, nb-jr*nr)
		if tB { // column j of op(B) is row j of B: its pairs in order
			for jj := range w {
				convertPairs(tmp[:qb], b[(j0+jr*nr+jj)*ldb+2*q0:], k-2*q0)
				for q, v := range tmp[:qb] {
					pan[q*nr+jj] = v
				}
			}
			for q := range qb {
				clear(pan[q*nr+w : (q+1)*nr])
			}
			continue
		}
		for q := range qb {
			p := 2 * (q0 + q)
			row := pan[q*nr:][:nr]
			lo, hi := b[p*ldb+j0+jr*nr:][:w], zero[:w]
			if p+1 < k {
				hi = b[(p+1)*ldb+j0+jr*nr:][:w]
			}
			pairRow(row[:w], lo, hi)
			clear(row[w:])
		}
	}
}

// convertPairs sets dst to the pairs of x[0:2 len(dst)], x's entries past
// k (at most one) zero.
func convertPairs(dst []uint32, x []float32, k int) {
	n := min(2*len(dst), k)
	convertRow(unsafe.Slice((*uint16)(unsafe.Pointer(&dst[0])), 2*len(dst))[:n], x[:n])
	if n < 2*len(dst) {
		dst[len(dst)-1] &= 0xffff
	}
}

// packARows packs pairs q0 to q0+qb of rows i0 to i0+ib of A (not
// transposed) row by row: row i at ap[i*qb], rows past ib zero to a
// multiple of mr.
func packARows(ap []uint32, a []float32, lda, k, q0, qb, i0, ib, mr int) {
	rows := (ib + mr - 1) / mr * mr
	for i := range rows {
		dst := ap[i*qb:][:qb]
		if i >= ib {
			clear(dst)
			continue
		}
		convertPairs(dst, a[(i0+i)*lda+2*q0:], k-2*q0)
	}
}

// packACols packs pairs q0 to q0+qb of rows i0 to i0+ib of op(A) = A^T
// (A stored k x m) into panels mr rows tall: panel ir at ap[ir*qb*mr],
// pair q of row i at [q*mr+i], rows past ib zero. tmp holds mcB.
func packACols(ap []uint32, a []float32, lda, k, q0, qb, i0, ib, mr int, zero []float32, tmp []uint32) {
	nIr := (ib + mr - 1) / mr
	for q := range qb {
		p := 2 * (q0 + q)
		lo, hi := a[p*lda+i0:][:ib], zero[:ib]
		if p+1 < k {
			hi = a[(p+1)*lda+i0:][:ib]
		}
		pairRow(tmp[:ib], lo, hi)
		for ir := range nIr {
			dst := ap[ir*qb*mr+q*mr:][:mr]
			h := copy(dst, tmp[ir*mr:ib])
			clear(dst[h:])
		}
	}
}

// ReferenceBF16 computes GemmBF16's result one element at a time by its
// definition: the plain version the kernels are tested against.
func ReferenceBF16(tA, tB blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	for i := range m {
		for j := range n {
			var s float32
			if beta == 1 {
				s = c[i*ldc+j]
			}
			for p := 0; p < k; p += 2 {
				s = dot(s, opAt(a, lda, tA == blas.Trans, i, p+1, k), opAt(b, ldb, tB == blas.NoTrans, j, p+1, k))
				s = dot(s, opAt(a, lda, tA == blas.Trans, i, p, k), opAt(b, ldb, tB == blas.NoTrans, j, p, k))
			}
			c[i*ldc+j] = s
		}
	}
}

// opAt returns bfloat16 op(X)[r, p] (X[p, r] when t), 0 at p = k.
func opAt(x []float32, ld int, t bool, r, p, k int) uint16 {
	switch {
	case p >= k:
		return 0
	case t:
		return BF16(x[p*ld+r])
	}
	return BF16(x[r*ld+p])
}
