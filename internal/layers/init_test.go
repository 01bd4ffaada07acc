package layers

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// A dirac-initialised convolution with as many filters as channels and
// "same" padding passes its input through unchanged, whatever K; with more
// filters the first C outputs are the input.
func TestDiracPassesTheImage(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{1, 3, 5} {
		in := Shape{4, 7, 6}
		c, err := NewConv[float64]("1", in, 6, k, 1, k/2, false)
		if err != nil {
			t.Fatal(err)
		}
		copy(c.W.V, randSlice(rng, len(c.W.V), 1))
		Dirac(c)
		x := randSlice(rng, 2*in.Size(), 1)
		y := c.Forward(x, 2, false)
		hw := in.H * in.W
		for e := range 2 {
			for ch := range in.C {
				got := y[(e*6+ch)*hw : (e*6+ch+1)*hw]
				want := x[(e*in.C+ch)*hw : (e*in.C+ch+1)*hw]
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("k %d: example %d channel %d entry %d: %v, input %v", k, e, ch, i, got[i], want[i])
					}
				}
			}
		}
		// The other filters keep their draws.
		if c.W.V[len(c.W.V)-1] == 0 {
			t.Errorf("k %d: filter 6 was cleared", k)
		}
	}
}

// InitUniform draws every weight within PyTorch's bound 1/sqrt(fan-in),
// makes the first filters the identity, and leaves biases at 0.
func TestInitDirac(t *testing.T) {
	a, err := ParseArch("conv24k2-gelu-conv32k3-bnnoscale-gelu-gavgpool-fc10nobias")
	if err != nil {
		t.Fatal(err)
	}
	net, err := Build[float64](a, Shape{3, 8, 8}, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	net.InitUniform(rand.New(rand.NewPCG(1, 2)), true)
	c2 := net.Layers[2].(*Conv[float64])
	fc := net.Layers[6].(*Affine[float64])
	for _, w := range []struct {
		p            *Param[float64]
		fanIn, dirac int // the entries of the identity filters come first
	}{{net.Layers[0].(*Conv[float64]).W, 12, 3 * 12}, {c2.W, 24 * 9, 24 * 24 * 9}, {fc.W, 32, 0}} {
		bound, big := 1/math.Sqrt(float64(w.fanIn)), 0.0
		for _, v := range w.p.V[w.dirac:] {
			if math.Abs(v) > bound {
				t.Fatalf("%s: %v beyond +-%v", w.p.Name, v, bound)
			}
			big = max(big, math.Abs(v))
		}
		if big < bound/2 {
			t.Errorf("%s: largest %v of bound %v: not uniform", w.p.Name, big, bound)
		}
	}
	for f := range 24 { // conv 24 -> 32: the first 24 filters are the identity
		for i, v := range c2.W.V[f*24*9 : (f+1)*24*9] {
			want := 0.0
			if i == f*9+4 {
				want = 1
			}
			if v != want {
				t.Fatalf("filter %d entry %d: %v, want %v", f, i, v, want)
			}
		}
	}
	if w := net.Layers[0].(*Conv[float64]).W.V; w[0*12+0*4+3] != 1 || w[1*12+1*4+3] != 1 || w[2*12+2*4+3] != 1 || w[1*12+0*4+3] != 0 {
		t.Error("the first conv's first 3 filters are not the identity at (1, 1)")
	}
	if b := net.Layers[0].(*Conv[float64]).B.V; b[0] != 0 || c2.B.V[5] != 0 {
		t.Error("a bias was drawn")
	}
	// Without dirac the same draws stay: every weight within its bound.
	plain, _ := Build[float64](a, Shape{3, 8, 8}, 10, nil)
	plain.InitUniform(rand.New(rand.NewPCG(1, 2)), false)
	pw := plain.Layers[2].(*Conv[float64]).W.V
	for i, v := range pw {
		if math.Abs(v) > 1/math.Sqrt(24*9) {
			t.Fatalf("uniform: W2[%d] %v beyond its bound", i, v)
		}
		if i >= 24*24*9 && v != c2.W.V[i] {
			t.Fatalf("uniform: W2[%d] %v, dirac's draw %v", i, v, c2.W.V[i])
		}
	}
	if bn := net.Layers[3].(*BatchNorm[float64]); !bn.Gamma.Frozen || bn.Beta.Frozen {
		t.Errorf("bnnoscale: gamma frozen %v, beta frozen %v", bn.Gamma.Frozen, bn.Beta.Frozen)
	}
}

// The whitening layer whitens the patches it was fitted to: the second
// moment of its first C K K outputs over them is diag(l/(l+e)), near the
// identity, the other filters are their negations, and the patch moment
// is the naive one.
func TestInitWhitening(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	in := Shape{3, 6, 5}
	n := 40
	// Correlated images: each pixel a mix of its neighbours' noise, the
	// channels of different scales.
	x := make([]float64, n*in.Size())
	noise := randSlice(rng, len(x), 1)
	for i := range x {
		x[i] = 30*noise[i] + 20*noise[(i+1)%len(x)] + 5*noise[(i+in.W)%len(x)] + float64(i%3)
	}
	c, err := NewConv[float64]("1", in, 24, 2, 1, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := InitWhitening(c, x, n); err != nil {
		t.Fatal(err)
	}
	s, count := PatchMoment(x, n, in, 2)
	if count != n*5*4 {
		t.Fatalf("%d patches, want %d", count, n*5*4)
	}
	// The naive moment: every patch of every image.
	for _, ij := range [][2]int{{0, 0}, {3, 7}, {11, 11}, {2, 9}} {
		a, b := ij[0], ij[1]
		at := func(e, d, oy, ox int) float64 {
			ch, ky, kx := d/4, d%4/2, d%2
			return x[e*in.Size()+(ch*in.H+oy+ky)*in.W+ox+kx]
		}
		want := 0.0
		for e := range n {
			for oy := range 5 {
				for ox := range 4 {
					want += at(e, a, oy, ox) * at(e, b, oy, ox)
				}
			}
		}
		want /= float64(count)
		if got := s[a*12+b]; math.Abs(got-want) > 1e-9*math.Abs(want) {
			t.Errorf("moment[%d][%d] %v, naive %v", a, b, got, want)
		}
	}
	// W S W^T over the first 12 filters.
	w := mat.NewDense(12, 12, c.W.V[:144])
	var ws, wsw mat.Dense
	sm := mat.NewSymDense(12, s)
	ws.Mul(w, sm)
	wsw.Mul(&ws, w.T())
	var eig mat.EigenSym // gonum's LAPACK as the reference for SymEigen
	eig.Factorize(sm, false)
	vals := eig.Values(nil)
	e := WhitenEps * mat.Trace(sm) / 12
	for i := range 12 {
		l := vals[11-i]
		for j := range 12 {
			want := 0.0
			if i == j {
				want = l / (l + e)
			}
			if got := wsw.At(i, j); math.Abs(got-want) > 1e-9 {
				t.Errorf("output moment[%d][%d] %v, want %v", i, j, got, want)
			}
		}
		if l/(l+e) < 0.9 {
			t.Errorf("eigenvalue %d: %v, whitened to only %v", i, l, l/(l+e))
		}
	}
	for i := range 144 {
		if c.W.V[144+i] != -c.W.V[i] {
			t.Fatalf("filter %d is not filter %d negated", 12+i/12, i/12)
		}
	}
	if err := InitWhitening(c, make([]float64, len(x)), n); err == nil {
		t.Error("images without variance whitened")
	}
	bad, _ := NewConv[float64]("1", in, 24, 2, 1, 1, true)
	if err := InitWhitening(bad, x, n); err == nil {
		t.Error("a padded convolution accepted as a whitening layer")
	}
}
