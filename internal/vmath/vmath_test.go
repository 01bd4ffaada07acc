package vmath

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nettrain/nettrain/internal/gentest"
)

// inputs returns n activations a net has (normal, scaled 0.1 to 10) with
// the edges mixed in: zeros of both signs, the largest and smallest
// float32s, values past the exp's clamp, and float32's denormals.
func inputs(n int) []float32 {
	rng := rand.New(rand.NewPCG(5, 5))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * math.Pow(10, rng.Float64()*2-1))
	}
	edge := []float32{0, float32(math.Copysign(0, -1)), math.MaxFloat32, -math.MaxFloat32,
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 37.5, -37.5, 38, -38, 1e4, -1e4,
		float32(math.Inf(1)), float32(math.Inf(-1))}
	for i, v := range edge {
		x[i*7%n] = v
	}
	return x
}

// Every kernel this CPU has gives the plain-Go GELU's bits, forward and
// back, on every length (the tails left to Go).
func TestKernelsSameBits(t *testing.T) {
	if len(kernels) == 0 {
		t.Skip("no assembly kernel on this CPU")
	}
	x, dy := inputs(4099), inputs(4099)
	rng := rand.New(rand.NewPCG(6, 6))
	rng.Shuffle(len(dy), func(i, j int) { dy[i], dy[j] = dy[j], dy[i] })
	want, wantd := make([]float32, len(x)), make([]float32, len(x))
	geluGo(want, x)
	geluGradGo(wantd, dy, x)
	for _, k := range kernels {
		for _, n := range []int{0, 1, k.lanes, 3*k.lanes + 1, len(x)} {
			y, dx := make([]float32, n), make([]float32, n)
			saved := kernels
			kernels = []kernel{k}
			GELU(y, x[:n])
			GELUGrad(dx, dy[:n], x[:n])
			kernels = saved
			for i := range n {
				if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s: GELU(%v) = %v, Go %v", k.name, x[i], y[i], want[i])
				}
				if math.Float32bits(dx[i]) != math.Float32bits(wantd[i]) {
					t.Fatalf("%s: GELU'(%v) dy %v = %v, Go %v", k.name, x[i], dy[i], dx[i], wantd[i])
				}
			}
		}
	}
}

// GELU and its gradient within 7.5e-8 (Abramowitz and Stegun's error) of
// the exact ones from math.Erf, plus float32's rounding, over the range
// activations take, by the kernel in use; and the edges.
func TestGELUAccuracy(t *testing.T) {
	const n = 40001
	x, dy := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], dy[i] = float32(-20+float64(i)*0.001), 1
	}
	y, dx := make([]float32, n), make([]float32, n)
	GELU(y, x)
	GELUGrad(dx, dy, x)
	for i, u := range x {
		v := float64(u)
		phi := 0.5 * (1 + math.Erf(v/math.Sqrt2))
		g, dg := v*phi, phi+v*math.Exp(-0.5*v*v)/math.Sqrt(2*math.Pi)
		if d := math.Abs(float64(y[i]) - g); d > 7.5e-8*math.Abs(v)+0x1p-24*math.Abs(g) {
			t.Fatalf("GELU(%v) = %v, exact %v", v, y[i], g)
		}
		if d := math.Abs(float64(dx[i]) - dg); d > 7.5e-8*(1+math.Abs(v))+0x1p-24*math.Abs(dg) {
			t.Fatalf("GELU'(%v) = %v, exact %v", v, dx[i], dg)
		}
	}
	for _, c := range []struct{ x, y, dx float32 }{
		{0, 0, 0.5}, {1e4, 1e4, 1}, {-1e4, 0, 0}, {math.MaxFloat32, math.MaxFloat32, 1},
	} {
		y, dx := make([]float32, 1), make([]float32, 1)
		GELU(y, []float32{c.x})
		GELUGrad(dx, []float32{1}, []float32{c.x})
		if y[0] != c.y || dx[0] != c.dx {
			t.Errorf("GELU(%v) = %v, gradient %v; want %v, %v", c.x, y[0], dx[0], c.y, c.dx)
		}
	}
	y1 := make([]float32, 1)
	if GELU(y1, []float32{float32(math.NaN())}); !math.IsNaN(float64(y1[0])) {
		t.Errorf("GELU(NaN) = %v, want NaN", y1[0])
	}
}

