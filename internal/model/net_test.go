package model_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/floats/scalar"
	"gonum.org/v1/gonum/mat"

	"github.com/nettrain/nettrain/internal/model"
)

// randomProblem returns a net and a batch with inputs scaled like
// mean-subtracted pixels.
func randomProblem(seed uint64, n, d, h, c int, std float64) (*model.Net, []float64, []uint8) {
	rng := rand.New(rand.NewPCG(seed, seed))
	net := model.New([]int{d, h, c}, std, rng)
	for _, b := range [][]float64{net.Layers[0].B, net.Layers[1].B} {
		for i := range b {
			b[i] = std * rng.NormFloat64()
		}
	}
	x := make([]float64, n*d)
	for i := range x {
		x[i] = 64 * rng.NormFloat64()
	}
	y := make([]uint8, n)
	for i := range y {
		y[i] = uint8(rng.IntN(c))
	}
	return net, x, y
}

// The fast path (direct BLAS, fused loops, reused buffers) against the plain
// reference, on shapes with and without the real D, reg zero and not.
func TestLossMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		n, d, h, c int
		std, reg   float64
	}{
		{5, 4, 10, 3, 0.1, 0},
		{5, 4, 10, 3, 0.1, 0.05},
		{7, 3072, 13, 10, 1e-3, 0.25},
		{64, 100, 50, 10, 1e-2, 1},
		{1, 1, 1, 2, 1, 0.5},
	} {
		net, x, y := randomProblem(uint64(tc.n*tc.d), tc.n, tc.d, tc.h, tc.c, tc.std)
		grads := model.Zeros(tc.d, tc.h, tc.c)
		ws := &model.Workspace[float64]{}
		// Twice, so that a second call through the same workspace is checked too.

		for range 2 {
			loss := net.Loss(grads, ws, x, y, tc.reg)
			refLoss, ref := model.LossRef(net, mat.NewDense(tc.n, tc.d, x), y, tc.reg, nil, 0)
			// 1e-12: both sum the same terms in different orders.
			if !scalar.EqualWithinRel(loss, refLoss, 1e-12) {
				t.Errorf("%+v: loss %v, reference %v", tc, loss, refLoss)
			}
			for k, g := range grads.Params() {
				r := ref.Params()[k]
				if !floats.EqualApprox(g, r, 1e-12*(floats.Norm(r, math.Inf(1))+1e-300)) {
					t.Errorf("%+v: d%s differs from the reference", tc, model.ParamNames(2, "")[k])
				}
			}
		}
		if got := net.Loss(nil, ws, x, y, tc.reg); got != net.Loss(grads, ws, x, y, tc.reg) {
			t.Errorf("%+v: loss without gradients %v differs", tc, got)
		}
	}
}

// cs231n's first sanity check: with tiny weights every class is equally
// likely, so the loss is -log(1/10) = ln 10.
func TestInitialLossIsLn10(t *testing.T) {
	net, x, y := randomProblem(1, 200, 3072, 50, 10, 1e-4)
	loss := net.Loss(nil, nil, x, y, 0)
	// Scores are of order 1e-4*1e-4*64*sqrt(3072*50) ~ 3e-4, so the loss is
	// within ~1e-3 of ln 10.
	if math.Abs(loss-math.Ln10) > 5e-3 {
		t.Errorf("initial loss %v, want ln 10 = %v", loss, math.Ln10)
	}
}

func TestMoreRegMoreLoss(t *testing.T) {
	net, x, y := randomProblem(2, 20, 50, 20, 10, 1e-1)
	prev := net.Loss(nil, nil, x, y, 0)
	for _, reg := range []float64{1e-3, 1e-1, 1, 10} {
		loss := net.Loss(nil, nil, x, y, reg)
		if !(loss > prev) {
			t.Errorf("reg %v: loss %v, not above %v", reg, loss, prev)
		}
		prev = loss
	}
}

