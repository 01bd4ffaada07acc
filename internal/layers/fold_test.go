package layers

import (
	"math/rand/v2"
	"testing"
)

// Fold gives a net with fewer layers that scores like the original in
// evaluation (within rounding), folding a batch norm after a convolution,
// an affine layer, an average pool, or a max pool where every scale is
// positive, and keeping one after a max pool with a negative scale.
func TestFold(t *testing.T) {
	in := Shape{3, 9, 9}
	for _, tc := range []struct {
		arch, want string
		negative   int // the batch norm (in layer order, from 1) given a negative gamma
	}{
		{"conv5k3-bn-relu-fc10", "conv5k3-relu-fc10", 0},
		{"conv5k3nobias-bn-gelu-conv4k3s2nobias-bn-relu-gavgpool-fc10", "conv5k3-gelu-conv4k3s2-relu-gavgpool-fc10", 1},
		{"conv6k3nobias-maxpool2-bn-gelu-fc7-bn-relu-fc10", "conv6k3-maxpool2-gelu-fc7-relu-fc10", 2},
		{"conv6k3nobias-maxpool2-bn-gelu-fc10", "conv6k3nobias-maxpool2-bn-gelu-fc10", 1},
		{"conv6k3-avgpool2-bn-relu-fc10", "conv6k3-avgpool2-relu-fc10", 1},
		{"conv6k3-relu-bn-fc10", "conv6k3-relu-bn-fc10", 0},
		{"conv6k3-relu-fc10", "conv6k3-relu-fc10", 0},
	} {
		rng := rand.New(rand.NewPCG(7, uint64(len(tc.arch))))
		a, err := ParseArch(tc.arch)
		if err != nil {
			t.Fatal(err)
		}
		n, err := Build[float64](a, in, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range n.Params() {
			copy(p.V, randSlice(rng, len(p.V), 0.5))
		}
		k := 0
		for _, l := range n.Layers {
			if b, ok := l.(*BatchNorm[float64]); ok {
				k++
				for c := range b.RunVar {
					b.Gamma.V[c] = 0.5 + rng.Float64()
					if k == tc.negative && c == 1 {
						b.Gamma.V[c] = -b.Gamma.V[c]
					}
					b.RunMean[c], b.RunVar[c] = rng.NormFloat64(), 0.1+rng.Float64()
				}
			}
		}
		f := Fold(n)
		if got := f.Arch.String(); got != tc.want {
			t.Errorf("%s folds to %s, want %s", tc.arch, got, tc.want)
		}
		if !Folds(n.Arch, f.Arch) {
			t.Errorf("Folds(%s, %s) is false", n.Arch, f.Arch)
		}
		const m = 5
		x := randSlice(rng, m*in.Size(), 1)
		want := append([]float64(nil), n.Scores(x, m)...)
		got := f.Scores(x, m)
		if bad := closeTo(got, want, 1e-12); bad >= 0 {
			t.Errorf("%s: score %d of %d differs after folding: %v, want %v", tc.arch, bad, len(want), got[:4], want[:4])
		}
	}
	for _, tc := range [][2]string{
		{"conv5k3-bn-relu-fc10", "conv5k3-relu-fc20"},
		{"conv5k3-bn-relu-fc10", "conv5k3-bn-fc10"},
		{"conv5k3nobias-relu-fc10", "conv5k3-relu-fc10"},
		{"conv5k3-bn-relu-fc10", "conv5k3-relu-bn-fc10"},
	} {
		a, _ := ParseArch(tc[0])
		b, _ := ParseArch(tc[1])
		if Folds(a, b) {
			t.Errorf("Folds(%s, %s) is true", tc[0], tc[1])
		}
	}
}
