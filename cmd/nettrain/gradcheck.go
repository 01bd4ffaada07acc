package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/model"
	trainrun "github.com/nettrain/nettrain/internal/run"
)

type gradcheckOptions struct {
	trainrun.GradProblem
	data string
	json bool
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
training images, mean subtracted, and CIFAR-10's 3072 inputs and 10 classes.

--arch checks a convolutional net on 3x32x32 inputs (random, or the images
with --data): every entry of every parameter (--entries to sample), the
differences carried through every layer (convolution, pooling, batch norm,
GELU, ...) the same way; a step that changes a max pool's choice is a kink,
as ReLU's. The floor of the relative error is 1e-8 of the net's largest
gradient: a convolution's bias before batch norm has a gradient of exactly
zero, all round-off.`,
		Example: `  nettrain gradcheck
  nettrain gradcheck --reg 0 --hidden 20 --num-inputs 8
  nettrain gradcheck --hidden 20,10 --dropout 0.3
  nettrain gradcheck --hidden 20,10 --norm batch
  nettrain gradcheck --data data/cifar-10-batches-bin --hidden 10 --num-inputs 3
  nettrain gradcheck --arch cs231n-convnet --entries 2000
  nettrain gradcheck --arch conv8k3-bn-gelu-maxpool2-fc10 --data data/cifar-10-batches-bin`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("data") {
				opts.data = dataDir(opts.data, e)
			}
			return runGradcheck(opts, cmd.OutOrStdout(), e)
		},
	}
	f := cmd.Flags()
	opts.Hidden = trainrun.Hidden{10}
	f.Var(hiddenFlag{&opts.Hidden}, "hidden", "hidden layer widths: 10, or 20,10 for two hidden layers")
	f.IntVar(&opts.NumInputs, "num-inputs", 5, "rows N in the batch")
	f.IntVar(&opts.InputSize, "input-size", 4, "inputs D of the random problem (ignored with --data)")
	f.IntVar(&opts.Classes, "classes", 3, "classes C of the random problem (ignored with --data)")
	f.Float64Var(&opts.Reg, "reg", 0.05, "L2 regularisation strength")
	f.Float64Var(&opts.Std, "std", 0.1, "standard deviation of the weights")
	f.Uint64Var(&opts.Seed, "seed", 0, "random seed")
	f.Float64Var(&opts.Step, "step", model.GradStep, "step h of the centered differences")
	f.Float64Var(&opts.Tol, "tol", 1e-7, "largest relative error allowed")
	f.Float64Var(&opts.Dropout, "dropout", 0, "check with a fixed inverted-dropout mask dropping this fraction of hidden units")
	f.Float64Var(&opts.LabelSmoothing, "label-smoothing", 0, "check the loss with label smoothing e (targets (1-e) onehot + e/C)")
	f.StringVar((*string)(&opts.Norm), "norm", "", "check with batch or layer normalisation after each hidden layer (training's: the batch's statistics)")
	f.StringVar(&opts.Arch, "arch", "", "check a convolutional net (train's --arch: a preset or layers) instead of the MLP of --hidden")
	f.IntVar(&opts.MaxEntries, "entries", 0, "with --arch: check at most this many entries of each parameter, spread evenly (0: every entry)")
	f.StringVar(&opts.data, "data", "", "use real images from this CIFAR-10 directory")
	f.BoolVar(&opts.json, "json", false, "print the result as JSON")
	return cmd
}

func runGradcheck(o gradcheckOptions, stdout io.Writer, e env) error {
	if err := o.Validate(); err != nil {
		return usageError{err}
	}
	var train *cifar.Set
	if o.data != "" {
		ds, err := e.loader.Load(o.data)
		if err != nil {
			return err
		}
		train = &ds.Train
	}
	r, err := trainrun.GradCheck(o.GradProblem, train)
	if err != nil {
		return usageError{err}
	}
	if o.json {
		type row struct {
			Param     string  `json:"param"`
			Entries   int     `json:"entries"`
			Kinks     int     `json:"kinks"`
			MaxRelErr float64 `json:"max_rel_error"`
		}
		rows := make([]row, len(r.Params))
		for i, pc := range r.Params {
			rows[i] = row{pc.Name, pc.Entries, pc.Kinks, pc.MaxRelErr}
		}
		if err := writeJSON(stdout, map[string]any{"tol": o.Tol, "step": o.Step, "ok": r.Failed == nil, "params": rows}); err != nil {
			return err
		}
	} else {
		printGradTable(stdout, o.GradProblem, r)
	}
	if r.Failed != nil {
		return fmt.Errorf("gradient check failed: %w", r.Failed)
	}
	if !o.json {
		fmt.Fprintf(stdout, "ok: every relative error is within --tol %g\n", o.Tol)
	}
	return nil
}

// printGradTable prints the check's header and one row per parameter.
func printGradTable(w io.Writer, p trainrun.GradProblem, r trainrun.GradReport) {
	extra := ""
	if p.LabelSmoothing != 0 {
		extra += fmt.Sprintf(" label_smoothing=%g", p.LabelSmoothing)
	}
	if p.Norm != model.NoNorm {
		extra += " norm=" + string(p.Norm)
	}
	if p.Arch != "" {
		fmt.Fprintf(w, "gradient check: N=%d arch=%s reg=%g h=%g%s\n", r.N, p.Arch, p.Reg, p.Step, extra)
	} else {
		fmt.Fprintf(w, "gradient check: N=%d D=%d H=%s C=%d reg=%g dropout=%g h=%g%s\n", r.N, r.D, p.Hidden, r.C, p.Reg, p.Dropout, p.Step, extra)
	}
	width := 5
	for _, pc := range r.Params {
		width = max(width, len(pc.Name))
	}
	fmt.Fprintf(w, "%-*s %8s %6s  %s\n", width, "param", "entries", "kinks", "max_rel_error")
	for _, pc := range r.Params {
		fmt.Fprintf(w, "%-*s %8d %6d  %.3e\n", width, pc.Name, pc.Entries, pc.Kinks, pc.MaxRelErr)
	}
}