// The exp inside cdf, against math.Exp: within 1e-11 relative.
func TestExp(t *testing.T) {
	for i := range 690001 {
		v := math.Sqrt(2 * float64(i) * 1e-3) // exp(-v^2/2) = e^(-i/1000)
		_, e := cdf(v)
		if want := math.Exp(-0.5 * v * v); math.Abs(e-want) > 1e-11*want {
			t.Fatalf("exp(%v) = %v, math.Exp %v", -0.5*v*v, e, want)
		}
	}
	if _, e := cdf(0); e != 1 {
		t.Errorf("exp(0) = %v, want 1", e)
	}
	if _, e := cdf(1e6); math.Abs(e-math.Exp(-700)) > 1e-11*math.Exp(-700) {
		t.Errorf("exp below -700 = %v, want e^-700", e)
	}
}

func TestGeneratedKernelsUpToDate(t *testing.T) {
	gentest.UpToDate(t, "vmath", "vmath_amd64.s", "stubs_amd64.go")
}

func BenchmarkGELU(b *testing.B) {
	x, dy := inputs(1<<20), inputs(1<<20)
	y := make([]float32, len(x))
	for _, k := range append(kernels, kernel{name: "go"}) {
		b.Run(k.name, func(b *testing.B) {
			saved := kernels
			if k.gelu == nil {
				kernels = nil
			} else {
				kernels = []kernel{k}
			}
			defer func() { kernels = saved }()
			for b.Loop() {
				GELU(y, x)
				GELUGrad(y, dy, x)
			}
			b.ReportMetric(float64(len(x))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mentries/s")
		})
	}
}

// Transpose, with the AVX2 kernel where the CPU has it and without, gives
// each entry of a naive transpose (and leaves dst's gaps alone) for every
// shape with edges past the 8 x 8 tiles; Add gives the sums of a plain
// loop on every length.
func TestTransposeAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	saved := hasAVX2
	defer func() { hasAVX2 = saved }()
	for _, simd := range []bool{false, saved} {
		hasAVX2 = simd
		for _, sh := range [][2]int{{0, 5}, {5, 0}, {1, 1}, {7, 9}, {8, 8}, {9, 8}, {8, 17}, {16, 24}, {23, 31}, {64, 961}, {961, 64}, {256, 9}, {3, 1024}} {
			r, c := sh[0], sh[1]
			lds, ldd := c+rng.IntN(3), r+rng.IntN(3)
			src := inputs(max(1, r*lds))
			dst := make([]float32, max(1, c*ldd))
			for i := range dst {
				dst[i] = -7
			}
			Transpose(dst, ldd, src, lds, r, c)
			for j := range c {
				for i := range ldd {
					want := float32(-7)
					if i < r {
						want = src[i*lds+j]
					}
					if got := dst[j*ldd+i]; math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("avx2 %v, %dx%d: dst[%d, %d] = %v, want %v", simd, r, c, j, i, got, want)
					}
				}
			}
		}
		x, y := inputs(1000), inputs(1000)
		rng.Shuffle(len(y), func(i, j int) { y[i], y[j] = y[j], y[i] })
		for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 100, 1000} {
			got := append([]float32(nil), x[:n]...)
			Add(got, y)
			for i := range n {
				if want := x[i] + y[i]; math.Float32bits(got[i]) != math.Float32bits(want) {
					t.Fatalf("avx2 %v, n %d: %v + %v = %v, want %v", simd, n, x[i], y[i], got[i], want)
				}
			}
		}
	}
}

// float64 slices take the plain-Go path: the same entries.
func TestTransposeAddFloat64(t *testing.T) {
	const r, c = 9, 17
	src := make([]float64, r*c)
	for i := range src {
		src[i] = float64(i) + 0.5
	}
	dst := make([]float64, c*r)
	Transpose(dst, r, src, c, r, c)
	for i := range r {
		for j := range c {
			if dst[j*r+i] != src[i*c+j] {
				t.Fatalf("dst[%d, %d] = %v, want %v", j, i, dst[j*r+i], src[i*c+j])
			}
		}
	}
	Add(dst, dst)
	for i, v := range dst {
		if w := 2 * src[i%r*c+i/r]; v != w {
			t.Fatalf("Add: dst[%d] = %v, want %v", i, v, w)
		}
	}
}

// Transpose refuses matrices that do not fit their slices.
func TestTransposeBounds(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Transpose of 8x8 into a slice of 63 did not panic")
		}
	}()
	Transpose(make([]float32, 63), 8, make([]float32, 64), 8, 8, 8)
}

func BenchmarkTranspose(b *testing.B) {
	src := inputs(256 * 961)
	dst := make([]float32, len(src))
	for _, simd := range []bool{false, hasAVX2} {
		b.Run(fmt.Sprintf("avx2=%v", simd), func(b *testing.B) {
			saved := hasAVX2
			hasAVX2 = simd
			defer func() { hasAVX2 = saved }()
			for b.Loop() {
				Transpose(dst, 256, src, 961, 256, 961)
			}
			b.ReportMetric(float64(len(src))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mentries/s")
		})
	}
}
