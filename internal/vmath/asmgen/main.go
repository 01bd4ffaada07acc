// Command asmgen writes internal/vmath's kernels (GELU, transpose, add)
// in Go assembly with avo (github.com/mmcloughlin/avo). Run it through go
// generate in internal/vmath; TestGeneratedKernelsUpToDate checks that
// the committed vmath_amd64.s is what it writes.
//
// Each kernel does, lane by lane in float64, the operations of vmath's
// plain-Go cdf in its order, each rounded as Go rounds it (no fused
// multiply-add), so every kernel gives the bits of the Go one.
package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// isa describes one instruction set's vectors and the instructions that
// differ between them.
type isa struct {
	name    string
	lanes   int // float64 lanes
	vec     func(i int) reg.VecPhysical
	and, or func(a, b, dst Op)          // bitwise, 64-bit lanes
	narrow  func(v, dst Op)             // float64 lanes to float32
	half    func(i int) reg.VecPhysical // the register of half the width (float32 lanes)
}

var (
	avx512 = isa{name: "avx512", lanes: 8, vec: func(i int) reg.VecPhysical { return zmm[i] },
		and: func(a, b, d Op) { VPANDQ(a, b, d) }, or: func(a, b, d Op) { VPORQ(a, b, d) },
		narrow: func(v, d Op) { VCVTPD2PS(v, d) }, half: func(i int) reg.VecPhysical { return ymm[i] }}
	avx2 = isa{name: "avx2", lanes: 4, vec: func(i int) reg.VecPhysical { return ymm[i] },
		and: func(a, b, d Op) { VPAND(a, b, d) }, or: func(a, b, d Op) { VPOR(a, b, d) },
		narrow: func(v, d Op) { VCVTPD2PSY(v, d) }, half: func(i int) reg.VecPhysical { return xmm[i] }}
)

var zmm = []reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7, reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15}
var ymm = []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7, reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15}
var xmm = []reg.VecPhysical{reg.X0, reg.X1, reg.X2, reg.X3, reg.X4, reg.X5, reg.X6, reg.X7, reg.X8, reg.X9, reg.X10, reg.X11, reg.X12, reg.X13, reg.X14, reg.X15}

// The constants of cdf (vmath.go), each as 8 copies in a table: a vector
// operand of either width reads the first lanes of its row.
var consts = []struct {
	name string
	bits uint64
}{
	{"abs", 1<<63 - 1},
	{"sign", 1 << 63},
	{"one", math.Float64bits(1)},
	{"pr", math.Float64bits(0.3275911 / math.Sqrt2)},
	{"mhalf", math.Float64bits(-0.5)},
	{"zmin", math.Float64bits(-700)},
	{"log2e", math.Float64bits(1.4426950408889634)},
	{"round", math.Float64bits(0x1.8p52)},
	{"ln2hi", math.Float64bits(6.93147180369123816490e-01)},
	{"ln2lo", math.Float64bits(1.90821492927058770002e-10)},
	{"bias", 1023},
	{"half", math.Float64bits(0.5)},
	{"invsqrt2pi", math.Float64bits(0.3989422804014327)},
	{"a1", math.Float64bits(0.254829592)},
	{"a2", math.Float64bits(-0.284496736)},
	{"a3", math.Float64bits(1.421413741)},
	{"a4", math.Float64bits(-1.453152027)},
	{"a5", math.Float64bits(1.061405429)},
}

// taylor is e^r's Taylor coefficients 1/i!, i = 0 to 9, as cdf has them.
var taylor = []float64{1, 1, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320, 1.0 / 362880}

// row returns the table's row of the constant named name: one of
// consts, or c0 to c9 for taylor's.
func row(name string) int {
	for i, c := range consts {
		if c.name == name {
			return i
		}
	}
	for i := range taylor {
		if name == fmt.Sprintf("c%d", i) {
			return len(consts) + i
		}
	}
	panic("no constant " + name)
}

func main() {
	ConstraintExpr("amd64")
	table := GLOBL("geluconst", RODATA|NOPTR)
	row := 0
	put := func(bits uint64) {
		for l := range 8 {
			DATA(row*64+l*8, U64(bits))
		}
		row++
	}
	for _, c := range consts {
		put(c.bits)
	}
	for _, c := range taylor {
		put(math.Float64bits(c))
	}
	for _, is := range []isa{avx512, avx2} {
		kernel(is, table, false)
		kernel(is, table, true)
	}
	transposeKernel()
	addKernel()
	Generate()
}

