package model_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/nettrain/nettrain/internal/model"
)

var norms = []model.Norm{model.BatchNorm, model.LayerNorm}

// normProblem is a net with a Norm whose every parameter and running
// statistic is away from its initial value (gamma 1, beta 0, biases 0), so
// that a term dropped from any of them shows, and a batch.
func normProblem(seed uint64, norm model.Norm, sizes []int, n int) (*model.Net, []float64, []uint8) {
	rng := rand.New(rand.NewPCG(seed, 17))
	net := model.NewNorm(norm, sizes, 0.3, rng)
	for _, l := range net.Layers {
		for i := range l.B {
			l.B[i] = 0.5 * rng.NormFloat64()
		}
		for i := range l.Gamma {
			l.Gamma[i] = 1 + 0.5*rng.NormFloat64()
			l.Beta[i] = 0.5 * rng.NormFloat64()
		}
		for i := range l.RunMean {
			l.RunMean[i] = rng.NormFloat64()
			l.RunVar[i] = 0.5 + rng.Float64()
		}
	}
	x := make([]float64, n*sizes[0])
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	y := make([]uint8, n)
	for i := range y {
		y[i] = uint8(rng.IntN(sizes[len(sizes)-1]))
	}
	return net, x, y
}

// The fast path against the reference (cs231n's staged batchnorm_backward,
// layer norm as batch norm on the transpose), every depth, with dropout and
// label smoothing, in float64 and float32.
func TestNormLossMatchesReference(t *testing.T) {
	for _, norm := range norms {
		for _, sizes := range [][]int{{6, 7, 4}, {6, 9, 5, 4}, {5, 6, 7, 5, 3}} {
			for _, tc := range []struct {
				drop, smoothing, reg float64
			}{{0, 0, 0}, {0.4, 0, 0.2}, {0, 0.1, 0.05}} {
				net, x, y := normProblem(uint64(len(sizes)), norm, sizes, 8)
				var mask []float64
				if tc.drop > 0 {
					mask = dropoutMaskSeed(5, 8, model.HiddenUnits(sizes), tc.drop)
				}
				refLoss, ref := model.LossRef(net, mat.NewDense(8, sizes[0], x), y, tc.reg, mask, tc.smoothing)
				grads := model.ZerosNorm(norm, sizes...)
				ws := &model.Workspace[float64]{Dropout: mask, Smoothing: tc.smoothing}
				loss := net.Loss(grads, ws, x, y, tc.reg)
				if math.Abs(loss-refLoss) > 1e-12*refLoss {
					t.Errorf("%s %v %+v: loss %v, reference %v", norm, sizes, tc, loss, refLoss)
				}
				names := net.ParamNames()
				for k, g := range grads.Params() {
					r := ref.Params()[k]
					if zeroBias(net, k) {
						// Batch norm takes b's every change away with the
						// batch mean: the fast path says 0 exactly, the
						// reference a sum that rounds to near 0.
						if floats.Norm(g, math.Inf(1)) != 0 || floats.Norm(r, math.Inf(1)) > 1e-14 {
							t.Errorf("%s %v %+v: d%s = %v, reference %v, want 0", norm, sizes, tc, names[k], g, r)
						}
						continue
					}
					if !floats.EqualApprox(g, r, 1e-11*(floats.Norm(r, math.Inf(1))+1e-300)) {
						t.Errorf("%s %v %+v: d%s = %v, reference %v", norm, sizes, tc, names[k], g, r)
					}
				}

				// float32: the same arithmetic rounded to 24 bits.
				r32 := model.RawOf[float32](net)
				g32 := model.NewRawNorm[float32](norm, sizes...)
				x32 := make([]float32, len(x))
				for i, v := range x {
					x32[i] = float32(v)
				}
				var m32 []float32
				for _, v := range mask {
					m32 = append(m32, float32(v))
				}
				loss32 := r32.Loss(g32, &model.Workspace[float32]{Dropout: m32, Smoothing: tc.smoothing}, x32, y, tc.reg)
				if math.Abs(loss32-refLoss) > 1e-5*refLoss {
					t.Errorf("%s %v %+v: float32 loss %v, reference %v", norm, sizes, tc, loss32, refLoss)
				}
				for k, g := range g32.Params() {
					r := ref.Params()[k]
					if zeroBias(net, k) {
						continue
					}
					scale := floats.Norm(r, math.Inf(1))
					for i, v := range g {
						if math.Abs(float64(v)-r[i]) > 1e-4*scale {
							t.Errorf("%s %v %+v: float32 d%s[%d] = %v, reference %v", norm, sizes, tc, names[k], i, v, r[i])
							break
						}
					}
				}
			}
		}
	}
}

