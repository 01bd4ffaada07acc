package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nettrain/nettrain/internal/gemm"
)

func randomConv(rng *rand.Rand, in Shape, f, k, s, p int, bias bool) *Conv[float64] {
	c, err := NewConv[float64]("1", in, f, k, s, p, bias)
	if err != nil {
		panic(err)
	}
	copy(c.W.V, randSlice(rng, len(c.W.V), 0.3))
	if bias {
		copy(c.B.V, randSlice(rng, len(c.B.V), 0.3))
	}
	return c
}

// The fast path (im2col and GEMM) against cs231n's naive loops, forward and
// backward, on random shapes: odd sizes, strides 1 and 2, padding 0..3,
// kernels 1..5, channels 1..64, with and without a bias.
func TestConvMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for trial := range 60 {
		in := Shape{1 + rng.IntN(8), 1 + rng.IntN(11), 1 + rng.IntN(11)}
		if trial%10 == 0 {
			in.C = 64
		}
		k, s, p := 1+rng.IntN(5), 1+rng.IntN(2), rng.IntN(4)
		f, n, bias := 1+rng.IntN(9), 1+rng.IntN(3), trial%3 != 0
		if _, _, err := ConvOut(in.H, in.W, k, s, p); err != nil {
			continue
		}
		name := fmt.Sprintf("in %v f %d k %d s %d p %d n %d bias %v", in, f, k, s, p, n, bias)
		c := randomConv(rng, in, f, k, s, p, bias)
		x := randSlice(rng, n*in.Size(), 1)
		var b []float64
		if bias {
			b = c.B.V
		}
		want := ConvNaive(x, n, in, c.W.V, b, f, k, s, p)
		if i := closeTo(c.Forward(x, n, true), want, 1e-13); i >= 0 {
			t.Fatalf("%s: out[%d] %v, naive %v", name, i, c.y[i], want[i])
		}
		dout := randSlice(rng, len(want), 1)
		dx := c.Backward(dout)
		wdx, wdw, wdb := ConvBackwardNaive(dout, x, n, in, c.W.V, f, k, s, p)
		if i := closeTo(dx, wdx, 1e-13); i >= 0 {
			t.Fatalf("%s: dx[%d] %v, naive %v", name, i, dx[i], wdx[i])
		}
		if i := closeTo(c.W.G, wdw, 1e-13); i >= 0 {
			t.Fatalf("%s: dW[%d] %v, naive %v", name, i, c.W.G[i], wdw[i])
		}
		if bias {
			if i := closeTo(c.B.G, wdb, 1e-13); i >= 0 {
				t.Fatalf("%s: db[%d] %v, naive %v", name, i, c.B.G[i], wdb[i])
			}
		}
	}
}

// Numerical gradients of x, W and b, strides 1 and 2, padding 0..2.
func TestConvGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, c := range []struct {
		in         Shape
		f, k, s, p int
	}{
		{Shape{3, 7, 7}, 4, 3, 1, 1}, {Shape{2, 8, 6}, 3, 3, 2, 0}, {Shape{3, 5, 5}, 2, 2, 1, 0}, {Shape{1, 6, 6}, 2, 5, 2, 2},
	} {
		conv := randomConv(rng, c.in, c.f, c.k, c.s, c.p, true)
		x := randSlice(rng, 2*c.in.Size(), 1)
		if e := gradCheck(t, conv, x, 2, true, 5); e > 1e-7 {
			t.Errorf("%+v: largest relative error %.2e, want <= 1e-7", c, e)
		}
	}
}

// A float32 convolution (whose images, patches and products pass through
// vmath's SIMD transposes, in 8 x 8 tiles and the edges past them) matches
// the naive loops run in float64 on the same inputs, forward and back,
// for channels 3 to 64, images 1x1 to 20x20, kernels 1 to 5, strides 1
// and 2, padding 0 to 3.
func TestConvFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	to32 := func(v []float64) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	}
	to64 := func(v []float32) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	}
	for trial := range 40 {
		in := Shape{[]int{3, 8, 17, 64}[trial%4], 1 + rng.IntN(20), 1 + rng.IntN(20)}
		k, s, p := 1+rng.IntN(5), 1+rng.IntN(2), rng.IntN(4)
		f, n := []int{1, 8, 13, 24}[rng.IntN(4)], 1+rng.IntN(3)
		if _, _, err := ConvOut(in.H, in.W, k, s, p); err != nil {
			continue
		}
		name := fmt.Sprintf("in %v f %d k %d s %d p %d n %d", in, f, k, s, p, n)
		c, _ := NewConv[float32]("1", in, f, k, s, p, true)
		w, b := randSlice(rng, len(c.W.V), 1), randSlice(rng, f, 1)
		x := randSlice(rng, n*in.Size(), 1)
		w, b, x = to64(to32(w)), to64(to32(b)), to64(to32(x)) // the float32 values, exactly
		copy(c.W.V, to32(w))
		copy(c.B.V, to32(b))
		want := ConvNaive(x, n, in, w, b, f, k, s, p)
		if i := closeTo(to64(c.Forward(to32(x), n, true)), want, 1e-5); i >= 0 {
			t.Fatalf("%s: out[%d] %v, naive %v", name, i, c.y[i], want[i])
		}
		dout := to64(to32(randSlice(rng, len(want), 1)))
		dx := to64(c.Backward(to32(dout)))
		wdx, wdw, wdb := ConvBackwardNaive(dout, x, n, in, w, f, k, s, p)
		if i := closeTo(dx, wdx, 1e-5); i >= 0 {
			t.Fatalf("%s: dx[%d] %v, naive %v", name, i, dx[i], wdx[i])
		}
		if i := closeTo(to64(c.W.G), wdw, 1e-5); i >= 0 {
			t.Fatalf("%s: dW[%d] %v, naive %v", name, i, c.W.G[i], wdw[i])
		}
		if i := closeTo(to64(c.B.G), wdb, 1e-5); i >= 0 {
			t.Fatalf("%s: db[%d] %v, naive %v", name, i, c.B.G[i], wdb[i])
		}
	}
}

