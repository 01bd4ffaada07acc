package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/spf13/cobra"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/model"
	trainrun "github.com/nettrain/nettrain/internal/run"
)

type gradcheckOptions struct {
	hidden    trainrun.Hidden
	numInputs int
	inputSize int
	classes   int
	reg       float64
	std       float64
	seed      uint64
	tol       float64
	step      float64
	dropout   float64
	smoothing float64
	norm      model.Norm
	data      string
	json      bool
}

func newGradcheckCmd(e env) *cobra.Command {
	opts := gradcheckOptions{}
	cmd := &cobra.Command{
		Use:   "gradcheck",
		Short: "Compare analytic gradients with numerical ones",
		Long: `Compare the analytic gradients of the loss with numerical ones for every
entry of W1, b1, W2 and b2 (and W3, b3, ... with --hidden 20,10; gamma1,
beta1, ... with --norm), in float64, and print the largest relative error
|a-n| / max(|a|+|n|, 1e-8 * largest |a| of the parameter) of each. Exit
status 1 if any exceeds --tol (default 1e-7, cs231n's bar).

The numerical gradient is the centered difference (D(h) - D(-h)) / 2h, where
D(d) = f(p+d) - f(p) is computed as a difference through the net (the change
of the hidden layers, of the scores, of each row's loss with log1p and expm1)
rather than as the difference of two losses near 2.3; with --norm, through
the normalisation too, as whole matrices, since batch norm couples the rows
of a batch (and layer norm the units of a row). That keeps it exact to
a few roundings however small the gradient is (on real images some W1
gradients are 1e-6 of the loss, where f(p+h) - f(p-h) loses 10 of float64's
16 digits), so the same --tol holds for the toy problem and for real data.
An entry whose step moves a hidden unit across ReLU's kink at zero, where
the gradient jumps and no difference can match it, is counted as a kink and
not compared. The floor of the relative error, relative to the largest
gradient of the same parameter, keeps entries that are only round-off of
the analytic gradient from counting; an error of 1e-3 relative in any entry
larger than that fails the check.

By default the net is cs231n's toy problem: small random inputs (10 * N(0,1))
and weights 0.1 * N(0,1). With --data it uses the first --num-inputs
training images, mean subtracted, and CIFAR-10's 3072 inputs and 10 classes.`,
		Example: `  nettrain gradcheck
  nettrain gradcheck --reg 0 --hidden 20 --num-inputs 8
  nettrain gradcheck --hidden 20,10 --dropout 0.3
  nettrain gradcheck --hidden 20,10 --norm batch
  nettrain gradcheck --data data/cifar-10-batches-bin --hidden 10 --num-inputs 3`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("data") {
				opts.data = dataDir(opts.data, e)
			}
			return runGradcheck(opts, cmd.OutOrStdout(), e)
		},
	}
	f := cmd.Flags()
	opts.hidden = trainrun.Hidden{10}
	f.Var(hiddenFlag{&opts.hidden}, "hidden", "hidden layer widths: 10, or 20,10 for two hidden layers")
	f.IntVar(&opts.numInputs, "num-inputs", 5, "rows N in the batch")
	f.IntVar(&opts.inputSize, "input-size", 4, "inputs D of the random problem (ignored with --data)")
	f.IntVar(&opts.classes, "classes", 3, "classes C of the random problem (ignored with --data)")
	f.Float64Var(&opts.reg, "reg", 0.05, "L2 regularisation strength")
	f.Float64Var(&opts.std, "std", 0.1, "standard deviation of the weights")
	f.Uint64Var(&opts.seed, "seed", 0, "random seed")
	f.Float64Var(&opts.step, "step", model.GradStep, "step h of the centered differences")
	f.Float64Var(&opts.tol, "tol", 1e-7, "largest relative error allowed")
	f.Float64Var(&opts.dropout, "dropout", 0, "check with a fixed inverted-dropout mask dropping this fraction of hidden units")
	f.Float64Var(&opts.smoothing, "label-smoothing", 0, "check the loss with label smoothing e (targets (1-e) onehot + e/C)")
	f.StringVar((*string)(&opts.norm), "norm", "", "check with batch or layer normalisation after each hidden layer (training's: the batch's statistics)")
	f.StringVar(&opts.data, "data", "", "use real images from this CIFAR-10 directory")
	f.BoolVar(&opts.json, "json", false, "print the result as JSON")
	return cmd
}

