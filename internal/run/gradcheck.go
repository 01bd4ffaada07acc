package run

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/layers"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/setting"
)

// GradProblem is what nettrain gradcheck checks: a net of the run's kind
// (Hidden, Norm, Std), its loss (Reg, Dropout with a fixed mask,
// LabelSmoothing), on cs231n's toy problem (NumInputs rows of InputSize
// inputs 10 N(0,1), Classes classes) or on real images, and the check's
// step and tolerance. Settings a run has too are validated as a run's.
type GradProblem struct {
	Hidden         Hidden
	NumInputs      int
	InputSize      int
	Classes        int
	Reg, Std       float64
	Seed           uint64
	Step, Tol      float64
	Dropout        float64
	LabelSmoothing float64
	Norm           model.Norm
	// Arch, if set, checks that convolutional net instead (on CIFAR-10's
	// 3 x 32 x 32 inputs and 10 classes; Hidden, InputSize, Classes, Norm
	// and Dropout are the MLP's), every entry of every parameter, or
	// MaxEntries of each spread evenly.
	Arch       string
	MaxEntries int
}

// Bounds of gradcheck's problem: a check runs the net twice per parameter
// entry it checks, and numerical checks need only a few rows.
const (
	MaxGradInputs = 10_000
	MaxGradParams = 1 << 24
)

// Validate refuses a problem out of range before any work, naming the
// setting as {num_inputs}.
func (p GradProblem) Validate() error {
	c := Defaults()
	c.Hidden, c.Reg, c.Std, c.Dropout, c.LabelSmoothing, c.Norm, c.Arch = p.Hidden, p.Reg, p.Std, p.Dropout, p.LabelSmoothing, p.Norm, p.Arch
	if err := c.Validate(); err != nil {
		return err
	}
	if p.MaxEntries < 0 {
		return setting.Errorf("entries", "{entries} is %d, want 0 (every entry) or more", p.MaxEntries)
	}
	switch {
	case p.NumInputs < 1 || p.NumInputs > MaxGradInputs:
		return setting.Errorf("num_inputs", "{num_inputs} is %d, want 1 to %d (a gradient check needs a few rows)", p.NumInputs, MaxGradInputs)
	case p.InputSize < 1 || p.InputSize > cifar.D:
		return setting.Errorf("input_size", "{input_size} is %d, want 1 to %d", p.InputSize, cifar.D)
	case p.Classes < 2 || p.Classes > 255:
		return setting.Errorf("classes", "{classes} is %d, want 2..255", p.Classes)
	case p.Arch == "" && p.Hidden.Params(max(p.InputSize, cifar.D), p.Classes) > MaxGradParams: // on the images' inputs or the toy's
		return setting.Errorf("hidden", "{hidden} %s: %.0f parameters, want at most %d (a gradient check needs a small net; try {hidden} 10)",
			p.Hidden, p.Hidden.Params(max(p.InputSize, cifar.D), p.Classes), MaxGradParams)
	case !(p.Step > 0) || math.IsInf(p.Step, 0):
		return setting.Errorf("step", "{step} is %v, want a positive number", p.Step)
	case !(p.Tol > 0) || math.IsInf(p.Tol, 0):
		return setting.Errorf("tol", "{tol} is %v, want a positive number", p.Tol)
	}
	return nil
}

// GradReport is a gradient check's outcome: the problem's shape, each
// parameter's figures, and the first failure (nil if none).
type GradReport struct {
	N, D, C int
	Params  []model.ParamCheck
	Failed  error
}

// GradCheck builds the problem (on the first NumInputs images of train,
// mean subtracted, if train is not nil) and compares the analytic
// gradients of every parameter with numerical ones (model.GradCheck).
func GradCheck(p GradProblem, train *cifar.Set) (GradReport, error) {
	if err := p.Validate(); err != nil {
		return GradReport{}, err
	}
	if p.Arch != "" {
		return gradCheckConv(p, train)
	}
	rng := rand.New(rand.NewPCG(p.Seed, p.Seed))
	r := GradReport{N: p.NumInputs, D: p.InputSize, C: p.Classes}
	var x []float64
	var y []uint8
	if train != nil {
		if p.NumInputs > train.N() {
			return r, setting.Errorf("num_inputs", "{num_inputs} is %d, but the training batches hold %d images", p.NumInputs, train.N())
		}
		r.D, r.C = cifar.D, cifar.Classes
		x, y = make([]float64, p.NumInputs*r.D), make([]uint8, p.NumInputs)
		cifar.GatherRange(x, y, *train, 0, p.NumInputs, cifar.Mean(*train))
	} else {
		x, y = make([]float64, p.NumInputs*r.D), make([]uint8, p.NumInputs)
		for i := range x {
			x[i] = 10 * rng.NormFloat64()
		}
		for i := range y {
			y[i] = uint8(rng.IntN(r.C))
		}
	}
	net := model.NewNorm(p.Norm, p.Hidden.Sizes(r.D, r.C), p.Std, rng)
	var mask []float64
	if p.Dropout > 0 {
		mask = make([]float64, p.NumInputs*p.Hidden.Units())
		for i := range mask {
			if rng.Float64() >= p.Dropout {
				mask[i] = 1 / (1 - p.Dropout)
			}
		}
	}
	r.Params = model.GradCheck(net, x, y, p.Reg, p.Step, mask, p.LabelSmoothing)
	r.Failed = p.verdict(r.Params)
	return r, nil
}

