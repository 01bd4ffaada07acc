package model_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/nettrain/nettrain/internal/model"
)

func TestRelErr(t *testing.T) {
	for _, tc := range []struct{ a, b, floor, want float64 }{
		{1, 1, 1e-8, 0},
		{1, 3, 1e-8, 0.5},
		{-1, 1, 1e-8, 1},
		{0, 1e-12, 1e-8, 1e-4}, // the floor: two near-zero gradients agree
		{0, 0, 1e-8, 0},
		{0, 0, 0, 0}, // no 0/0
		{1e-300, 3e-300, 0, 0.5},
		{math.NaN(), 1, 1e-8, math.NaN()},
	} {
		got := model.RelErr(tc.a, tc.b, tc.floor)
		if math.IsNaN(tc.want) && !math.IsNaN(got) || !math.IsNaN(tc.want) && !scalar.EqualWithinAbs(got, tc.want, 1e-15) {
			t.Errorf("RelErr(%v, %v, %v) = %v, want %v", tc.a, tc.b, tc.floor, got, tc.want)
		}
	}
}

// imageProblem is the gradient check of `nettrain gradcheck --data`: N
// images of D = 3072 byte pixels less a mean image, C = 10 classes, weights
// std * N(0,1). Pixels close to the mean make W1 gradients 1e-6 of the loss
// and smaller, where centered differences of the loss itself lose most of
// their digits (max relative errors 1e-5..1e-2 over seeds 0..9 with the
// real images and h = 1e-5).
func imageProblem(seed uint64, n, h int, std float64) (*model.Net, []float64, []uint8) {
	const d, c = 3072, 10
	rng := rand.New(rand.NewPCG(seed, 99))
	mean := make([]float64, d)
	for j := range mean {
		mean[j] = 100 + 40*rng.Float64()
	}
	x := make([]float64, n*d)
	for i := range n {
		base := 60 + 120*rng.Float64() // brightness of the image
		for j := range d {
			p := math.Round(min(255, max(0, base+50*rng.NormFloat64())))
			x[i*d+j] = p - mean[j]
		}
	}
	y := make([]uint8, n)
	for i := range y {
		y[i] = uint8(rng.IntN(c))
	}
	return model.New([]int{d, h, c}, std, rng), x, y
}

// The check's own promise: correct gradients pass at cs231n's 1e-7 on
// image-like data for every seed 0..9, with and without regularisation and
// dropout, and with few entries set aside as kinks.
func TestGradCheckImages(t *testing.T) {
	for seed := range uint64(10) {
		for _, tc := range []struct {
			n, h     int
			std, reg float64
			drop     float64
		}{
			{5, 10, 0.1, 0.05, 0}, // gradcheck --data's defaults
			{5, 10, 1e-3, 0.05, 0},
			{20, 8, 1e-3, 0, 0.5},
		} {
			net, x, y := imageProblem(seed, tc.n, tc.h, tc.std)
			var mask []float64
			if tc.drop > 0 {
				mask = dropoutMaskSeed(seed, tc.n, tc.h, tc.drop)
			}
			for _, pc := range model.GradCheck(net, x, y, tc.reg, model.GradStep, mask, 0) {
				all := map[string]int{"W1": 3072 * tc.h, "b1": tc.h, "W2": tc.h * 10, "b2": 10}[pc.Name]
				if !(pc.MaxRelErr <= 1e-7) || pc.Entries+pc.Kinks != all || pc.Kinks > all/100 {
					t.Errorf("seed %d %+v: %s max relative error %.3e at %d (analytic %v, numerical %v), %d compared, %d kinks of %d",
						seed, tc, pc.Name, pc.MaxRelErr, pc.Worst, pc.Analytic, pc.Numeric, pc.Entries, pc.Kinks, all)
				}
			}
		}
	}
}

func dropoutMaskSeed(seed uint64, n, h int, p float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 3))
	m := make([]float64, n*h)
	for i := range m {
		if rng.Float64() >= p {
			m[i] = 1 / (1 - p)
		}
	}
	return m
}

// A bug of 1e-3 relative in any one gradient entry fails the check: every
// entry of every parameter is planted in turn, both ways, on image-like
// data, except the ones the check cannot see by design (kinks, and entries
// below RelFloor times the largest of their parameter, exact zeros among
// them: dead units).
func TestGradCheckCatchesPlantedError(t *testing.T) {
	seeds := []uint64{7, 0}
	if testing.Short() {
		seeds = seeds[:1]
	}
	for _, seed := range seeds {
		net, x, y := imageProblem(seed, 5, 4, 0.1)
		grads := model.Zeros(3072, 4, 10)
		net.Loss(grads, nil, x, y, 0.05)
		num, kinks := model.NumGrad(net, x, y, 0.05, model.GradStep, nil, 0)
		for _, pc := range model.CompareGrads(grads, num, kinks) {
			if !(pc.MaxRelErr <= 1e-7) {
				t.Fatalf("seed %d: %s fails unplanted: %+v", seed, pc.Name, pc)
			}
		}
		planted, unseen := plantErrors(t, grads, num, kinks)
		if unseen > planted/20 {
			t.Errorf("seed %d: %d entries planted, %d out of reach", seed, planted, unseen)
		}
		t.Logf("seed %d: %d entries planted, %d out of reach (kinks, dead units, round-off)", seed, planted, unseen)
	}
}

