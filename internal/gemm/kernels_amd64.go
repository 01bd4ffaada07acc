package gemm

import (
	"math"

	"golang.org/x/sys/cpu"
)

//go:generate go run ./asmgen -out kernel_amd64.s -stubs kernel_amd64.go -pkg gemm

// simdKernels returns the assembly kernels this CPU runs, best first.
func simdKernels() (s32 []kernel[float32], s64 []kernel[float64]) {
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ {
		s32 = append(s32, kernel[float32]{"avx512", 12, 32, kernS_avx512_rows, kernS_avx512_cols})
		s64 = append(s64, kernel[float64]{"avx512", 12, 16, kernD_avx512_rows, kernD_avx512_cols})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		s32 = append(s32, kernel[float32]{"avx2", 6, 16, kernS_avx2_rows, kernS_avx2_cols})
		s64 = append(s64, kernel[float64]{"avx2", 6, 8, kernD_avx2_rows, kernD_avx2_cols})
	}
	return s32, s64
}

// simdKernelsB returns GemmBF16's assembly kernels this CPU runs, best
// first: VDPBF16PS, then the float32 kernels with FTZ and DAZ.
func simdKernelsB() (ks []kernelB) {
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BF16 && dotAgrees() {
		ks = append(ks, kernelB{name: "avx512bf16", mr: 12, nr: 32, rows: kernB_avx512bf16_rows, cols: kernB_avx512bf16_cols})
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ {
		ks = append(ks, kernelB{name: "avx512", mr: 12, nr: 32, rowsF: kernS_avx512_rows_ftz, colsF: kernS_avx512_cols_ftz})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, kernelB{name: "avx2", mr: 6, nr: 16, rowsF: kernS_avx2_rows_ftz, colsF: kernS_avx2_cols_ftz})
	}
	return ks
}

// hasBF16Convert reports whether cvtBF16 and pairBF16 run here.
var hasBF16Convert = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512BF16

// pairIdx interleaves VCVTNE2PS2BF16's halves (pairBF16).
var pairIdx = func() (idx [32]uint16) {
	for j := range 16 {
		idx[2*j], idx[2*j+1] = uint16(j), uint16(16+j)
	}
	return idx
}()

// convertRow sets dst[i] = BF16(src[i]), len(dst) == len(src).
func convertRow(dst []uint16, src []float32) {
	n := 0
	if hasBF16Convert && len(src) >= 16 {
		n = len(src) &^ 15
		cvtBF16(&dst[0], &src[0], n)
	}
	for i := n; i < len(src); i++ {
		dst[i] = BF16(src[i])
	}
}

// pairRow sets dst[j] = pair(lo[j], hi[j]), the three the same length.
func pairRow(dst []uint32, lo, hi []float32) {
	n := 0
	if hasBF16Convert && len(lo) >= 16 {
		n = len(lo) &^ 15
		pairBF16(&dst[0], &lo[0], &hi[0], n, &pairIdx[0])
	}
	for j := n; j < len(lo); j++ {
		dst[j] = pair(lo[j], hi[j])
	}
}

// dotAgrees reports whether this CPU's VDPBF16PS computes dot (the order
// of a pair, the one rounding, the subnormal rules) on one tile of
// operands drawn to tell them apart: checked on AMD Zen 4, it is Intel's
// documented arithmetic, and where a CPU does otherwise GemmBF16 runs the
// float32 kernels instead, so that its results stay the same everywhere.
func dotAgrees() bool {
	const mr, nr, k = 12, 32, 4
	var a [k * mr]uint32
	var b [k * nr]uint32
	var c, want [mr * nr]float32
	x := uint64(0x9e3779b97f4a7c15)
	next := func() uint16 { // bfloat16 bits, normal near 1 or tiny or subnormal
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		exp := []uint64{0, 3, 63, 64, 120, 126, 127, 128}[x%8]
		return uint16(x>>8&0x807f | exp<<7)
	}
	for i := range a {
		a[i] = uint32(next()) | uint32(next())<<16
	}
	for i := range b {
		b[i] = uint32(next()) | uint32(next())<<16
	}
	for i := range c {
		c[i] = math.Float32frombits(uint32(next()) << 16)
	}
	for i := range mr {
		for j := range nr {
			s := c[i*nr+j]
			for q := range k {
				s = dot(s, uint16(a[q*mr+i]>>16), uint16(b[q*nr+j]>>16))
				s = dot(s, uint16(a[q*mr+i]), uint16(b[q*nr+j]))
			}
			want[i*nr+j] = s
		}
	}
	kernB_avx512bf16_cols(k, &a[0], mr, &b[0], nr, &c[0], nr, &c[0], true)
	for i, v := range c {
		if math.Float32bits(v) != math.Float32bits(want[i]) {
			return false
		}
	}
	return true
}
