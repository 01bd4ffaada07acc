// Command asmgen writes internal/gemm's micro-kernels in Go assembly with
// avo (github.com/mmcloughlin/avo). Run it through go generate in
// internal/gemm; TestGeneratedKernelsUpToDate checks that the committed
// kernel_amd64.s is what it writes.
//
// Every kernel computes one mr x nr tile of C = A B over k steps of the inner
// dimension, keeping the tile in vector registers: at each step p it loads
// row p of the packed B panel (nr values, nr/lanes vectors), broadcasts
// A[i,p] for each of the mr rows, and does acc[i] = fma(A[i,p], B[p,:],
// acc[i]). So every element of C is one FMA chain over p in order, whatever
// the vector width: the AVX-512 and AVX2 kernels give the same bits.
//
// Two ways to read A, one kernel each:
//   - "rows": A[i,p] at a + i*lda + p (A not transposed, row-major), mr row
//     streams addressed from mr/3 base registers plus lda scaled by 1 or 2;
//   - "cols": A[i,p] at a + p*lda + i (A transposed, or a packed panel).
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// isa describes one instruction set's vectors.
type isa struct {
	name  string
	bytes int // vector width in bytes
	vec   func(i int) reg.VecPhysical
}

var (
	avx512 = isa{"avx512", 64, func(i int) reg.VecPhysical { return zmm[i] }}
	avx2   = isa{"avx2", 32, func(i int) reg.VecPhysical { return ymm[i] }}
	// avx512bf16 is AVX-512 with AVX512_BF16's VDPBF16PS.
	avx512bf16 = isa{"avx512bf16", 64, func(i int) reg.VecPhysical { return zmm[i] }}
)

var zmm = []reg.VecPhysical{
	reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
	reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
	reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
	reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31,
}

var ymm = []reg.VecPhysical{
	reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7,
	reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15,
}

// elem describes one element type.
type elem struct {
	name  string        // Go type of C
	ab    string        // Go type of A and B
	short string        // in function names
	size  int           // bytes of one step's element of A and B
	load  func(m, v Op) // vector load
	store func(v, m Op) // vector store
	bcast func(m, v Op) // broadcast one element
	fma   func(b, t, acc Op)
	zero  func(v Op)
}

var (
	f32 = elem{"float32", "float32", "S", 4,
		func(m, v Op) { VMOVUPS(m, v) }, func(v, m Op) { VMOVUPS(v, m) },
		func(m, v Op) { VBROADCASTSS(m, v) }, func(b, t, acc Op) { VFMADD231PS(b, t, acc) },
		func(v Op) { VXORPS(v, v, v) }}
	f64 = elem{"float64", "float64", "D", 8,
		func(m, v Op) { VMOVUPD(m, v) }, func(v, m Op) { VMOVUPD(v, m) },
		func(m, v Op) { VBROADCASTSD(m, v) }, func(b, t, acc Op) { VFMADD231PD(b, t, acc) },
		func(v Op) { VXORPD(v, v, v) }}
	// bf16: A and B hold pairs of bfloat16s (p even in the low half, p+1
	// in the high), one pair a step; C is float32. VDPBF16PS adds the
	// product of the high halves, then that of the low halves, to each
	// float32 lane (the package's BF16 arithmetic).
	bf16 = elem{"float32", "uint32", "B", 4,
		func(m, v Op) { VMOVUPS(m, v) }, func(v, m Op) { VMOVUPS(v, m) },
		func(m, v Op) { VBROADCASTSS(m, v) }, func(b, t, acc Op) { vdpbf16ps(acc, b, t) },
		func(v Op) { VXORPS(v, v, v) }}
)

// vdpbf16ps writes VDPBF16PS dst, src1, src2 (zmm registers) as bytes:
// Go's assembler does not know the instruction. EVEX.512.F3.0F38.W0 52 /r.
func vdpbf16ps(dst, src1, src2 Op) { evex(0x52, 0b10, index(dst), index(src1), index(src2)) }

