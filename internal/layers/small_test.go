package layers

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ReLU and GELU: values (GELU's against PyTorch's exact-erf figures),
// and gradients away from ReLU's kink.
func TestActivations(t *testing.T) {
	g := NewGELU[float64](Shape{5, 1, 1})
	y := g.Forward([]float64{-3, -1, 0, 1, 2.5}, 1, true)
	// Python's 0.5*x*(1+math.erf(x/math.sqrt(2))): another erf than Go's.
	want := []float64{-0.00404969409489031, -0.15865525393145707, 0, 0.8413447460685429, 2.4844758366855597}
	if i := closeTo(y, want, 1e-15); i >= 0 {
		t.Errorf("GELU %v, want %v", y, want)
	}
	rng := rand.New(rand.NewPCG(6, 6))
	x := distinct(rng, 60)
	for i := range x {
		x[i] = 100*x[i] + 0.05 // -3..3, 0.1 apart, none within 0.05 of 0: no step crosses the kink
	}
	for _, a := range []*Act[float64]{NewReLU[float64](Shape{3, 4, 5}), NewGELU[float64](Shape{3, 4, 5})} {
		if e := gradCheck(t, a, x, 1, true, 3); e > 1e-7 {
			t.Errorf("GELU %v: largest relative error %.2e", a.GELU, e)
		}
	}
	// float32's GELU (vmath's) within 7e-8 of the exact one, forward and back,
	// over the range activations take.
	g32 := NewGELU[float32](Shape{1, 1, 4001})
	x32, dy32 := make([]float32, 4001), make([]float32, 4001)
	for i := range x32 {
		x32[i], dy32[i] = float32(-10+float64(i)*0.005), 1
	}
	y32 := g32.Forward(x32, 1, true)
	dx32 := g32.Backward(dy32)
	for i, v := range x32 {
		x := float64(v)
		// 7e-8 of Phi times |x|, and float32's rounding of the result.
		if d := math.Abs(float64(y32[i]) - gelu(x)); d > 7e-8*math.Abs(x)+0x1p-24*math.Abs(gelu(x)) {
			t.Fatalf("float32 GELU(%v) = %v, exact %v", x, y32[i], gelu(x))
		}
		if d := math.Abs(float64(dx32[i]) - geluGrad(x)); d > 7e-8*(1+math.Abs(x))+0x1p-24*math.Abs(geluGrad(x)) {
			t.Fatalf("float32 GELU'(%v) = %v, exact %v", x, dx32[i], geluGrad(x))
		}
	}
	r := NewReLU[float64](Shape{2, 1, 1})
	r.Forward([]float64{0, -1}, 1, true)
	if dx := r.Backward([]float64{1, 1}); dx[0] != 0 || dx[1] != 0 {
		t.Errorf("ReLU's gradient at 0 and below: %v, want 0 (cs231n's)", dx)
	}
}

// Affine on (C, H, W) inputs: the plain sums, and gradients.
func TestAffine(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	in := Shape{2, 3, 3}
	for _, bias := range []bool{true, false} {
		a := NewAffine[float64]("2", in, 5, bias)
		copy(a.W.V, randSlice(rng, len(a.W.V), 1))
		if bias {
			copy(a.B.V, randSlice(rng, 5, 1))
		}
		x := randSlice(rng, 4*in.Size(), 1)
		y := a.Forward(x, 4, true)
		for i := range 4 {
			for j := range 5 {
				v := 0.0
				if bias {
					v = a.B.V[j]
				}
				for k := range in.Size() {
					v += x[i*in.Size()+k] * a.W.V[k*5+j]
				}
				if math.Abs(y[i*5+j]-v) > 1e-13 {
					t.Fatalf("out[%d,%d] %v, want %v", i, j, y[i*5+j], v)
				}
			}
		}
		if e := gradCheck(t, a, x, 4, true, 4); e > 1e-7 {
			t.Errorf("bias %v: largest relative error %.2e", bias, e)
		}
	}
}

// Scale and a frozen dropout mask: gradients; dropout keeps about 1-P of
// the units, scaled by 1/(1-P), and is the identity in evaluation.
func TestScaleAndDropout(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	x := randSlice(rng, 2*30, 1)
	if e := gradCheck(t, &Scale[float64]{In: Shape{30, 1, 1}, K: 1.0 / 9}, x, 2, true, 1); e > 1e-7 {
		t.Errorf("scale: %.2e", e)
	}
	d := &Dropout[float64]{In: Shape{30, 1, 1}, P: 0.3, Rng: rand.New(rand.NewPCG(1, 1)), Frozen: true}
	if e := gradCheck(t, d, x, 2, true, 1); e > 1e-7 {
		t.Errorf("dropout: %.2e", e)
	}
	big := make([]float64, 100000)
	for i := range big {
		big[i] = 1
	}
	d = &Dropout[float64]{In: Shape{1000, 1, 1}, P: 0.3, Rng: rand.New(rand.NewPCG(2, 2))}
	kept, sum := 0, 0.0
	for _, v := range d.Forward(big, 100, true) {
		if v != 0 {
			kept++
			sum += v
		}
	}
	if f := float64(kept) / 1e5; math.Abs(f-0.7) > 0.01 || math.Abs(sum/float64(kept)-1/0.7) > 1e-9 {
		t.Errorf("kept %.4f of the units at %v, want 0.7 at %v", f, sum/float64(kept), 1/0.7)
	}
	if y := d.Forward(big, 100, false); &y[0] != &big[0] {
		t.Error("dropout in evaluation is not the identity")
	}
}
