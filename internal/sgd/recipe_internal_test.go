package sgd

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
	"github.com/nettrain/nettrain/internal/layers"
	"github.com/nettrain/nettrain/internal/preprocess"
)

// The triangle schedule is airbench's np.interp over [0, int(0.23 T), T]
// of [0.2, 1, 0.07], at step it-1.
func TestTriangle(t *testing.T) {
	c := Config{LR: 2, Iters: 476}
	peak := 109 // int(0.23 * 476)
	interp := func(x float64) float64 {
		if x <= float64(peak) {
			return 0.2 + (1-0.2)*x/float64(peak)
		}
		return 1 + (0.07-1)*(x-float64(peak))/float64(476-peak)
	}
	for _, it := range []int{1, 2, 50, peak, peak + 1, peak + 2, 300, 476, 477} {
		want := 2 * interp(float64(it-1))
		if got := triangleLR(c, it); math.Abs(got-want) > 1e-14 {
			t.Errorf("iteration %d: %v, want %v", it, got, want)
		}
	}
	if triangleLR(c, 1) != 0.4 || triangleLR(c, peak+1) != 2 || math.Abs(triangleLR(c, 477)-0.14) > 1e-15 {
		t.Errorf("ends: %v %v %v", triangleLR(c, 1), triangleLR(c, peak+1), triangleLR(c, 477))
	}
	short := Config{LR: 1, Iters: 3} // the peak at step 0
	if triangleLR(short, 1) != 1 || math.Abs(triangleLR(short, 3)-(1+(0.07-1)*2/3)) > 1e-15 {
		t.Errorf("3 iterations: %v %v", triangleLR(short, 1), triangleLR(short, 3))
	}
}

// With Shuffle each epoch takes every image at most once, and the whole
// set but the remainder; with AlternateFlip each image is mirrored in
// exactly every other epoch, its first flip a fair coin over the images.
func TestShuffleAndAlternateFlip(t *testing.T) {
	n, batch := 103, 10
	data := preprocess.Data{Train: cifartest.RandomSet(n, rand.New(rand.NewPCG(1, 1)))}
	data.Mean = cifar.Mean(data.Train)
	c := Config{Batch: batch, Seed: 7, Shuffle: true, Flip: true, AlternateFlip: true}
	epochLen := EpochLen(n, batch)
	dr := newDrawer[float32](c, cifar.D, epochLen)
	mb := &minibatch[float32]{x: make([]float32, batch*cifar.D), y: make([]uint8, batch)}
	const epochs = 5
	flips := make([][]int, n) // per image, per epoch: -1 unseen, 0 or 1
	for i := range flips {
		flips[i] = slices.Repeat([]int{-1}, epochs)
	}
	firstEpochs := [epochs][]int{}
	for it := 1; it <= epochs*epochLen; it++ {
		dr.draw(mb, it, data, nil)
		e := (it - 1) / epochLen
		for r, i := range dr.idx {
			if flips[i][e] != -1 {
				t.Fatalf("epoch %d: image %d drawn twice", e, i)
			}
			f := 0
			if dr.flip[r] {
				f = 1
			}
			flips[i][e] = f
			firstEpochs[e] = append(firstEpochs[e], i)
			// The row is the image, mirrored where flip says.
			want := data.Train.Row(i)
			j := 37
			if dr.flip[r] {
				j = cifar.Mirror(j)
			}
			if got := mb.x[r*cifar.D+37]; got != float32(float64(want[j])-data.Mean[37]) {
				t.Fatalf("iteration %d row %d: pixel %v, image %d's %v", it, r, got, i, want[j])
			}
		}
	}
	seenAll, first := 0, 0
	for i, f := range flips {
		seen := 0
		for e := range epochs {
			if f[e] < 0 {
				continue
			}
			seen++
			if want := f0(c.Seed, i) ^ e%2; f[e] != want {
				t.Fatalf("image %d epoch %d: flip %d, want %d", i, e, f[e], want)
			}
		}
		if seen == epochs {
			seenAll++
		}
		first += f0(c.Seed, i)
	}
	if seenAll < n-3*epochs {
		t.Errorf("only %d of %d images in every epoch", seenAll, n)
	}
	if first < n/4 || first > 3*n/4 {
		t.Errorf("%d of %d images flipped first: not a coin", first, n)
	}
	if slices.Equal(firstEpochs[0], firstEpochs[1]) {
		t.Error("epochs 1 and 2 in the same order")
	}
}

func f0(seed uint64, i int) int {
	if FirstFlip(seed, i) {
		return 1
	}
	return 0
}

// fakeArrays is a learner whose arrays are given; lookahead uses nothing
// else.
type fakeArrays struct {
	learner[float64]
	a []layers.Array[float64]
}

func (f fakeArrays) arrays() []layers.Array[float64] { return f.a }

