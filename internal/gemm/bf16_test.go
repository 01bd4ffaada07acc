package gemm

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// bf16Values returns n values for the bfloat16 products: mostly N(0,1),
// some near and below float32's smallest normal (so that products and sums
// underflow and subnormals are read), zeros of both signs, and some whose
// bfloat16 rounding is a tie.
func bf16Values(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		x := float32(rng.NormFloat64())
		switch rng.IntN(16) {
		case 0:
			x *= float32(math.Ldexp(1, -60-rng.IntN(10))) // products near 2^-126
		case 1:
			x = math.Float32frombits(rng.Uint32() & 0x807fffff) // subnormal
		case 2:
			x = float32(math.Copysign(0, float64(x)))
		case 3:
			x = math.Float32frombits(math.Float32bits(x)&0xffff0000 | 0x8000) // a tie
		}
		s[i] = x
	}
	return s
}

func TestBF16Rounding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, x := range append(bf16Values(rng, 100000),
		0, float32(math.Copysign(0, -1)), 1, -1, math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)),
		math.Float32frombits(0x3f808000), math.Float32frombits(0x3f818000), math.Float32frombits(0x3f808001)) {
		got := BF16(x)
		// The nearest bfloat16 by value, the even one on a tie: big.Float
		// rounds to 8 bits of significand the same way.
		want := x
		if !math.IsInf(float64(x), 0) {
			f, _ := new(big.Float).SetPrec(8).SetMode(big.ToNearestEven).SetFloat64(float64(x)).Float32()
			want = f
		}
		if math.Abs(float64(x)) < minNormal32 { // a subnormal is a zero of its sign
			want = float32(math.Copysign(0, float64(x)))
		}
		if math.Float32frombits(uint32(got)<<16) != want || math.Signbit(float64(want)) != (got>>15 == 1) {
			t.Fatalf("BF16(%g = %08x) = %04x, want %g", x, math.Float32bits(x), got, want)
		}
	}
	if nan := BF16(math.Float32frombits(0x7f800001)); nan&0x7f80 != 0x7f80 || nan&0x7f == 0 {
		t.Errorf("BF16 of a signalling NaN = %04x, want a NaN", nan)
	}
}

// TestConvertRow checks the packing's conversions (SIMD where the CPU has
// AVX512_BF16) against BF16, at every length from 0 to 40.
func TestConvertRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for n := range 41 {
		lo, hi := bf16Values(rng, n), bf16Values(rng, n)
		if n > 3 {
			lo[1], hi[2] = math.Float32frombits(0x7f800001), float32(math.Inf(-1))
		}
		h := make([]uint16, n)
		p := make([]uint32, n)
		convertRow(h, lo)
		pairRow(p, lo, hi)
		for i := range n {
			if h[i] != BF16(lo[i]) || p[i] != uint32(BF16(lo[i]))|uint32(BF16(hi[i]))<<16 {
				t.Fatalf("n %d, entry %d: convertRow %04x, pairRow %08x; want %04x and %04x%04x", n, i, h[i], p[i], BF16(lo[i]), BF16(hi[i]), BF16(lo[i]))
			}
		}
	}
}

// TestDotRounding checks dot against exact arithmetic in big.Float.
func TestDotRounding(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	v := bf16Values(rng, 300000)
	for i := 0; i+2 < len(v); i += 3 {
		c, x, y := v[i], BF16(v[i+1]), BF16(v[i+2])
		got := dot(c, x, y)
		cc := c
		if math.Abs(float64(cc)) < minNormal32 {
			cc = float32(math.Copysign(0, float64(cc)))
		}
		exact := new(big.Float).SetPrec(200).SetFloat64(float64(bf16Float(x)))
		exact.Mul(exact, new(big.Float).SetPrec(200).SetFloat64(float64(bf16Float(y))))
		exact.Add(exact, new(big.Float).SetPrec(200).SetFloat64(float64(cc)))
		// Round to 24 bits with no lower bound on the exponent, then flush.
		r, _ := new(big.Float).SetPrec(24).SetMode(big.ToNearestEven).Set(exact).Float64()
		want := float32(r)
		if math.Abs(r) < minNormal32 {
			want = float32(math.Copysign(0, r))
			if r == 0 && exact.Sign() == 0 { // an exact zero sum: +0 unless both are -0
				want = cc + bf16Float(x)*bf16Float(y)
			}
			if r == 0 && exact.Sign() < 0 {
				want = float32(math.Copysign(0, -1))
			}
		}
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("dot(%g, %g, %g) = %g, want %g", c, bf16Float(x), bf16Float(y), got, want)
		}
	}
}

