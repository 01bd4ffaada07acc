package layers

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// The whole net's gradients, loss and L2 penalty included, against
// centered differences of Loss: every layer kind in one net (a frozen
// dropout mask), global pools, and a small cs231n-convnet. An entry whose
// step crosses a kink (ReLU's zero, a max pool's choice) is counted, not
// compared; there may be two.
func TestNetGradients(t *testing.T) {
	for _, c := range []struct {
		arch string
		in   Shape
	}{
		{"conv4k3-bn-relu-maxpool2-conv5k3s2p1nobias-gelu-avgpool2-bn-dropout0.3-fc6-relu-fc3-scale1/9", Shape{2, 10, 10}},
		{"conv6k3-gelu-gavgpool-fc3", Shape{3, 6, 6}},
		{"conv6k3-relu-gmaxpool-flatten-fc3nobias", Shape{3, 6, 6}},
		{"conv8k7-relu-maxpool2-fc10-relu-fc3", Shape{3, 8, 8}},
	} {
		a, err := ParseArch(c.arch)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		net, err := Build[float64](a, c.in, 3, rng)
		if err != nil {
			t.Fatal(err)
		}
		net.Init(0.5, rng)
		for _, p := range net.Params() {
			if !p.Decay {
				for i := range p.V {
					p.V[i] += 0.1 * rng.NormFloat64()
				}
			}
		}
		const m = 4
		x := randSlice(rng, m*c.in.Size(), 1)
		y := []uint8{0, 2, 1, 2}
		const reg = 0.1
		net.Loss(x, y, reg) // draws the dropout mask, then keeps it
		for _, l := range net.Layers {
			if d, ok := l.(*Dropout[float64]); ok {
				d.Frozen = true
			}
		}
		net.Loss(x, y, reg)
		grads := make([][]float64, 0)
		for _, p := range net.Params() {
			grads = append(grads, slices.Clone(p.G))
		}
		worst, kinks := 0.0, 0
		const h = 1e-5
		for k, p := range net.Params() {
			step := max(1, len(p.V)/25)
			for i := 0; i < len(p.V); i += step {
				old := p.V[i]
				p.V[i] = old + h
				fp := net.Loss(x, y, reg)
				p.V[i] = old - h
				fm := net.Loss(x, y, reg)
				p.V[i] = old
				num := (fp - fm) / (2 * h)
				e := relErr(grads[k][i], num)
				if e > 1e-5 {
					kinks++ // a step across ReLU's or a max pool's kink; counted, not compared
					continue
				}
				worst = max(worst, e)
			}
		}
		t.Logf("%s: largest relative error %.2e, %d entries at kinks", c.arch, worst, kinks)
		// A difference of two losses near 1 loses about 1e-11 to round-off,
		// 1e-7 of the smallest gradients here: the bar is 1e-6, a thousand
		// times under a planted error of 1e-3.
		if worst > 1e-6 || kinks > 2 {
			t.Errorf("%s: largest relative error %.2e, %d entries over 1e-5", c.arch, worst, kinks)
		}
	}
}

// With every parameter of the first layers frozen (a whitening layer
// once its bias stops training), Refreeze stops backward before them: the
// trainable parameters' gradients and the loss are the same bits as with
// nothing frozen, the frozen layers get no gradient, and the first
// trainable convolution skips its input's gradient. Unfrozen, the net
// computes every gradient again.
func TestRefreeze(t *testing.T) {
	a, err := ParseArch("conv6k2-gelu-conv4k3nobias-bnnoscale-gelu-maxpool2-fc3")
	if err != nil {
		t.Fatal(err)
	}
	in := Shape{3, 7, 7}
	build := func() *Net[float64] {
		rng := rand.New(rand.NewPCG(5, 6))
		net, err := Build[float64](a, in, 3, rng)
		if err != nil {
			t.Fatal(err)
		}
		net.Init(0.5, rng)
		return net
	}
	all, frozen := build(), build()
	rng := rand.New(rand.NewPCG(7, 8))
	const m = 5
	x := randSlice(rng, m*in.Size(), 1)
	y := []uint8{0, 2, 1, 2, 1}
	first := frozen.Layers[0].(*Conv[float64])
	first.W.Frozen, first.B.Frozen = true, true
	frozen.Refreeze()
	for _, p := range first.Params() {
		for i := range p.G {
			p.G[i] = math.NaN()
		}
	}
	if la, lf := all.Loss(x, y, 0.1), frozen.Loss(x, y, 0.1); la != lf {
		t.Errorf("loss %v, frozen %v", la, lf)
	}
	pa, pf := all.Params(), frozen.Params()
	for i := 2; i < len(pa); i++ {
		if !slices.Equal(pa[i].G, pf[i].G) {
			t.Errorf("%s: gradient %v, with the first layer frozen %v", pa[i].Name, pa[i].G[:3], pf[i].G[:3])
		}
	}
	if !math.IsNaN(first.B.G[0]) || !math.IsNaN(first.W.G[0]) {
		t.Errorf("the frozen layer got gradients %v %v", first.W.G[:2], first.B.G)
	}
	if !frozen.Layers[2].(*Conv[float64]).NoInputGrad || all.Layers[2].(*Conv[float64]).NoInputGrad {
		t.Error("the first trainable convolution computes its input's gradient, or the unfrozen net's skips it")
	}
	first.W.Frozen, first.B.Frozen = false, false
	frozen.Refreeze()
	frozen.Loss(x, y, 0.1)
	for i := range pa {
		if !slices.Equal(pa[i].G, pf[i].G) {
			t.Errorf("unfrozen again: %s's gradient differs", pa[i].Name)
		}
	}
}
