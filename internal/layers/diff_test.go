package layers

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// diffNet is a net of arch on inputs of shape in, its weights std N(0,1)
// and its other parameters near their start, with every dropout mask
// frozen after a first pass, and x, y a batch of m: toy inputs 10 N(0,1),
// or image-like ones (0..255 minus 128).
func diffNet(t *testing.T, arch string, in Shape, m int, std float64, images bool, seed uint64) (*Net[float64], []float64, []uint8) {
	t.Helper()
	a, err := ParseArch(arch)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 5))
	net, err := Build[float64](a, in, 10, rng)
	if err != nil {
		t.Fatal(err)
	}
	net.Init(std, rng)
	for _, p := range net.Params() {
		if !p.Decay {
			for i := range p.V {
				p.V[i] += 0.1 * rng.NormFloat64()
			}
		}
	}
	x := make([]float64, m*in.Size())
	for i := range x {
		if images {
			x[i] = float64(rng.IntN(256)) - 128
		} else {
			x[i] = 10 * rng.NormFloat64()
		}
	}
	y := make([]uint8, m)
	for i := range y {
		y[i] = uint8(rng.IntN(10))
	}
	net.Loss(x, y, 0)
	for _, l := range net.Layers {
		if d, ok := l.(*Dropout[float64]); ok {
			d.Frozen = true
		}
	}
	return net, x, y
}

// NumGrad's differences match the analytic gradients of every parameter
// entry to 1e-7 relative (floored at 1e-8 of the net's largest gradient),
// for every layer kind, on toy and
// on image-like inputs where the difference of two losses loses most of
// its digits; a step across a kink is reported, not compared.
func TestNumGradMatchesBackward(t *testing.T) {
	for _, c := range []struct {
		arch   string
		in     Shape
		std    float64
		images bool
	}{
		{"conv4k3-bn-relu-maxpool2-conv5k3s2p1nobias-gelu-avgpool2-bn-dropout0.3-fc6-relu-fc10-scale1/9", Shape{3, 10, 10}, 0.3, false},
		{"conv6k3-gelu-gavgpool-fc10", Shape{3, 8, 8}, 0.3, false},
		{"conv6k3-relu-gmaxpool-flatten-fc10nobias", Shape{3, 8, 8}, 0.3, false},
		{"conv8k5-relu-maxpool2-fc12-relu-fc10", Shape{3, 12, 12}, 1e-3, true},
		{"conv6k3nobias-maxpool2-bn-gelu-conv6k3nobias-bn-gelu-maxpool3-fc10nobias-scale1/9", Shape{3, 12, 12}, 1e-2, true},
	} {
		net, x, y := diffNet(t, c.arch, c.in, 4, c.std, c.images, 1)
		const reg, step = 0.05, 1e-9
		net.Loss(x, y, reg)
		d := NewDiffer(net, x, y, reg)
		worst, kinks, checked := 0.0, 0, 0
		top := 0.0 // the largest gradient of the net: below 1e-8 of it is round-off (a conv's bias before batch norm has 0)
		for _, par := range net.Params() {
			for _, v := range par.G {
				top = max(top, math.Abs(v))
			}
		}
		missed := 0 // entries where a planted error would pass
		for p, par := range net.Params() {
			grad := slices.Clone(par.G)
			for i := range par.V {
				num, kink := d.NumGrad(p, i, step)
				if kink {
					kinks++
					continue
				}
				checked++
				// An analytic gradient off by 1e-3 relative, either way, in
				// any entry that is not round-off, must stand out.
				for _, f := range []float64{1 + 1e-3, 1 - 1e-3} {
					bad := grad[i] * f
					if e := math.Abs(num-bad) / max(math.Abs(num)+math.Abs(bad), 1e-8*top); e <= 1e-7 && math.Abs(grad[i]) > 1e-8*top {
						missed++
						if missed <= 3 {
							t.Errorf("%s: %s[%d]: a planted error of 1e-3 gives a relative error of only %.2e", c.arch, par.Name, i, e)
						}
					}
				}
				e := math.Abs(num-grad[i]) / max(math.Abs(num)+math.Abs(grad[i]), 1e-8*top)
				if e > worst {
					worst = e
					if e > 1e-7 {
						t.Errorf("%s: %s[%d]: analytic %.12g, numerical %.12g (rel %.2e)", c.arch, par.Name, i, grad[i], num, e)
					}
				}
			}
		}
		t.Logf("%s: %d entries, largest relative error %.2e, %d kinks, a planted 1e-3 error caught in every entry (missed %d)", c.arch, checked, worst, kinks, missed)
	}
}