// NumGrad's matrix differences through the normalisation agree with plain
// centered differences of Loss for every entry, gamma and beta included.
func TestNormNumGradMatchesLossDifferences(t *testing.T) {
	for _, norm := range norms {
		for _, sizes := range [][]int{{5, 6, 4}, {5, 6, 5, 3}} {
			net, x, y := normProblem(3, norm, sizes, 7)
			mask := dropoutMaskSeed(2, 7, model.HiddenUnits(sizes), 0.3)
			ws := &model.Workspace[float64]{Dropout: mask, Smoothing: 0.1}
			num, kinks := model.NumGrad(net, x, y, 0.1, 1e-7, mask, 0.1)
			if n := checkAgainstLossDifferences(t, net, num, kinks, ws, x, y, 0.1); n < len(slices.Concat(net.Params()...))*9/10 {
				t.Errorf("%s %v: only %d entries compared", norm, sizes, n)
			}
		}
	}
}

// zeroBias reports whether parameter k of net is a hidden layer's b under
// batch norm, whose gradient is 0.
func zeroBias(net *model.Net, k int) bool {
	name := net.ParamNames()[k]
	return net.Norm == model.BatchNorm && name[0] == 'b' && name != "b"+strconv.Itoa(len(net.Layers)) && !strings.HasPrefix(name, "beta")
}

// gradcheck's promise holds with normalisation: every parameter within
// cs231n's 1e-7 on image-like data, one and two hidden layers, with
// dropout; and an error of 1e-3 in any entry that the check can see fails.
func TestNormGradCheckImages(t *testing.T) {
	for _, norm := range norms {
		for seed := range uint64(3) {
			for _, tc := range []struct {
				hidden []int
				drop   float64
			}{{[]int{8}, 0}, {[]int{6, 5}, 0.3}} {
				sizes := append(append([]int{3072}, tc.hidden...), 10)
				_, x, y := imageProblem(seed, 6, 4, 0.01)
				net := model.NewNorm(norm, sizes, 1e-3, rand.New(rand.NewPCG(seed, 1)))
				var mask []float64
				if tc.drop > 0 {
					mask = dropoutMaskSeed(seed, 6, model.HiddenUnits(sizes), tc.drop)
				}
				grads := model.ZerosNorm(norm, sizes...)
				net.Loss(grads, &model.Workspace[float64]{Dropout: mask}, x, y, 0.05)
				num, kinks := model.NumGrad(net, x, y, 0.05, model.GradStep, mask, 0)
				for _, pc := range model.CompareGrads(grads, num, kinks) {
					if !(pc.MaxRelErr <= 1e-7) || pc.Kinks > (pc.Entries+pc.Kinks)/100 {
						t.Errorf("%s seed %d %+v: %s max relative error %.3e at %d (analytic %v, numerical %v), %d kinks",
							norm, seed, tc, pc.Name, pc.MaxRelErr, pc.Worst, pc.Analytic, pc.Numeric, pc.Kinks)
					}
				}
				if seed == 0 && len(tc.hidden) == 1 {
					planted, unseen := plantErrors(t, grads, num, kinks)
					if unseen > planted/10 {
						t.Errorf("%s: %d entries planted, %d out of reach", norm, planted, unseen)
					}
				}
			}
		}
	}
}

// Track moves the running statistics the fraction m of the way to the
// batch's mean and biased variance of each unit's z + b; Loss alone leaves
// them. m = 0.1 gives the bits of cs231n's 0.9 running + 0.1 batch.
func TestTrack(t *testing.T) {
	for _, m := range []float64{model.NormTrack, 0.4, 1} {
		testTrack(t, m)
	}
}

func testTrack(t *testing.T, m float64) {
	sizes := []int{5, 4, 3}
	net, x, y := normProblem(1, model.BatchNorm, sizes, 6)
	before := net.Clone()
	ws := &model.Workspace[float64]{}
	net.Loss(nil, ws, x, y, 0)
	if !floats.Equal(net.Layers[0].RunMean, before.Layers[0].RunMean) || !floats.Equal(net.Layers[0].RunVar, before.Layers[0].RunVar) {
		t.Fatal("Loss changed the running statistics")
	}
	net.Raw().Track(ws, m)
	var z mat.Dense
	z.Mul(mat.NewDense(6, 5, x), net.Layers[0].W)
	for j := range 4 {
		col := mat.Col(nil, j, &z)
		floats.AddConst(net.Layers[0].B[j], col)
		mu := floats.Sum(col) / 6
		floats.AddConst(-mu, col)
		vari := floats.Dot(col, col) / 6
		wantMean := (1-m)*before.Layers[0].RunMean[j] + m*mu
		wantVar := (1-m)*before.Layers[0].RunVar[j] + m*vari
		if m == model.NormTrack { // cs231n's expression, bit for bit
			wantMean = 0.9*before.Layers[0].RunMean[j] + 0.1*mu
			wantVar = 0.9*before.Layers[0].RunVar[j] + 0.1*vari
		}
		if math.Abs(net.Layers[0].RunMean[j]-wantMean) > 1e-14 || math.Abs(net.Layers[0].RunVar[j]-wantVar) > 1e-14 {
			t.Errorf("m %v, unit %d: running mean, var %v, %v, want %v, %v", m, j, net.Layers[0].RunMean[j], net.Layers[0].RunVar[j], wantMean, wantVar)
		}
	}
	// Layer norm has no running statistics: Track does nothing.
	ln, x2, y2 := normProblem(1, model.LayerNorm, sizes, 6)
	ws2 := &model.Workspace[float64]{}
	ln.Loss(nil, ws2, x2, y2, 0)
	ln.Raw().Track(ws2, m)
	if len(ln.Stats()) != 0 {
		t.Error("a layer-norm net has running statistics")
	}
}

