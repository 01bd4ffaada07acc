package model_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/floats/scalar"
	"gonum.org/v1/gonum/mat"

	"github.com/nettrain/nettrain/internal/model"
)

// deepProblem returns a net of the given sizes with random weights and
// biases, and a batch of n rows of inputs 2*N(0,1) (cs231n's toy inputs).
func deepProblem(seed uint64, n int, sizes []int, std float64) (*model.Net, []float64, []uint8) {
	rng := rand.New(rand.NewPCG(seed, 17))
	net := model.New(sizes, std, rng)
	for _, l := range net.Layers {
		for i := range l.B {
			l.B[i] = std * rng.NormFloat64()
		}
	}
	x := make([]float64, n*sizes[0])
	for i := range x {
		x[i] = 2 * rng.NormFloat64()
	}
	y := make([]uint8, n)
	for i := range y {
		y[i] = uint8(rng.IntN(sizes[len(sizes)-1]))
	}
	return net, x, y
}

// Deeper nets: the fast path against the plain reference, with and
// without dropout, one to four hidden layers, in float64 (to the last
// digits) and float32 (to float32's).
func TestDeepLossMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		sizes []int
		n     int
		drop  float64
	}{
		{[]int{6, 5, 3}, 4, 0},
		{[]int{6, 9, 7, 4}, 5, 0},
		{[]int{6, 9, 7, 4}, 5, 0.3},
		{[]int{100, 30, 20, 10, 10}, 16, 0.5},
		{[]int{3072, 13, 11, 7, 5, 10}, 7, 0.2},
	} {
		net, x, y := deepProblem(uint64(len(tc.sizes)), tc.n, tc.sizes, 0.3)
		var mask []float64
		if tc.drop > 0 {
			mask = dropoutMaskSeed(3, tc.n, model.HiddenUnits(tc.sizes), tc.drop)
		}
		grads := model.Zeros(tc.sizes...)
		ws := &model.Workspace[float64]{Dropout: mask}
		for range 2 { // a second call through the same workspace too
			loss := net.Loss(grads, ws, x, y, 0.1)
			refLoss, ref := model.LossRef(net, mat.NewDense(tc.n, tc.sizes[0], x), y, 0.1, mask, 0)
			if !scalar.EqualWithinRel(loss, refLoss, 1e-12) {
				t.Errorf("%v dropout %v: loss %v, reference %v", tc.sizes, tc.drop, loss, refLoss)
			}
			for k, g := range grads.Params() {
				r := ref.Params()[k]
				if !floats.EqualApprox(g, r, 1e-12*(floats.Norm(r, math.Inf(1))+1e-300)) {
					t.Errorf("%v dropout %v: d%s differs from the reference", tc.sizes, tc.drop, net.ParamNames()[k])
				}
			}
		}
		// float32: the same net rounded once, to float32's precision.
		raw := model.RawOf[float32](net)
		g32 := model.NewRaw[float32](tc.sizes...)
		x32 := make([]float32, len(x))
		for i, v := range x {
			x32[i] = float32(v)
		}
		var m32 []float32
		for _, v := range mask {
			m32 = append(m32, float32(v))
		}
		loss32 := raw.Loss(g32, &model.Workspace[float32]{Dropout: m32}, x32, y, 0.1)
		loss, _ := model.LossRef(net, mat.NewDense(tc.n, tc.sizes[0], x), y, 0.1, mask, 0)
		if !scalar.EqualWithinRel(loss32, loss, 1e-4) {
			t.Errorf("%v: float32 loss %v, float64 %v", tc.sizes, loss32, loss)
		}
		if tc.drop > 0 {
			if p, q := net.Predict(nil, ws, x), net.Predict(nil, nil, x); !bytes.Equal(p, q) {
				t.Errorf("%v: Predict used the dropout mask", tc.sizes)
			}
		}
	}
}

// NumGrad's differences carried up through every layer agree with plain
// centered differences of Loss on small nets, every entry of every layer,
// with dropout and regularisation.
func TestDeepNumGradMatchesLossDifferences(t *testing.T) {
	for _, sizes := range [][]int{{6, 9, 7, 4}, {5, 6, 5, 4, 3}} {
		for _, reg := range []float64{0, 0.5} {
			net, x, y := deepProblem(7, 6, sizes, 0.5)
			mask := dropoutMaskSeed(5, 6, model.HiddenUnits(sizes), 0.3)
			ws := &model.Workspace[float64]{Dropout: mask}
			num, kinks := model.NumGrad(net, x, y, reg, 1e-7, mask, 0)
			compared := checkAgainstLossDifferences(t, net, num, kinks, ws, x, y, reg)
			if total := len(slices.Concat(net.Params()...)); compared < total*95/100 {
				t.Errorf("%v: %d of %d entries compared, the rest kinks", sizes, compared, total)
			}
		}
	}
}