// The same bits on every GEMM kernel and thread count, in float32, for a
// convolution big enough to be split across threads.
func TestConvSameBitsAnyKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	in := Shape{16, 16, 16}
	c64 := randomConv(rng, in, 32, 3, 1, 1, true)
	x64 := randSlice(rng, 8*in.Size(), 1)
	c, _ := NewConv[float32]("1", in, 32, 3, 1, 1, true)
	for i, v := range c64.W.V {
		c.W.V[i] = float32(v)
	}
	x := make([]float32, len(x64))
	for i, v := range x64 {
		x[i] = float32(v)
	}
	dy := make([]float32, 8*c.Out().Size())
	for i := range dy {
		dy[i] = float32(i%7) - 3
	}
	eachKernelAndThreads(t, func() []float32 {
		out := slices.Clone(c.Forward(x, 8, true))
		out = append(out, c.Backward(dy)...)
		out = append(out, c.W.G...)
		return append(out, c.B.G...)
	})
}

// After the first step of a batch size, a step allocates nothing.
func TestConvNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	c := randomConv(rng, Shape{3, 12, 12}, 8, 3, 1, 1, true)
	x := randSlice(rng, 4*c.In.Size(), 1)
	dy := randSlice(rng, 4*c.Out().Size(), 1)
	step := func() { c.Forward(x, 4, true); c.Backward(dy) }
	step()
	if a := testing.AllocsPerRun(5, step); a != 0 {
		t.Errorf("%v allocations a step", a)
	}
	// And a float32 one with its products in bfloat16.
	c32, _ := NewConv[float32]("1", c.In, 8, 3, 1, 1, true)
	c32.BF16 = true
	x32, dy32 := make([]float32, len(x)), make([]float32, len(dy))
	step = func() { c32.Forward(x32, 4, true); c32.Backward(dy32) }
	step()
	if a := testing.AllocsPerRun(5, step); a != 0 {
		t.Errorf("bf16: %v allocations a step", a)
	}
}

// With BF16 the products take bfloat16 inputs: forward and backward match
// the naive loops run in float64 on the bfloat16-rounded operands (so the
// float32 path, 2^-9 away, would fail), with the same bits on every
// kernel and thread count.
func TestConvBF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	in, n, f, k := Shape{5, 9, 9}, 3, 7, 3
	c64 := randomConv(rng, in, f, k, 1, 1, true)
	x64 := randSlice(rng, n*in.Size(), 1)
	c, _ := NewConv[float32]("1", in, f, k, 1, 1, true)
	c.BF16 = true
	toBF := func(v []float64) (f32 []float32, bf []float64) {
		for _, x := range v {
			f32 = append(f32, float32(x))
			bf = append(bf, float64(math.Float32frombits(uint32(gemm.BF16(float32(x)))<<16)))
		}
		return f32, bf
	}
	w32, wbf := toBF(c64.W.V)
	copy(c.W.V, w32)
	for i, v := range c64.B.V {
		c.B.V[i] = float32(v)
	}
	x, xbf := toBF(x64)
	dy, dybf := toBF(randSlice(rng, n*c.Out().Size(), 1))
	want := ConvNaive(xbf, n, in, wbf, c64.B.V, f, k, 1, 1)
	wdx, wdw, _ := ConvBackwardNaive(dybf, xbf, n, in, wbf, f, k, 1, 1)
	const tol = 1e-5 // float32 sums of 45 to 243 terms
	to64 := func(v []float32) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	}
	eachKernelAndThreads(t, func() []float32 {
		out := slices.Clone(c.Forward(x, n, true))
		if i := closeTo(to64(out), want, tol); i >= 0 {
			t.Fatalf("out[%d] = %v, naive on bfloat16s %v", i, out[i], want[i])
		}
		dx := slices.Clone(c.Backward(dy))
		if i := closeTo(to64(dx), wdx, tol); i >= 0 {
			t.Fatalf("dx[%d] = %v, naive on bfloat16s %v", i, dx[i], wdx[i])
		}
		if i := closeTo(to64(c.W.G), wdw, tol); i >= 0 {
			t.Fatalf("dW[%d] = %v, naive on bfloat16s %v", i, c.W.G[i], wdw[i])
		}
		return append(append(out, dx...), c.W.G...)
	})
}
