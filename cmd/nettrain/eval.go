package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/plots"
	trainrun "github.com/nettrain/nettrain/internal/run"
)

type evalOptions struct {
	model string
	data  string
	split string
	sizes cifar.Sizes
	// which of sizes the user set; the rest come from the checkpoint
	setTrain, setVal, setTest bool
	precision                 model.Precision // "" means the model's
	plots                     string
	json                      bool
	tta                       bool
	threads                   int
}

func newEvalCmd(e env) *cobra.Command {
	opts := evalOptions{}
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Score a saved model on a split of CIFAR-10",
		Long: `Score a saved model on the train, val or test split: overall accuracy,
accuracy per class and the confusion matrix. Images are preprocessed with the
checkpoint's own mean image. The split sizes default to those the model was
trained with (from its metadata), else to cs231n's 49000/1000/1000.`,
		Example: `  nettrain eval --model nettrain-model.npz
  nettrain eval --model best.npz --split test --num-test 10000 --json
  nettrain eval --model airbench.npz --split test --num-test 10000 --tta`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.data = dataDir(opts.data, e)
			fl := cmd.Flags()
			opts.setTrain, opts.setVal, opts.setTest = fl.Changed("num-train"), fl.Changed("num-val"), fl.Changed("num-test")
			return runEval(cmd.Context(), opts, cmd.OutOrStdout(), e)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.model, "model", "m", "nettrain-model.npz", "checkpoint to score (.npz)")
	f.StringVar(&opts.data, "data", "", dataFlagHelp)
	f.StringVar(&opts.split, "split", "val", "split to score: train, val or test")
	f.IntVar(&opts.sizes.Train, "num-train", cifar.DefaultNumTrain, "training images (default: the model's, else 49000)")
	f.IntVar(&opts.sizes.Val, "num-val", cifar.DefaultNumVal, "validation images (default: the model's, else 1000)")
	f.IntVar(&opts.sizes.Test, "num-test", cifar.DefaultNumTest, "test images (default: the model's, else 1000; 10000 is all)")
	f.StringVar((*string)(&opts.precision), "precision", "", "arithmetic of scoring: float32 or float64 (default: the model's training precision)")
	f.StringVar(&opts.plots, "plots", "", "write confusion.png into this directory")
	f.BoolVar(&opts.json, "json", false, "print the result as one JSON object")
	f.BoolVar(&opts.tta, "tta", false, "test-time augmentation: average the scores of the image, its mirror and their 1-pixel translations (a conv net's)")
	addThreadsFlag(f, &opts.threads)
	return cmd
}

func runEval(_ context.Context, o evalOptions, stdout io.Writer, e env) error {
	if err := checkThreads(o.threads); err != nil {
		return err
	}
	useThreads(o.threads, 1)
	switch o.split {
	case "train", "val", "test":
	default:
		return usageErrorf("--split is %q, want train, val or test", o.split)
	}
	switch o.precision {
	case "", model.Float32, model.Float64:
	default:
		return usageErrorf("--precision is %q, want float32 or float64", o.precision)
	}
	ck, err := checkpoint.Load(o.model)
	if err != nil {
		return err
	}
	if o.tta && ck.Conv == nil {
		return usageErrorf("--tta: %s is a fully connected net; test-time augmentation is for convolutional nets so far", o.model)
	}
	d, c := ck.Inputs(), ck.Classes()
	if d != cifar.D || c != cifar.Classes {
		return fmt.Errorf("model %s takes %d inputs and has %d classes, but CIFAR-10 has %d inputs and %d classes", o.model, d, c, cifar.D, cifar.Classes)
	}

	// Split sizes: flags the user set, else the model's, else the defaults.
	sz := o.sizes
	var meta runMeta
	if ck.Meta != nil && json.Unmarshal(ck.Meta, &meta) == nil && meta.Config.NumTrain > 0 {
		if !o.setTrain {
			sz.Train = meta.Config.NumTrain
		}
		if !o.setVal {
			sz.Val = meta.Config.NumVal
		}
		if !o.setTest {
			sz.Test = meta.Config.NumTest
		}
	}
	precision := o.precision
	if precision == "" {
		precision = meta.Config.Precision // "" for numpy models: float64
	}
	if err := sz.Check(cifar.TrainBatches*cifar.RecordsPerBatch, cifar.RecordsPerBatch); err != nil {
		return usageError{err}
	}

	ds, err := e.loader.Load(o.data)
	if err != nil {
		return err
	}
	sp, err := ds.Split(sz)
	if err != nil {
		return usageError{err}
	}
	set := map[string]cifar.Set{"train": sp.Train, "val": sp.Val, "test": sp.Test}[o.split]
	res, err := trainrun.Evaluate(ck, set, ds.Classes, precision, o.tta)
	if err != nil {
		return fmt.Errorf("%s: %w", o.model, err)
	}
	res.Model, res.Split = o.model, o.split

	if o.plots != "" {
		if err := os.MkdirAll(o.plots, 0o755); err != nil {
			return fmt.Errorf("--plots: %w", err)
		}
		err := plots.WriteFile(filepath.Join(o.plots, "confusion.png"), func(w io.Writer) error { return plots.Confusion(w, res.Confusion, ds.Classes) })
		if err != nil {
			return err
		}
	}
	if o.json {
		return writeJSON(stdout, res)
	}
	return printEval(stdout, res, ds.Classes)
}

// printEval prints an evaluation as eval does without --json: accuracy,
// per class, and the confusion matrix.
func printEval(stdout io.Writer, res trainrun.Evaluation, classes []string) error {
	tta := ""
	if res.TTA {
		tta = " (test-time augmentation: 6 views)"
	}
	fmt.Fprintf(stdout, "%s split: %d images, accuracy %.4f%s\n\n", res.Split, res.N, res.Accuracy, tta)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "class\tn\tcorrect\taccuracy\t")
	for _, cs := range res.PerClass {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.4f\t\n", cs.Class, cs.N, cs.Correct, cs.Accuracy)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nconfusion matrix (rows: true class, columns: predicted)\n")
	tw = tabwriter.NewWriter(stdout, 0, 0, 1, ' ', tabwriter.AlignRight)
	short := make([]string, len(classes))
	for k, name := range classes {
		short[k] = name[:min(5, len(name))]
	}
	fmt.Fprintf(tw, "\t%s\t\n", strings.Join(short, "\t"))
	for k, row := range res.Confusion {
		fmt.Fprintf(tw, "%s\t", classes[k])
		for _, v := range row {
			fmt.Fprintf(tw, "%d\t", v)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