// verdict returns the first parameter that fails the check, or nil.
func (p GradProblem) verdict(checks []model.ParamCheck) error {
	for _, pc := range checks {
		switch {
		case pc.Entries == 0:
			return fmt.Errorf("every entry of %s is at a kink for step %g (a ReLU's input or a max pool's choice within the step); try a smaller {step} or another {seed}", pc.Name, p.Step)
		case !(pc.MaxRelErr <= p.Tol):
			return fmt.Errorf("%s max relative error %.3e exceeds {tol} %g (entry %d: analytic %.6e, numerical %.6e)",
				pc.Name, pc.MaxRelErr, p.Tol, pc.Worst, pc.Analytic, pc.Numeric)
		}
	}
	return nil
}

// gradCheckConv is GradCheck of a convolutional net: its weights Std
// N(0,1), gamma 1 and beta 0, dropout masks drawn once and kept, the
// numerical gradients by layers.Differ (differences carried through the
// net), compared as model.CompareGrads does, but with the floor RelFloor
// times the net's largest gradient (a convolution's bias before batch norm
// has a gradient of exactly 0: both sides are round-off there).
func gradCheckConv(p GradProblem, train *cifar.Set) (GradReport, error) {
	net, err := ConvNet(p.Arch)
	if err != nil {
		return GradReport{}, err
	}
	rng := rand.New(rand.NewPCG(p.Seed, p.Seed))
	net.Init(p.Std, rng)
	r := GradReport{N: p.NumInputs, D: cifar.D, C: cifar.Classes}
	x, y := make([]float64, p.NumInputs*cifar.D), make([]uint8, p.NumInputs)
	if train != nil {
		if p.NumInputs > train.N() {
			return r, setting.Errorf("num_inputs", "{num_inputs} is %d, but the training batches hold %d images", p.NumInputs, train.N())
		}
		cifar.GatherRange(x, y, *train, 0, p.NumInputs, cifar.Mean(*train))
	} else {
		for i := range x {
			x[i] = 10 * rng.NormFloat64()
		}
		for i := range y {
			y[i] = uint8(rng.IntN(cifar.Classes))
		}
	}
	net.Smoothing = p.LabelSmoothing
	for _, l := range net.Layers {
		if d, ok := l.(*layers.Dropout[float64]); ok {
			d.Rng = rng
		}
	}
	net.Loss(x, y, p.Reg) // draws the dropout masks
	for _, l := range net.Layers {
		if d, ok := l.(*layers.Dropout[float64]); ok {
			d.Frozen = true
		}
	}
	net.Loss(x, y, p.Reg)
	top := 0.0
	for _, par := range net.Params() {
		for _, v := range par.G {
			top = max(top, math.Abs(v))
		}
	}
	d := layers.NewDiffer(net, x, y, p.Reg)
	for k, par := range net.Params() {
		pc := model.ParamCheck{Name: par.Name}
		step := 1
		if p.MaxEntries > 0 && len(par.V) > p.MaxEntries {
			step = (len(par.V) + p.MaxEntries - 1) / p.MaxEntries
		}
		for i := 0; i < len(par.V); i += step {
			num, kink := d.NumGrad(k, i, p.Step)
			if kink {
				pc.Kinks++
				continue
			}
			e := model.RelErr(par.G[i], num, model.RelFloor*top)
			if pc.Entries == 0 || e > pc.MaxRelErr || math.IsNaN(e) && !math.IsNaN(pc.MaxRelErr) {
				pc.MaxRelErr, pc.Worst, pc.Analytic, pc.Numeric = e, i, par.G[i], num
			}
			pc.Entries++
		}
		r.Params = append(r.Params, pc)
	}
	r.Failed = p.verdict(r.Params)
	return r, nil
}