// TestGemmBF16 checks every bfloat16 kernel, with every transpose, edge
// tiles, several blocks of each dimension and 1 to 3 threads, against
// ReferenceBF16 bit for bit, on values that exercise the subnormal rules
// (on AVX512_BF16 this checks the instruction against the definition).
func TestGemmBF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	type shape struct{ m, n, k int }
	shapes := []shape{{1, 1, 1}, {12, 32, 2}, {13, 33, 3}, {5, 7, 9}, {24, 64, 256}, {25, 65, 257}}
	big := []shape{{mcB + 13, ncB + 37, 2*kcB + 3}, {2*mcB + 1, 40, 4*kcB + 1}}
	for ki, kr := range kernelsB {
		t.Run(kr.name, func(t *testing.T) {
			cases := shapes
			if kr.name != "go" || !testing.Short() {
				cases = append(cases, big...)
			}
			for _, s := range cases {
				for _, tr := range [][2]blas.Transpose{{blas.NoTrans, blas.NoTrans}, {blas.Trans, blas.NoTrans}, {blas.NoTrans, blas.Trans}, {blas.Trans, blas.Trans}} {
					for _, beta := range []float32{0, 1} {
						p := problem{tA: tr[0], tB: tr[1], m: s.m, n: s.n, k: s.k, beta: float64(beta)}
						p.lda, p.ldb, p.ldc = p.k+rng.IntN(3), p.n+rng.IntN(3), p.n+rng.IntN(3)
						if p.tA == blas.Trans {
							p.lda = p.m + rng.IntN(3)
						}
						if p.tB == blas.Trans {
							p.ldb = p.k + rng.IntN(3)
						}
						a, b, c := data[float32](p)
						for _, x := range [][]float32{a, b, c} {
							for i, v := range bf16Values(rng, len(x)) {
								if !math.IsNaN(float64(x[i])) { // keep the NaN padding
									x[i] = v
								}
							}
						}
						want := append([]float32(nil), c...)
						ReferenceBF16(p.tA, p.tB, p.m, p.n, p.k, a, p.lda, b, p.ldb, beta, want, p.ldc)
						for _, nt := range []int{1, 2, 3} {
							saved := minParallel
							minParallel = 1
							got := append([]float32(nil), c...)
							gemmBF16(&kernelsB[ki], nt, p.tA == blas.Trans, p.tB == blas.Trans, p.m, p.n, p.k, a, p.lda, b, p.ldb, nil, beta == 1, got, p.ldc)
							// And with B packed first (a convolution's filters).
							var pb PackedBF16
							pb.pack(&kernelsB[ki], p.tB == blas.Trans, p.n, p.k, b, p.ldb)
							gotP := append([]float32(nil), c...)
							gemmBF16(pb.kr, nt, p.tA == blas.Trans, false, p.m, p.n, p.k, a, p.lda, nil, 0, &pb, beta == 1, gotP, p.ldc)
							minParallel = saved
							for i := range got {
								for _, g := range []float32{got[i], gotP[i]} {
									if math.Float32bits(g) != math.Float32bits(want[i]) && !(math.IsNaN(float64(g)) && math.IsNaN(float64(want[i]))) {
										t.Fatalf("%v threads %d: C[%d] = %g (%08x) (packed B: %g), want %g (%08x)", p, nt, i, got[i], math.Float32bits(got[i]), gotP[i], want[i], math.Float32bits(want[i]))
									}
								}
							}
						}
					}
				}
			}
		})
	}
}

// TestGemmBF16Accuracy checks the definition's meaning on N(0,1) data: the
// products agree with float64's to bfloat16's precision, and the odd step
// of each pair comes first (a pair whose low product is tiny against its
// high one, after an accumulator of 1, shows which was added first).
func TestGemmBF16Accuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m, n, k := 37, 45, 301
	a, b := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	for i := range b {
		b[i] = float32(rng.NormFloat64())
	}
	c := make([]float32, m*n)
	GemmBF16(1, blas.NoTrans, blas.NoTrans, m, n, k, a, k, b, n, 0, c, n)
	for i := range m {
		for j := range n {
			var exact, mag float64
			for p := range k {
				exact += float64(a[i*k+p]) * float64(b[p*n+j])
				mag += math.Abs(float64(a[i*k+p]) * float64(b[p*n+j]))
			}
			// Each input is off by at most 2^-9 relatively, each sum by 2^-24.
			if d := math.Abs(float64(c[i*n+j]) - exact); d > mag*(2*0x1p-9+float64(k)*0x1p-24) {
				t.Fatalf("C[%d,%d] = %g, float64 gives %g: off by %g of %g", i, j, c[i*n+j], exact, d, mag)
			}
		}
	}
	// From 1, step 1 (odd) adds 2^-24, step 0 (even) 2^-23. Odd first:
	// 1 + 2^-24 is a tie that rounds to 1, then 1 + 2^-23. Even first:
	// 1 + 2^-23, then + 2^-24 is a tie that rounds to 1 + 2^-22.
	x := []float32{0x1p-23, 0x1p-24} // A: step 0 (even), step 1 (odd)
	y := []float32{1, 1}
	for _, kr := range kernelsB {
		got := []float32{1}
		gemmBF16(&kr, 1, false, false, 1, 1, 2, x, 2, y, 1, nil, true, got, 1)
		if got[0] != 1+0x1p-23 {
			t.Errorf("%s: 1 + (2^-24, 2^-23) = 1 + %g, want 1 + 2^-23 (the odd step first)", kr.name, got[0]-1)
		}
	}
}

// The FTZ kernels restore MXCSR: after them Go's float32 arithmetic still
// keeps subnormals.
func TestMXCSRRestored(t *testing.T) {
	a := []float32{1, 2, 3, 4}
	c := make([]float32, 4)
	for _, kr := range kernelsB {
		gemmBF16(&kr, 1, false, false, 2, 2, 2, a, 2, a, 2, nil, false, c, 2)
		x := float32(0x1p-140) * c[0] // subnormal: 2^-140 * 7
		if x == 0 || x != 7*0x1p-140 {
			t.Fatalf("after the %s kernel, 2^-140 * %v = %g: subnormals flushed", kr.name, c[0], x)
		}
	}
}