func runGradcheck(o gradcheckOptions, stdout io.Writer, e env) error {
	// The settings a run has too are checked as a run's (run.Schema).
	rc := trainrun.Defaults()
	rc.Hidden, rc.Reg, rc.Std, rc.Dropout, rc.LabelSmoothing, rc.Norm = o.hidden, o.reg, o.std, o.dropout, o.smoothing, o.norm
	if err := rc.Validate(); err != nil {
		return usageError{err}
	}
	switch {
	case o.numInputs < 1 || o.numInputs > maxGradcheckInputs:
		return usageErrorf("--num-inputs is %d, want 1 to %d (a gradient check needs a few rows)", o.numInputs, maxGradcheckInputs)
	case o.inputSize < 1 || o.inputSize > cifar.D:
		return usageErrorf("--input-size is %d, want 1 to %d", o.inputSize, cifar.D)
	case gradcheckParams(o) > maxGradcheckParams:
		return usageErrorf("--hidden %s: %.0f parameters, want at most %d (a gradient check needs a small net; try --hidden 10)", o.hidden, gradcheckParams(o), maxGradcheckParams)
	case o.classes < 2 || o.classes > 255:
		return usageErrorf("--classes is %d, want 2..255", o.classes)
	case !(o.step > 0) || math.IsInf(o.step, 0):
		return usageErrorf("--step is %v, want a positive number", o.step)
	case !(o.tol > 0) || math.IsInf(o.tol, 0):
		return usageErrorf("--tol is %v, want a positive number", o.tol)
	}
	rng := rand.New(rand.NewPCG(o.seed, o.seed))
	var x []float64
	var y []uint8
	d, c := o.inputSize, o.classes
	if o.data != "" {
		ds, err := e.loader.Load(o.data)
		if err != nil {
			return err
		}
		if o.numInputs > ds.Train.N() {
			return usageErrorf("--num-inputs is %d, but the training batches hold %d images", o.numInputs, ds.Train.N())
		}
		d, c = cifar.D, cifar.Classes
		x, y = make([]float64, o.numInputs*d), make([]uint8, o.numInputs)
		cifar.GatherRange(x, y, ds.Train, 0, o.numInputs, cifar.Mean(ds.Train))
	} else {
		x, y = make([]float64, o.numInputs*d), make([]uint8, o.numInputs)
		for i := range x {
			x[i] = 10 * rng.NormFloat64()
		}
		for i := range y {
			y[i] = uint8(rng.IntN(c))
		}
	}
	net := model.NewNorm(o.norm, o.hidden.Sizes(d, c), o.std, rng)
	var mask []float64
	if o.dropout > 0 {
		mask = make([]float64, o.numInputs*o.hidden.Units())
		for i := range mask {
			if rng.Float64() >= o.dropout {
				mask[i] = 1 / (1 - o.dropout)
			}
		}
	}
	checks := model.GradCheck(net, x, y, o.reg, o.step, mask, o.smoothing)

	failed := ""
	for _, pc := range checks {
		if (pc.Entries == 0 || !(pc.MaxRelErr <= o.tol)) && failed == "" {
			failed = pc.Name
		}
	}
	if o.json {
		type row struct {
			Param     string  `json:"param"`
			Entries   int     `json:"entries"`
			Kinks     int     `json:"kinks"`
			MaxRelErr float64 `json:"max_rel_error"`
		}
		rows := make([]row, len(checks))
		for i, pc := range checks {
			rows[i] = row{pc.Name, pc.Entries, pc.Kinks, pc.MaxRelErr}
		}
		if err := writeJSON(stdout, map[string]any{"tol": o.tol, "step": o.step, "ok": failed == "", "params": rows}); err != nil {
			return err
		}
	} else {
		norm := ""
		if o.norm != model.NoNorm {
			norm = " norm=" + string(o.norm)
		}
		fmt.Fprintf(stdout, "gradient check: N=%d D=%d H=%s C=%d reg=%g dropout=%g h=%g%s%s\n", o.numInputs, d, o.hidden, c, o.reg, o.dropout, o.step, smoothingText(o.smoothing), norm)
		w := 5
		for _, pc := range checks {
			w = max(w, len(pc.Name))
		}
		fmt.Fprintf(stdout, "%-*s %8s %6s  %s\n", w, "param", "entries", "kinks", "max_rel_error")
		for _, pc := range checks {
			fmt.Fprintf(stdout, "%-*s %8d %6d  %.3e\n", w, pc.Name, pc.Entries, pc.Kinks, pc.MaxRelErr)
		}
	}
	for _, pc := range checks {
		switch {
		case pc.Name != failed:
		case pc.Entries == 0:
			return fmt.Errorf("gradient check failed: every entry of %s is at a ReLU kink for step %g (a hidden unit within the step of zero, or exactly at it, as when a row's inputs to the layer are all zero); try a smaller --step or another --seed", pc.Name, o.step)
		default:
			return fmt.Errorf("gradient check failed: %s max relative error %.3e exceeds --tol %g (entry %d: analytic %.6e, numerical %.6e)",
				pc.Name, pc.MaxRelErr, o.tol, pc.Worst, pc.Analytic, pc.Numeric)
		}
	}
	if !o.json {
		fmt.Fprintf(stdout, "ok: every relative error is within --tol %g\n", o.tol)
	}
	return nil
}

// smoothingText is label smoothing in the check's header, when there is any.
func smoothingText(e float64) string {
	if e == 0 {
		return ""
	}
	return fmt.Sprintf(" label_smoothing=%g", e)
}

// Bounds of gradcheck's problem: a check runs the net twice per parameter
// entry it checks, and numerical checks need only a few rows.
const (
	maxGradcheckInputs = 10_000
	maxGradcheckParams = 1 << 24
)

// gradcheckParams is the number of parameters of gradcheck's net (on the
// random problem's or the images' inputs, whichever is larger).
func gradcheckParams(o gradcheckOptions) float64 {
	return o.hidden.Params(max(o.inputSize, cifar.D), o.classes)
}