// kernel writes geluS_<isa>(y, x *float32, n int), y = x Phi(x), or with
// grad geluGradS_<isa>(dx, dy, x *float32, n int), dx = dy (Phi(x) + x
// phi(x)); n a multiple of the lanes, the constants read from table.
func kernel(is isa, table Mem, grad bool) {
	name := "geluS_" + is.name
	sig := "func(y, x *float32, n int)"
	doc := fmt.Sprintf("%s sets y = x Phi(x) for n entries, %d at a time (n a multiple of %d).", name, is.lanes, is.lanes)
	if grad {
		name = "geluGradS_" + is.name
		sig = "func(dx, dy, x *float32, n int)"
		doc = fmt.Sprintf("%s sets dx = dy (Phi(x) + x phi(x)) for n entries, %d at a time (n a multiple of %d).", name, is.lanes, is.lanes)
	}
	TEXT(name, NOSPLIT, sig)
	Doc(doc)
	var out, dy reg.Register
	if grad {
		out = Load(Param("dx"), GP64())
		dy = Load(Param("dy"), GP64())
	} else {
		out = Load(Param("y"), GP64())
	}
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	tab := GP64()
	LEAQ(table, tab)
	cst := func(name string) Mem { return Mem{Base: tab, Disp: row(name) * 64} }
	v, a, t, z, kr, k, r, s, e, u, q, w, tmp, one := is.vec(0), is.vec(1), is.vec(2), is.vec(3), is.vec(4), is.vec(5), is.vec(6), is.vec(7), is.vec(8), is.vec(9), is.vec(10), is.vec(11), is.vec(12), is.vec(13)
	VMOVUPD(cst("one"), one)
	step := is.lanes * 4 // bytes of float32 a step takes
	Label(name + "_loop")
	CMPQ(n, Imm(0))
	JE(LabelRef(name + "_done"))
	VCVTPS2PD(Mem{Base: x}, v)
	is.and(cst("abs"), v, a) // |v|
	VMULPD(cst("pr"), a, t)
	VADDPD(one, t, t)
	VDIVPD(t, one, t) // t = 1/(1 + pr |v|)
	VMULPD(cst("mhalf"), v, z)
	VMULPD(v, z, z)
	VMAXPD(cst("zmin"), z, z) // z = max(-0.5 v v, -700)
	VMULPD(cst("log2e"), z, kr)
	VADDPD(cst("round"), kr, kr) // kr = z log2e + round
	VSUBPD(cst("round"), kr, k)  // k = kr - round
	VMULPD(cst("ln2hi"), k, tmp)
	VSUBPD(tmp, z, r)
	VMULPD(cst("ln2lo"), k, tmp)
	VSUBPD(tmp, r, r) // r = z - k ln2hi - k ln2lo
	VMOVUPD(cst("c9"), s)
	for i := 8; i >= 0; i-- {
		VMULPD(r, s, s)
		VADDPD(cst(fmt.Sprintf("c%d", i)), s, s)
	}
	VPADDQ(cst("bias"), kr, kr)
	VPSLLQ(Imm(52), kr, kr) // 2^k
	VMULPD(kr, s, e)        // e = exp(z)
	VMOVUPD(cst("a5"), u)
	for i := 4; i >= 1; i-- {
		VMULPD(t, u, u)
		VADDPD(cst(fmt.Sprintf("a%d", i)), u, u)
	}
	VMULPD(cst("half"), t, q)
	VMULPD(u, q, q)
	VMULPD(e, q, q) // q = 0.5 t poly(t) e = Phi(-|v|)
	VMOVUPD(cst("half"), w)
	VSUBPD(q, w, w)
	is.and(cst("abs"), w, w)
	is.and(cst("sign"), v, tmp)
	is.or(tmp, w, w)
	VADDPD(cst("half"), w, w) // Phi(v) = 0.5 + copysign(0.5 - q, v)
	if grad {
		VMULPD(e, v, tmp)
		VMULPD(cst("invsqrt2pi"), tmp, tmp)
		VADDPD(tmp, w, w) // Phi(v) + v phi(v)
		VCVTPS2PD(Mem{Base: dy}, tmp)
		VMULPD(w, tmp, w)
		ADDQ(Imm(uint64(step)), dy)
	} else {
		VMULPD(w, v, w)
	}
	is.narrow(w, is.half(11))
	VMOVUPS(is.half(11), Mem{Base: out})
	ADDQ(Imm(uint64(step)), x)
	ADDQ(Imm(uint64(step)), out)
	SUBQ(Imm(uint64(is.lanes)), n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// transposeKernel writes transposeS_avx2(dst, ldd, src, lds, r, c):
// dst[j ldd + i] = src[i lds + j] for i < r, j < c (multiples of 8), an
// 8 x 8 tile at a time: 8 rows loaded, interleaved in pairs (unpack),
// then in fours (shuffle), then their 128-bit halves swapped (perm2f128),
// which leaves column k of the tile in register k.
func transposeKernel() {
	TEXT("transposeS_avx2", NOSPLIT, "func(dst *float32, ldd int, src *float32, lds int, r, c int)")
	Doc("transposeS_avx2 sets dst[j ldd + i] = src[i lds + j] for i < r, j < c, an 8 x 8 tile at a time (r and c multiples of 8).")
	dst := Load(Param("dst"), GP64())
	ldd := Load(Param("ldd"), GP64())
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	r := Load(Param("r"), GP64())
	c := Load(Param("c"), GP64())
	SHLQ(Imm(2), ldd) // in bytes
	SHLQ(Imm(2), lds)
	s, d, n, p := GP64(), GP64(), GP64(), GP64()
	Label("transpose_strip") // 8 rows of src, 8 columns of dst
	CMPQ(r, Imm(0))
	JLE(LabelRef("transpose_done"))
	MOVQ(src, s)
	MOVQ(dst, d)
	MOVQ(c, n)
	Label("transpose_tile")
	CMPQ(n, Imm(0))
	JLE(LabelRef("transpose_next"))
	MOVQ(s, p)
	for k := range 8 {
		VMOVUPS(Mem{Base: p}, ymm[k])
		ADDQ(lds, p)
	}
	for k := 0; k < 8; k += 2 { // rows k, k+1 interleaved: lo in 8+k, hi in 9+k
		VUNPCKLPS(ymm[k+1], ymm[k], ymm[8+k])
		VUNPCKHPS(ymm[k+1], ymm[k], ymm[9+k])
	}
	for h := 0; h < 8; h += 4 { // fours: columns 0,1 (lo pairs) and 2,3 (hi pairs) of rows h to h+3
		VSHUFPS(Imm(0x44), ymm[10+h], ymm[8+h], ymm[h])
		VSHUFPS(Imm(0xEE), ymm[10+h], ymm[8+h], ymm[h+1])
		VSHUFPS(Imm(0x44), ymm[11+h], ymm[9+h], ymm[h+2])
		VSHUFPS(Imm(0xEE), ymm[11+h], ymm[9+h], ymm[h+3])
	}
	for k := range 4 { // rows 0-3's half beside rows 4-7's
		VPERM2F128(Imm(0x20), ymm[4+k], ymm[k], ymm[8+k])
		VPERM2F128(Imm(0x31), ymm[4+k], ymm[k], ymm[12+k])
	}
	MOVQ(d, p)
	for k := range 8 {
		VMOVUPS(ymm[8+k], Mem{Base: p})
		ADDQ(ldd, p)
	}
	ADDQ(Imm(32), s) // the next 8 columns of src
	MOVQ(p, d)       // the next 8 rows of dst
	SUBQ(Imm(8), n)
	JMP(LabelRef("transpose_tile"))
	Label("transpose_next")
	LEAQ(Mem{Base: src, Index: lds, Scale: 8}, src)
	ADDQ(Imm(32), dst)
	SUBQ(Imm(8), r)
	JMP(LabelRef("transpose_strip"))
	Label("transpose_done")
	VZEROUPPER()
	RET()
}

// addKernel writes addS_avx2(dst, src, n): dst[i] += src[i] for n
// entries (a multiple of 8), 32 at a time while it can.
func addKernel() {
	TEXT("addS_avx2", NOSPLIT, "func(dst, src *float32, n int)")
	Doc("addS_avx2 sets dst[i] += src[i] for n entries (n a multiple of 8).")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	Label("add_32")
	CMPQ(n, Imm(32))
	JL(LabelRef("add_8"))
	for k := range 4 {
		VMOVUPS(Mem{Base: dst, Disp: 32 * k}, ymm[k])
		VADDPS(Mem{Base: src, Disp: 32 * k}, ymm[k], ymm[k])
		VMOVUPS(ymm[k], Mem{Base: dst, Disp: 32 * k})
	}
	ADDQ(Imm(128), dst)
	ADDQ(Imm(128), src)
	SUBQ(Imm(32), n)
	JMP(LabelRef("add_32"))
	Label("add_8")
	CMPQ(n, Imm(0))
	JLE(LabelRef("add_done"))
	VMOVUPS(Mem{Base: dst}, ymm[0])
	VADDPS(Mem{Base: src}, ymm[0], ymm[0])
	VMOVUPS(ymm[0], Mem{Base: dst})
	ADDQ(Imm(32), dst)
	ADDQ(Imm(32), src)
	SUBQ(Imm(8), n)
	JMP(LabelRef("add_8"))
	Label("add_done")
	VZEROUPPER()
	RET()
}