// plantErrors plants an error of 1e-3 relative, both ways, in every entry
// of the analytic gradients in turn that the check can see (not at a kink,
// and above 1e-11 of its parameter's largest: detectable when
// 1e-3|g| / max(2|g|, RelFloor*big) > 1e-7), and fails t unless
// CompareGrads reports each at its entry. It returns the entries planted
// and those out of reach.
func plantErrors(t *testing.T, grads, num *model.Net, kinks [][]bool) (planted, unseen int) {
	t.Helper()
	for k, g := range grads.Params() {
		var big float64
		for _, v := range g {
			big = max(big, math.Abs(v))
		}
		for i, v := range g {
			if kinks[k][i] || math.Abs(v) <= 1e-11*big { // <=: an exact 0 of a parameter all 0 too
				unseen++
				continue
			}
			for _, f := range []float64{1 + 1e-3, 1 - 1e-3} {
				g[i] = v * f
				if pc := model.CompareGrads(grads, num, kinks)[k]; pc.MaxRelErr <= 1e-7 || pc.Worst != i {
					t.Errorf("%s[%d] = %v planted %v: max relative error %.3e at %d, want > 1e-7 at %d",
						pc.Name, i, v, g[i], pc.MaxRelErr, pc.Worst, i)
				}
				g[i] = v
			}
			planted++
		}
	}
	return planted, unseen
}

// NumGrad's differences carried through the net agree with the plain
// centered differences of Loss on the toy problem, where those are
// accurate: the two ways of computing f(p+h) - f(p) agree, so NumGrad
// differentiates the loss that Loss computes.
func TestNumGradMatchesLossDifferences(t *testing.T) {
	for _, reg := range []float64{0, 0.5} {
		net, x, y := randomProblem(5, 6, 7, 9, 4, 0.3)
		for i := range x {
			x[i] /= 30 // 2*N(0,1), as cs231n's toy inputs
		}
		mask := dropoutMaskSeed(5, 6, 9, 0.3)
		ws := &model.Workspace[float64]{Dropout: mask}
		num, kinks := model.NumGrad(net, x, y, reg, 1e-7, mask, 0)
		for k := range kinks {
			for i, kink := range kinks[k] {
				if kink {
					t.Fatalf("%s[%d] at a kink", net.ParamNames()[k], i)
				}
			}
		}
		checkAgainstLossDifferences(t, net, num, kinks, ws, x, y, reg)
	}
}

// A step across a ReLU kink is set aside, not compared: with b1[0] so
// that row 0's first hidden unit sits just above zero, the centered
// difference of b1[0] over h = 1e-3 would average the slopes on either
// side, half the analytic gradient.
func TestNumGradKinks(t *testing.T) {
	net, x, y := randomProblem(8, 3, 5, 4, 3, 0.5)
	var z float64 // row 0's pre-activation of unit 0, without b1
	for j := range 5 {
		z += x[j] * net.Layers[0].W.At(j, 0)
	}
	net.Layers[0].B[0] = -z + 1e-4
	_, kinks := model.NumGrad(net, x, y, 0.1, 1e-3, nil, 0)
	if !kinks[1][0] {
		t.Errorf("b1[0] not marked a kink")
	}
	pc := model.GradCheck(net, x, y, 0.1, 1e-3, nil, 0)
	if pc[1].Kinks < 1 || pc[1].Entries+pc[1].Kinks != 4 {
		t.Errorf("b1: %d compared, %d kinks, want b1[0] among the kinks", pc[1].Entries, pc[1].Kinks)
	}
	// With a step that stays on one side, b1[0] is compared and agrees.
	_, kinks = model.NumGrad(net, x, y, 0.1, 1e-6, nil, 0)
	if kinks[1][0] {
		t.Errorf("b1[0] marked a kink for h = 1e-6")
	}
	for _, pc := range model.GradCheck(net, x, y, 0.1, 1e-6, nil, 0) {
		if !(pc.MaxRelErr <= 1e-7) {
			t.Errorf("h = 1e-6: %s max relative error %.3e", pc.Name, pc.MaxRelErr)
		}
	}
}

// A NaN gradient is the worst error, whatever else the parameter holds.
func TestCompareGradsNaN(t *testing.T) {
	net, x, y := randomProblem(2, 4, 5, 3, 3, 0.5)
	grads := model.Zeros(5, 3, 3)
	net.Loss(grads, nil, x, y, 0.1)
	num, kinks := model.NumGrad(net, x, y, 0.1, 1e-7, nil, 0)
	grads.Layers[1].B[1] = math.NaN()
	pc := model.CompareGrads(grads, num, kinks)[3]
	if !math.IsNaN(pc.MaxRelErr) || pc.Worst != 1 {
		t.Errorf("b2 with a NaN: max relative error %v at %d, want NaN at 1", pc.MaxRelErr, pc.Worst)
	}
}

// checkAgainstLossDifferences fails t unless every entry of num not marked
// in kinks agrees with the plain centered difference of Loss (through ws,
// so with its dropout and smoothing) over h = 1e-5, to 1e-8; it returns the
// entries compared.
func checkAgainstLossDifferences(t *testing.T, net, num *model.Net, kinks [][]bool, ws *model.Workspace[float64], x []float64, y []uint8, reg float64) int {
	t.Helper()
	compared := 0
	for k, p := range net.Params() {
		for i := range p {
			if kinks[k][i] {
				continue
			}
			const h = 1e-5
			old := p[i]
			p[i] = old + h
			fp := net.Loss(nil, ws, x, y, reg)
			p[i] = old - h
			fm := net.Loss(nil, ws, x, y, reg)
			p[i] = old
			if got, want := num.Params()[k][i], (fp-fm)/(2*h); math.Abs(got-want) > 1e-8*math.Max(1, math.Abs(want)) {
				t.Errorf("%v reg %v: %s[%d]: NumGrad %v, Loss differences %v", net.Sizes(), reg, net.ParamNames()[k], i, got, want)
			}
			compared++
		}
	}
	return compared
}