// gradcheck on deep nets: image-like data, seeds 0..4, with and without
// dropout, passes cs231n's 1e-7 with at most 1% of the entries at kinks.
// The biases are not zero: with zero biases, a row whose units of one
// layer all are off (or dropped) gives every unit above it a
// pre-activation of exactly 0, ReLU's kink, where no centered difference
// can be compared (NumGrad says so: TestDeepNumGradKinks).
func TestDeepGradCheckImages(t *testing.T) {
	for seed := range uint64(5) {
		for _, tc := range []struct {
			sizes []int
			std   float64
			drop  float64
		}{
			{[]int{3072, 10, 8, 10}, 0.1, 0},
			{[]int{3072, 8, 6, 5, 10}, 0.1, 0.5},
		} {
			_, x, y := imageProblem(seed, 5, 1, tc.std) // its images, and a deep net
			rng := rand.New(rand.NewPCG(seed, 5))
			net := model.New(tc.sizes, tc.std, rng)
			for _, l := range net.Layers {
				for i := range l.B {
					l.B[i] = rng.NormFloat64()
				}
			}
			var mask []float64
			if tc.drop > 0 {
				mask = dropoutMaskSeed(seed, 5, model.HiddenUnits(tc.sizes), tc.drop)
			}
			for k, pc := range model.GradCheck(net, x, y, 0.05, model.GradStep, mask, 0) {
				all := len(net.Params()[k])
				if !(pc.MaxRelErr <= 1e-7) || pc.Entries+pc.Kinks != all || pc.Kinks > all/100 {
					t.Errorf("seed %d %v: %s max relative error %.3e at %d (analytic %v, numerical %v), %d compared, %d kinks of %d",
						seed, tc.sizes, pc.Name, pc.MaxRelErr, pc.Worst, pc.Analytic, pc.Numeric, pc.Entries, pc.Kinks, all)
				}
			}
		}
	}
}

// A bug of 1e-3 relative in any one entry of any layer of a three-layer
// net fails the check at that entry.
func TestDeepGradCheckCatchesPlantedError(t *testing.T) {
	_, x, y := imageProblem(3, 5, 1, 0.1) // its images, and a deep net
	sizes := []int{3072, 4, 3, 10}
	net := model.New(sizes, 0.1, rand.New(rand.NewPCG(3, 5)))
	grads := model.Zeros(sizes...)
	net.Loss(grads, nil, x, y, 0.05)
	num, kinks := model.NumGrad(net, x, y, 0.05, model.GradStep, nil, 0)
	planted, unseen := plantErrors(t, grads, num, kinks)
	if unseen > planted/20 {
		t.Errorf("%d entries planted, %d out of reach", planted, unseen)
	}
}

// A step of W1 that moves a unit of the second hidden layer across its
// kink is set aside: the kink test looks at every layer the step reaches.
func TestDeepNumGradKinks(t *testing.T) {
	net, x, y := deepProblem(8, 3, []int{5, 4, 3, 3}, 0.5)
	// Row 0's pre-activation of unit 0 of the second hidden layer, less b2.
	a := make([]float64, 4)
	for u := range 4 {
		z := net.Layers[0].B[u]
		for j := range 5 {
			z += x[j] * net.Layers[0].W.At(j, u)
		}
		a[u] = max(z, 0)
	}
	var z float64
	for u := range 4 {
		z += a[u] * net.Layers[1].W.At(u, 0)
	}
	net.Layers[1].B[0] = -z + 1e-6
	_, kinks := model.NumGrad(net, x, y, 0.1, 1e-3, nil, 0)
	seen := 0
	for i := range 4 {
		if a[i] > 0 && kinks[1][i] { // b1[i] moves unit 0 of layer 2 by about 1e-3 W2[i, 0]
			seen++
		}
	}
	if seen == 0 {
		t.Errorf("no b1 entry marked a kink; kinks %v", kinks[1])
	}
	_, kinks = model.NumGrad(net, x, y, 0.1, 1e-12, nil, 0)
	for k := range kinks {
		if slices.Contains(kinks[k], true) {
			t.Errorf("%s has kinks at h = 1e-12", net.ParamNames()[k])
		}
	}
}

// Label smoothing: the fast path against the reference (which writes the
// targets out), NumGrad against plain differences of Loss, and gradcheck on
// image-like data, on one and two hidden layers.
func TestLabelSmoothing(t *testing.T) {
	for _, sizes := range [][]int{{6, 9, 4}, {6, 9, 7, 4}} {
		for _, eps := range []float64{0.1, 0.5} {
			net, x, y := deepProblem(9, 5, sizes, 0.5)
			grads := model.Zeros(sizes...)
			ws := &model.Workspace[float64]{Smoothing: eps}
			loss := net.Loss(grads, ws, x, y, 0.1)
			refLoss, ref := model.LossRef(net, mat.NewDense(5, sizes[0], x), y, 0.1, nil, eps)
			if !scalar.EqualWithinRel(loss, refLoss, 1e-12) {
				t.Errorf("%v eps %v: loss %v, reference %v", sizes, eps, loss, refLoss)
			}
			plain, _ := model.LossRef(net, mat.NewDense(5, sizes[0], x), y, 0.1, nil, 0)
			if loss == plain {
				t.Errorf("%v eps %v: smoothing changed nothing", sizes, eps)
			}
			for k, g := range grads.Params() {
				r := ref.Params()[k]
				if !floats.EqualApprox(g, r, 1e-12*(floats.Norm(r, math.Inf(1))+1e-300)) {
					t.Errorf("%v eps %v: d%s differs from the reference", sizes, eps, net.ParamNames()[k])
				}
			}
			num, kinks := model.NumGrad(net, x, y, 0.1, 1e-7, nil, eps)
			checkAgainstLossDifferences(t, net, num, kinks, ws, x, y, 0.1)
		}
	}
	for seed := range uint64(3) {
		_, x, y := imageProblem(seed, 5, 1, 0.1)
		net := model.New([]int{3072, 10, 8, 10}, 0.1, rand.New(rand.NewPCG(seed, 5)))
		for k, pc := range model.GradCheck(net, x, y, 0.05, model.GradStep, nil, 0.1) {
			if all := len(net.Params()[k]); !(pc.MaxRelErr <= 1e-7) || pc.Kinks > all/100 {
				t.Errorf("seed %d: %s max relative error %.3e, %d kinks of %d", seed, pc.Name, pc.MaxRelErr, pc.Kinks, all)
			}
		}
	}
}