// A net small enough to work out on paper:
//
//	X = [1 2], y = 0, W1 = [1 -1; 0.5 1], b1 = [0 -2], W2 = [1 0; 0.5 1], b2 = [0 1]
//	z = X W1 + b1 = [2, 1] + [0, -2] = [2, -1], h = [2, 0]
//	scores = h W2 + b2 = [2, 0] + [0, 1] = [2, 1]
//	p0 = e^2/(e^2+e^1) = 1/(1+e^-1), data loss = -ln p0 = ln(1+e^-1)
//	penalty = 0.5*0.1*(sum W1^2 + sum W2^2) = 0.05*(3.25 + 2.25) = 0.275
//	dscores = [p0-1, 1-p0] = [-s, s] with s = 1/(1+e)
//	dW2 = h^T dscores + 0.1 W2 = [-2s+0.1, 2s; 0.05, 0.1], db2 = [-s, s]
//	dh = dscores W2^T = [-s, -0.5s+s] = [-s, 0.5s], dz = dh*[z>0] = [-s, 0]
//	dW1 = X^T dz + 0.1 W1 = [-s+0.1, -0.1; -2s+0.05, 0.1], db1 = [-s, 0]
func TestHandComputedNet(t *testing.T) {
	net := &model.Net{Layers: []model.Layer{
		{W: mat.NewDense(2, 2, []float64{1, -1, 0.5, 1}), B: []float64{0, -2}},
		{W: mat.NewDense(2, 2, []float64{1, 0, 0.5, 1}), B: []float64{0, 1}},
	}}
	s := 1 / (1 + math.E)
	want := map[string][]float64{
		"W1": {-s + 0.1, -0.1, -2*s + 0.05, 0.1},
		"b1": {-s, 0},
		"W2": {-2*s + 0.1, 2 * s, 0.05, 0.1},
		"b2": {-s, s},
	}
	grads := model.Zeros(2, 2, 2)
	loss := net.Loss(grads, nil, []float64{1, 2}, []uint8{0}, 0.1)
	if wantLoss := math.Log1p(math.Exp(-1)) + 0.275; !scalar.EqualWithinAbs(loss, wantLoss, 1e-15) {
		t.Errorf("loss %v, want %v", loss, wantLoss)
	}
	for k, g := range grads.Params() {
		if w := want[model.ParamNames(2, "")[k]]; !floats.EqualApprox(g, w, 1e-15) {
			t.Errorf("d%s = %v, want %v", model.ParamNames(2, "")[k], g, w)
		}
	}
	if p := net.Predict(nil, nil, []float64{1, 2, -1, -1}); p[0] != 0 || p[1] != 1 {
		// Row 2: z = [-1.5, -2] so h = 0 and scores = b2 = [0, 1].
		t.Errorf("Predict = %v, want [0 1]", p)
	}
}

// Scores that would overflow exp without the max subtraction.
func TestLossLargeScores(t *testing.T) {
	net := &model.Net{Layers: []model.Layer{
		{W: mat.NewDense(1, 1, []float64{1}), B: []float64{0}},
		{W: mat.NewDense(1, 2, []float64{1000, -1000}), B: []float64{0, 0}},
	}}
	// h = 1, scores = [1000, -1000]: p(y=1) = e^-2000, loss 2000 exactly.
	if loss := net.Loss(model.Zeros(1, 1, 2), nil, []float64{1}, []uint8{1}, 0); loss != 2000 {
		t.Errorf("loss %v, want 2000", loss)
	}
}

func TestGradCheck(t *testing.T) {
	// dropoutMask returns a fixed inverted-dropout mask dropping about p.
	dropoutMask := func(n, h int, p float64) []float64 {
		rng := rand.New(rand.NewPCG(3, 3))
		m := make([]float64, n*h)
		for i := range m {
			if rng.Float64() >= p {
				m[i] = 1 / (1 - p)
			}
		}
		return m
	}
	for _, tc := range []struct {
		name       string
		n, d, h, c int
		std, reg   float64
		dropout    []float64
		xscale     float64 // inputs are xscale * N(0,1); 0 means 10, as cs231n's toy
	}{
		{"toy reg=0", 5, 4, 10, 3, 0.1, 0, nil, 0},
		{"toy reg=0.05", 5, 4, 10, 3, 0.1, 0.05, nil, 0},
		{"wider reg=0", 8, 12, 16, 10, 0.1, 0, nil, 0},
		{"wider reg=1", 8, 12, 16, 10, 0.1, 1, nil, 0},
		{"dropout 0.5 reg=0.01", 8, 12, 16, 10, 0.5, 0.01, dropoutMask(8, 16, 0.5), 1},
		{"dropout 0.2 reg=0.1", 8, 12, 16, 10, 0.5, 0.1, dropoutMask(8, 16, 0.2), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 7))
			net := model.New([]int{tc.d, tc.h, tc.c}, tc.std, rng)
			x := make([]float64, tc.n*tc.d)
			xscale := tc.xscale
			if xscale == 0 {
				xscale = 10
			}
			for i := range x {
				x[i] = xscale * rng.NormFloat64()
			}
			y := make([]uint8, tc.n)
			for i := range y {
				y[i] = uint8(rng.IntN(tc.c))
			}
			before := net.Clone()
			for _, pc := range model.GradCheck(net, x, y, tc.reg, model.GradStep, tc.dropout, 0) {
				// cs231n reports 1e-9..1e-11 for this problem; 1e-7 is its bar.
				if !(pc.MaxRelErr <= 1e-7) {
					t.Errorf("%s: max relative error %v at %d (analytic %v, numerical %v)", pc.Name, pc.MaxRelErr, pc.Worst, pc.Analytic, pc.Numeric)
				}
				if want := map[string]int{"W1": tc.d * tc.h, "b1": tc.h, "W2": tc.h * tc.c, "b2": tc.c}[pc.Name]; pc.Entries+pc.Kinks != want || pc.Kinks > want/10 {
					t.Errorf("%s: checked %d entries and %d kinks, want %d in all, few kinks", pc.Name, pc.Entries, pc.Kinks, want)
				}
			}
			for k, p := range net.Params() {
				if !floats.Equal(p, before.Params()[k]) {
					t.Errorf("GradCheck changed %s", model.ParamNames(2, "")[k])
				}
			}
		})
	}
}