// Evaluation normalises with the running statistics (batch norm) or each
// row's own (layer norm); FoldNorm turns batch norm into plain affine
// layers that score the same, and leaves layer norm as it is.
func TestFoldNorm(t *testing.T) {
	for _, sizes := range [][]int{{6, 7, 4}, {6, 9, 5, 4}} {
		net, x, _ := normProblem(4, model.BatchNorm, sizes, 5)
		got := net.Scores(nil, nil, x)
		folded := net.FoldNorm()
		if folded.Norm != model.NoNorm || len(folded.Params()) != 2*len(net.Layers) {
			t.Fatalf("folded net has norm %q and %d parameters", folded.Norm, len(folded.Params()))
		}
		plain := folded.Scores(nil, nil, x)
		if !floats.EqualApprox(got, plain, 1e-12) {
			t.Errorf("%v: folded scores %v, batch norm's %v", sizes, plain, got)
		}
		// The evaluation pass by hand for one row and the first layer.
		l0 := net.Layers[0]
		row := mat.NewDense(1, 6, x[:6])
		var z mat.Dense
		z.Mul(row, l0.W)
		a := make([]float64, sizes[1])
		for j := range a {
			v := l0.Gamma[j]*(z.At(0, j)+l0.B[j]-l0.RunMean[j])/math.Sqrt(l0.RunVar[j]+model.NormEps) + l0.Beta[j]
			a[j] = max(v, 0)
		}
		var zf mat.Dense
		zf.Mul(row, folded.Layers[0].W)
		for j := range a {
			if f := max(zf.At(0, j)+folded.Layers[0].B[j], 0); math.Abs(f-a[j]) > 1e-12 {
				t.Errorf("%v: folded unit %d gives %v, want %v", sizes, j, f, a[j])
			}
		}

		ln, _, _ := normProblem(4, model.LayerNorm, sizes, 5)
		if ln.FoldNorm() != ln {
			t.Error("FoldNorm changed a layer-norm net")
		}
		// Layer norm scores a row the same alone or in a batch.
		all := ln.Scores(nil, nil, x)
		one := ln.Scores(nil, nil, x[6:12])
		if !floats.EqualApprox(all[sizes[len(sizes)-1]:2*sizes[len(sizes)-1]], one, 1e-13) {
			t.Errorf("%v: layer norm scores row 1 as %v in the batch, %v alone", sizes, all, one)
		}
	}
}

// Params, names and Clone carry the new arrays; SameShape tells norms apart.
func TestNormArrays(t *testing.T) {
	net, _, _ := normProblem(2, model.BatchNorm, []int{4, 3, 2, 2}, 1)
	want := []string{"W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"}
	if got := net.ParamNames(); !slices.Equal(got, want) {
		t.Errorf("ParamNames %v, want %v", got, want)
	}
	if got := net.StatNames(); !slices.Equal(got, []string{"running_mean1", "running_var1", "running_mean2", "running_var2"}) {
		t.Errorf("StatNames %v", got)
	}
	c := net.Clone()
	for k, a := range net.Arrays() {
		if !floats.Equal(a, c.Arrays()[k]) {
			t.Errorf("Clone: %s differs", net.ArrayNames()[k])
		}
	}
	if !c.SameShape(net) || c.SameShape(model.Zeros(4, 3, 2, 2)) || c.SameShape(model.ZerosNorm(model.LayerNorm, 4, 3, 2, 2)) {
		t.Error("SameShape does not tell normalisations apart")
	}
	r := model.RawOf[float32](net)
	back := model.ZerosNorm(model.BatchNorm, 4, 3, 2, 2)
	model.SetFrom(back, r)
	if math.Abs(back.Layers[1].RunVar[1]-net.Layers[1].RunVar[1]) > 1e-6 || back.Layers[0].Gamma[2] == 0 {
		t.Error("RawOf and SetFrom lose the normalisation's arrays")
	}
}