// The lookahead is its definition: nothing in the first 30% of the run,
// then every k iterations avg = avg + (1-rho)(net - avg), net = avg, with
// rho = 0.95^k (it/T)^3, its first update a copy; settle puts the average
// back.
func TestLookaheadIsItsDefinition(t *testing.T) {
	const iters, k = 40, 3
	rng := rand.New(rand.NewPCG(2, 2))
	net := []layers.Array[float64]{{Name: "W1", V: make([]float64, 5)}, {Name: "running_mean1", V: make([]float64, 2)}}
	l := &loop[float64]{c: Config{Iters: iters, Lookahead: k}, net: fakeArrays{a: net}}
	var avg [][]float64
	for it := 1; it <= iters; it++ {
		for _, a := range net { // a training step moves the weights
			for j := range a.V {
				a.V[j] += rng.NormFloat64()
			}
		}
		before := [][]float64{slices.Clone(net[0].V), slices.Clone(net[1].V)}
		l.lookahead(it)
		switch {
		case it%k != 0 || float64(it) <= 0.3*iters:
			if !slices.Equal(net[0].V, before[0]) || l.avg != nil && avg == nil {
				t.Fatalf("iteration %d: the lookahead acted", it)
			}
		case avg == nil:
			avg = before
			if l.avg == nil || !slices.Equal(l.avg[0].V, before[0]) || !slices.Equal(net[0].V, before[0]) {
				t.Fatalf("iteration %d: the first update is not a copy", it)
			}
		default:
			rho := math.Pow(0.95, k) * math.Pow(float64(it)/iters, 3)
			for a := range avg {
				for j := range avg[a] {
					avg[a][j] += (1 - rho) * (before[a][j] - avg[a][j])
					if net[a].V[j] != avg[a][j] || l.avg[a].V[j] != avg[a][j] {
						t.Fatalf("iteration %d: %s[%d] %v, average %v, want %v", it, net[a].Name, j, net[a].V[j], l.avg[a].V[j], avg[a][j])
					}
				}
			}
		}
	}
	net[0].V[0] += 1
	l.settle()
	if net[0].V[0] != avg[0][0] {
		t.Error("settle did not put the average back")
	}
	// The average resumes from the slots.
	slots := map[string][]float64{}
	l.saveAverage(slots)
	l2 := &loop[float64]{c: l.c, net: l.net}
	if err := l2.loadAverage(slots); err != nil || !slices.Equal(l2.avg[1].V, l.avg[1].V) {
		t.Fatalf("loadAverage: %v", err)
	}
	delete(slots, "avg.W1")
	if err := l2.loadAverage(slots); err == nil {
		t.Error("a partial average accepted")
	}
}

// lrScales: bnnoscale's gamma and a whitening layer's filters are never
// updated, batch norm's betas at BiasLR times the rate, the whitening
// bias for WhitenBiasEpochs epochs, then marked Frozen, so that backward
// stops after the whitening layer and the next convolution skips its input
// gradient; an MLP-like net without any gives nil.
func TestLRScales(t *testing.T) {
	a, err := layers.ParseArch("conv24k2-gelu-conv8k3nobias-bnnoscale-gelu-gavgpool-fc10nobias")
	if err != nil {
		t.Fatal(err)
	}
	net, err := layers.Build[float64](a, layers.Shape{C: 3, H: 32, W: 32}, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := newConv[float32](net, Config{Whiten: true, WhitenBiasEpochs: 2, BiasLR: 64})
	var names []string
	for _, p := range v.net.Params() {
		names = append(names, p.Name)
	}
	// W1 b1 W2 gamma2 beta2 W3
	on, off := []float64{0, 1, 1, 0, 64, 1}, []float64{0, 0, 1, 0, 64, 1}
	for _, c := range []struct {
		epoch int
		want  []float64
	}{{0, on}, {1, on}, {2, off}, {9, off}, {1, on}} {
		if got := v.lrScales(1, c.epoch); !slices.Equal(got, c.want) {
			t.Errorf("epoch %d: %v of %v, want %v", c.epoch, got, names, c.want)
		}
		frozen := c.epoch >= 2
		if b := v.net.Params()[1]; b.Frozen != frozen || v.net.Layers[2].(*layers.Conv[float32]).NoInputGrad != frozen {
			t.Errorf("epoch %d: the whitening bias frozen %v, the next conv without its input gradient %v, want both %v",
				c.epoch, b.Frozen, v.net.Layers[2].(*layers.Conv[float32]).NoInputGrad, frozen)
		}
	}
	if w1 := v.net.Params()[0]; !w1.Frozen || w1.Decay {
		t.Error("the whitening filters are trained or decayed")
	}
	if p := newConv[float32](mustBuild(t, "conv4k3-bn-relu-gavgpool-fc10"), Config{}); p.lrScales(1, 0) != nil {
		t.Error("scales for a net that needs none")
	}
}

func mustBuild(t *testing.T, arch string) *layers.Net[float64] {
	a, err := layers.ParseArch(arch)
	if err != nil {
		t.Fatal(err)
	}
	net, err := layers.Build[float64](a, layers.Shape{C: 3, H: 32, W: 32}, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	return net
}