// The float32 path against the float64 reference: loss within 1e-6
// relative, gradients within 1e-4 of their largest entry (float32 carries
// about 7 digits, and the products sum over D = 3072 terms).
func TestLossFloat32MatchesReference(t *testing.T) {
	for _, reg := range []float64{0, 0.25} {
		net, x, y := randomProblem(11, 50, 3072, 30, 10, 1e-3)
		raw := model.RawOf[float32](net)
		x32 := make([]float32, len(x))
		for i, v := range x {
			x32[i] = float32(v)
		}
		// Compare with the reference on the float32-rounded weights and inputs.
		model.SetFrom(net, raw)
		for i, v := range x32 {
			x[i] = float64(v)
		}
		grads := model.NewRaw[float32](3072, 30, 10)
		loss := raw.Loss(grads, nil, x32, y, reg)
		refLoss, ref := model.LossRef(net, mat.NewDense(50, 3072, x), y, reg, nil, 0)
		if !scalar.EqualWithinRel(loss, refLoss, 1e-6) {
			t.Errorf("reg %v: float32 loss %v, reference %v", reg, loss, refLoss)
		}
		for k, g := range grads.Params() {
			r := ref.Params()[k]
			scale := floats.Norm(r, math.Inf(1))
			for i := range g {
				if math.Abs(float64(g[i])-r[i]) > 1e-4*scale {
					t.Errorf("reg %v: d%s[%d] = %v, reference %v", reg, model.ParamNames(2, "")[k], i, g[i], r[i])
					break
				}
			}
		}
	}
}

// The training step allocates nothing once its workspace is sized, on
// one thread and on several (internal/gemm pools its goroutines and
// buffers).
func TestLossAllocatesNothing(t *testing.T) {
	net, x, y := randomProblem(12, 200, 3072, 50, 10, 1e-4)
	raw := model.RawOf[float32](net)
	x32 := make([]float32, len(x))
	for i, v := range x {
		x32[i] = float32(v)
	}
	grads := model.NewRaw[float32](3072, 50, 10)
	ws := &model.Workspace[float32]{}
	if n := testing.AllocsPerRun(5, func() {
		raw.Loss(grads, ws, x32, y, 0.25)
		raw.Step(grads, 1e-4)
	}); n != 0 {
		t.Errorf("Loss and Step allocate %v times per call", n)
	}
}

// Dropout in the fast path against the reference with the same mask.
func TestDropoutMatchesReference(t *testing.T) {
	net, x, y := randomProblem(13, 20, 100, 30, 10, 1e-2)
	rng := rand.New(rand.NewPCG(4, 4))
	mask := make([]float64, 20*30)
	for i := range mask {
		if rng.Float64() >= 0.3 {
			mask[i] = 1 / 0.7
		}
	}
	grads := model.Zeros(100, 30, 10)
	ws := &model.Workspace[float64]{Dropout: mask}
	loss := net.Loss(grads, ws, x, y, 0.1)
	refLoss, ref := model.LossRef(net, mat.NewDense(20, 100, x), y, 0.1, mask, 0)
	if !scalar.EqualWithinRel(loss, refLoss, 1e-12) {
		t.Errorf("loss %v, reference %v", loss, refLoss)
	}
	for k, g := range grads.Params() {
		if !floats.EqualApprox(g, ref.Params()[k], 1e-12*floats.Norm(ref.Params()[k], math.Inf(1))) {
			t.Errorf("d%s differs from the reference", model.ParamNames(2, "")[k])
		}
	}
	noDrop, _ := model.LossRef(net, mat.NewDense(20, 100, x), y, 0.1, nil, 0)
	if loss == noDrop {
		t.Error("the mask changed nothing")
	}
	// Predict ignores the mask: dropout is off at evaluation.
	if p, q := net.Predict(nil, ws, x), net.Predict(nil, nil, x); !bytes.Equal(p, q) {
		t.Error("Predict used the dropout mask")
	}
}