// evex writes an EVEX.512.0F38.W0 instruction with opcode op, prefix pp
// (0b10 F3, 0b11 F2) and zmm registers dst, src1 (vvvv; 0 when unused) and
// src2 (r/m) as bytes.
func evex(op, pp byte, dst, src1, src2 int) {
	bit := func(r, b int) byte { // EVEX stores register bits inverted
		if r&b != 0 {
			return 0
		}
		return 1
	}
	p0 := bit(dst, 8)<<7 | bit(src2, 16)<<6 | bit(src2, 8)<<5 | bit(dst, 16)<<4 | 0b10
	p1 := byte(^src1&0xf)<<3 | 1<<2 | pp
	p2 := byte(0b10)<<5 | bit(src1, 16)<<3
	modrm := 0xc0 | byte(dst&7)<<3 | byte(src2&7)
	for _, x := range []byte{0x62, p0, p1, p2, op, modrm} {
		Instruction(&ir.Instruction{Opcode: "BYTE", Operands: []Op{U8(x)}})
	}
}

// convert writes func cvtBF16(dst *uint16, src *float32, n int): the n
// float32s at src (n a multiple of 16) rounded to bfloat16 at dst by
// VCVTNEPS2BF16 (to nearest even, a subnormal to a zero of its sign).
func convert() {
	TEXT("cvtBF16", NOSPLIT, "func(dst *uint16, src *float32, n int)")
	Doc("cvtBF16 rounds n float32s (a multiple of 16) to bfloat16 with VCVTNEPS2BF16.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	Label("cvt_loop")
	CMPQ(n, U8(16))
	JL(LabelRef("cvt_done"))
	VMOVUPS(Mem{Base: src}, reg.Z0)
	evex(0x72, 0b10, 1, 0, 0) // VCVTNEPS2BF16 Y1, Z0
	VMOVDQU(reg.Y1, Mem{Base: dst})
	ADDQ(U8(64), src)
	ADDQ(U8(32), dst)
	SUBQ(U8(16), n)
	JMP(LabelRef("cvt_loop"))
	Label("cvt_done")
	VZEROUPPER()
	RET()
}

// pairs writes func pairBF16(dst *uint32, lo, hi *float32, n int, idx
// *uint16): dst[j] = BF16(lo[j]) | BF16(hi[j])<<16 for j < n (a multiple
// of 16), by VCVTNE2PS2BF16 (lo's 16 in the low words, hi's in the high)
// and VPERMW with idx = 0, 16, 1, 17, ..., 15, 31 to interleave them.
func pairs() {
	TEXT("pairBF16", NOSPLIT, "func(dst *uint32, lo, hi *float32, n int, idx *uint16)")
	Doc("pairBF16 interleaves the bfloat16s of lo and hi, n (a multiple of 16) of each.")
	dst := Load(Param("dst"), GP64())
	lo := Load(Param("lo"), GP64())
	hi := Load(Param("hi"), GP64())
	n := Load(Param("n"), GP64())
	idx := Load(Param("idx"), GP64())
	VMOVDQU64(Mem{Base: idx}, reg.Z5)
	Label("pair_loop")
	CMPQ(n, U8(16))
	JL(LabelRef("pair_done"))
	VMOVUPS(Mem{Base: hi}, reg.Z1)
	VMOVUPS(Mem{Base: lo}, reg.Z2)
	evex(0x72, 0b11, 3, 1, 2) // VCVTNE2PS2BF16 Z3, Z1, Z2
	VPERMW(reg.Z3, reg.Z5, reg.Z4)
	VMOVDQU32(reg.Z4, Mem{Base: dst})
	ADDQ(U8(64), lo)
	ADDQ(U8(64), hi)
	ADDQ(U8(64), dst)
	SUBQ(U8(16), n)
	JMP(LabelRef("pair_loop"))
	Label("pair_done")
	VZEROUPPER()
	RET()
}

// index returns the number of vector register r.
func index(r Op) int {
	v, ok := r.(reg.VecPhysical)
	if !ok {
		panic(fmt.Sprintf("asmgen: %v is not a physical vector register", r))
	}
	return int(v.PhysicalIndex())
}

// Tile shapes: mr rows by nv vectors. AVX-512: 24 accumulators, 2 for B and
// 6 for broadcasts out of 32 registers; AVX2: 12, 2 and 2 out of 16.
// prefetchAhead is how far ahead, in bytes, the rows kernels prefetch A.
const prefetchAhead = 256

// prefetchAheadSteps is how many steps ahead the cols kernels prefetch A.
const prefetchAheadSteps = 8

const (
	mr512, nv512 = 12, 2
	mr256, nv256 = 6, 2
)

func main() {
	ConstraintExpr("amd64")
	for _, e := range []elem{f32, f64} {
		for _, mode := range []string{"rows", "cols"} {
			kernel(avx512, e, mr512, nv512, mode, false)
			kernel(avx2, e, mr256, nv256, mode, false)
		}
	}
	for _, mode := range []string{"rows", "cols"} {
		kernel(avx512bf16, bf16, mr512, nv512, mode, false)
		// GemmBF16 on CPUs without AVX512_BF16: the float32 kernels on
		// the bfloat16s' values, a step at a time, FTZ and DAZ set.
		kernel(avx512, f32, mr512, nv512, mode, true)
		kernel(avx2, f32, mr256, nv256, mode, true)
	}
	convert()
	pairs()
	Generate()
}

// kernel writes func kern<S|D>_<isa>_<mode>(k int, a *T, lda int, b *T, ldb int, c *T, ldc int, cn *T, load bool):
// C[0:mr, 0:nr] (row stride ldc) = (load ? C : 0) + A B, B k rows of nr
// values ldb apart (a packed panel, ldb = nr, or B itself). cn is the next
// tile of C (same stride), prefetched so that it is in cache when its turn
// comes: C is the one operand that comes from memory, once per tile.
//
// With ftz the kernel runs with MXCSR's FTZ and DAZ bits set (restored
// before it returns): a subnormal input reads as zero and a result that
// rounds below the smallest normal is flushed to zero, as VDPBF16PS does,
// so that on bfloat16 operands it gives GemmBF16's bits.
func kernel(is isa, e elem, mr, nv int, mode string, ftz bool) {
	name := fmt.Sprintf("kern%s_%s_%s", e.short, is.name, mode)
	doc := fmt.Sprintf("%s is the %dx%d %s micro-kernel reading A by %s.", name, mr, nv*is.bytes/e.size, is.name, mode)
	if ftz {
		name += "_ftz"
		doc = fmt.Sprintf("%s is kern%s_%s_%s with MXCSR's FTZ and DAZ set.", name, e.short, is.name, mode)
	}
	TEXT(name, NOSPLIT, fmt.Sprintf("func(k int, a *%s, lda int, b *%s, ldb int, c *%s, ldc int, cn *%s, load bool)", e.ab, e.ab, e.name, e.name))
	Doc(doc)
	var mxcsr Mem
	if ftz {
		mxcsr = AllocLocal(8) // the caller's MXCSR, then ours
		STMXCSR(mxcsr)
		t := GP32()
		MOVL(mxcsr, t)
		ORL(U32(0x8040), t) // FTZ (bit 15) and DAZ (bit 6)
		MOVL(t, mxcsr.Offset(4))
		LDMXCSR(mxcsr.Offset(4))
	}
	acc := func(i, v int) reg.VecPhysical { return is.vec(i*nv + v) }
	bv := func(v int) reg.VecPhysical { return is.vec(mr*nv + v) }
	ntmp := len(zmm) - mr*nv - nv
	if is.bytes == 32 {
		ntmp = len(ymm) - mr*nv - nv
	}
	tmp := func(i int) reg.VecPhysical { return is.vec(mr*nv + nv + i%ntmp) }

	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	lda := Load(Param("lda"), GP64())
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	shift := U8(2)
	if e.size == 8 {
		shift = U8(3)
	}
	SHLQ(shift, lda)
	SHLQ(shift, ldc)
	SHLQ(shift, ldb)

	// Prefetch the next tile of C, a cache line at a time.
	cn := Load(Param("cn"), GP64())
	for i := range mr {
		for off := 0; off < nv*is.bytes; off += 64 {
			PREFETCHT0(Mem{Base: cn, Disp: off})
		}
		if i < mr-1 {
			ADDQ(ldc, cn)
		}
	}

	// The accumulators start from C or from zero.
	load := Load(Param("load"), GP8())
	CMPB(load, U8(0))
	JE(LabelRef(name + "_zero"))
	cp := GP64()
	MOVQ(c, cp)
	for i := range mr {
		for v := range nv {
			e.load(Mem{Base: cp, Disp: v * is.bytes}, acc(i, v))
		}
		if i < mr-1 {
			ADDQ(ldc, cp)
		}
	}
	JMP(LabelRef(name + "_body"))
	Label(name + "_zero")
	for i := range mr {
		for v := range nv {
			e.zero(acc(i, v))
		}
	}
	Label(name + "_body")

	// step emits one step of p: A[i,p] for row i at aAddr(i, u), B's
	// row at b, which it then moves to the next row.
	step := func(u int, aAddr func(i, u int) Mem) {
		for v := range nv {
			e.load(Mem{Base: b, Disp: v * is.bytes}, bv(v))
		}
		ADDQ(ldb, b)
		for i := range mr {
			t := tmp(i)
			e.bcast(aAddr(i, u), t)
			for v := range nv {
				e.fma(bv(v), t, acc(i, v))
			}
		}
	}

	switch mode {
	case "cols":
		// A[i,p] at a + p*lda + i: one pointer, advanced by lda per step,
		// and one prefetchAheadSteps steps ahead for the prefetches.
		pf := GP64()
		LEAQ(Mem{Base: a, Index: lda, Scale: prefetchAheadSteps}, pf)
		Label(name + "_loop")
		TESTQ(k, k)
		JE(LabelRef(name + "_done"))
		PREFETCHT0(Mem{Base: pf})
		PREFETCHT0(Mem{Base: pf, Disp: mr*e.size - 1})
		step(0, func(i, _ int) Mem { return Mem{Base: a, Disp: i * e.size} })
		ADDQ(lda, a)
		ADDQ(lda, pf)
		DECQ(k)
		JMP(LabelRef(name + "_loop"))
	case "rows":
		// A[i,p] at a + i*lda + p: bases at rows 0, 3, 6, ... and row
		// 3q+s at base q plus lda*s; steps unrolled by 4.
		nb := (mr + 2) / 3
		bases := make([]reg.GPVirtual, nb)
		for q := range bases {
			bases[q] = GP64()
			if q == 0 {
				MOVQ(a, bases[q])
			} else {
				LEAQ(Mem{Base: bases[q-1], Index: lda, Scale: 2}, bases[q])
				ADDQ(lda, bases[q])
			}
		}
		addr := func(i, u int) Mem {
			m := Mem{Base: bases[i/3], Disp: u * e.size}
			if s := i % 3; s > 0 {
				m.Index, m.Scale = lda, uint8(s)
			}
			return m
		}
		const unroll = 4
		Label(name + "_loop4")
		CMPQ(k, U8(unroll))
		JL(LabelRef(name + "_loop1"))
		for u := range unroll {
			// Prefetch the A rows a few cache lines ahead: mr row streams
			// lda apart are more than the hardware prefetcher follows.
			for i := u * mr / unroll; i < (u+1)*mr/unroll; i++ {
				m := addr(i, 0)
				m.Disp += prefetchAhead
				PREFETCHT0(m)
			}
			step(u, addr)
		}
		for _, r := range bases {
			ADDQ(U8(unroll*e.size), r)
		}
		SUBQ(U8(unroll), k)
		JMP(LabelRef(name + "_loop4"))
		Label(name + "_loop1")
		TESTQ(k, k)
		JE(LabelRef(name + "_done"))
		step(0, addr)
		for _, r := range bases {
			ADDQ(U8(e.size), r)
		}
		DECQ(k)
		JMP(LabelRef(name + "_loop1"))
	}

	Label(name + "_done")
	for i := range mr {
		for v := range nv {
			e.store(acc(i, v), Mem{Base: c, Disp: v * is.bytes})
		}
		if i < mr-1 {
			ADDQ(ldc, c)
		}
	}
	if ftz {
		LDMXCSR(mxcsr)
	}
	VZEROUPPER()
	RET()
}
