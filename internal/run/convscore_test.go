package run

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
)

// TTA's scores are the weighted mean of the scores of the six views,
// each view built here from its definition (airbench's: the image
// shifted with reflect padding, then mirrored), and the class is their
// argmax.
func TestTTAIsTheMeanOfTheViews(t *testing.T) {
	net, err := ConvNet("conv6k3-bn-gelu-maxpool2-conv8k3-relu-gavgpool-fc10")
	if err != nil {
		t.Fatal(err)
	}
	net.Init(0.1, rand.New(rand.NewPCG(1, 1)))
	for _, s := range net.Stats() { // running statistics off their defaults
		for i := range s.V {
			s.V[i] = 0.5 + float64(i%3)
		}
	}
	set := cifartest.RandomSet(7, rand.New(rand.NewPCG(2, 2)))
	mean := make([]float64, cifar.D) // zero: the views are the images'
	refl := func(i int) int {
		switch {
		case i < 0:
			return -i
		case i >= cifar.Width:
			return 2*(cifar.Width-1) - i
		}
		return i
	}
	want := make([]float64, set.N()*10)
	x := make([]float64, set.N()*cifar.D)
	weights := 0.0
	for _, v := range TTAViews {
		weights += v.W
		for e := range set.N() {
			img := set.Row(e)
			for c := range 3 {
				for y := range 32 {
					for xx := range 32 {
						sx := xx
						if v.Flip {
							sx = 31 - xx
						}
						x[e*cifar.D+(c*32+y)*32+xx] = float64(img[(c*32+refl(y-v.Dy))*32+refl(sx-v.Dx)])
					}
				}
			}
		}
		for k, s := range net.Scores(x, set.N()) {
			want[k] += v.W * s
		}
	}
	if weights != 1 {
		t.Errorf("the views' weights sum to %v", weights)
	}
	var ts ttaScorer[float64]
	got := ts.scores(net, set, 0, set.N(), mean)
	for k := range want {
		if math.Abs(got[k]-want[k]) > 1e-12*max(1, math.Abs(want[k])) {
			t.Fatalf("score %d: %v, the views' mean %v", k, got[k], want[k])
		}
	}
	pred := PredictConv(net, set, mean, "", true)
	for e := range set.N() {
		best := 0
		for j := range 10 {
			if want[e*10+j] > want[e*10+best] {
				best = j
			}
		}
		if pred[e] != uint8(best) {
			t.Errorf("image %d: class %d, the mean's argmax %d", e, pred[e], best)
		}
	}
	// Without TTA: the plain scores' classes.
	plain := PredictConv(net, set, mean, "", false)
	x = x[:0]
	for e := range set.N() {
		for _, p := range set.Row(e) {
			x = append(x, float64(p))
		}
	}
	wantPlain := make([]uint8, set.N())
	net.Predict(wantPlain, x, set.N())
	for e := range plain {
		if plain[e] != wantPlain[e] {
			t.Errorf("image %d without TTA: %d, want %d", e, plain[e], wantPlain[e])
		}
	}
}
