package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/sgd"
)

type trainOptions struct {
	runConfig
	out     string
	metrics string
	test    bool
	quiet   bool
	json    bool
}

func newTrainCmd(e env) *cobra.Command {
	def := sgd.DefaultConfig()
	opts := trainOptions{}
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train the two-layer network on CIFAR-10 and save it",
		Long: `Train the two-layer network with minibatch SGD and save it as an .npz
checkpoint. The defaults are the cs231n notebook's run (validation accuracy
near 0.29); for example --hidden 200 --lr 1e-3 --reg 0.25 --iters 4000
reaches about 0.5.

stdout gets the final validation accuracy ("val_acc 0.2870", and test_acc
with --test), or one JSON object with --json. Progress goes to stderr: a bar
on a terminal, else one line per epoch.`,
		Example: `  nettrain train
  nettrain train --hidden 200 --lr 1e-3 --iters 4000 --out best.npz --test
  nettrain train --json --quiet --metrics run.jsonl | jq .val_acc`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Data = dataDir(opts.Data, e)
			return runTrain(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr(), e)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Data, "data", "", dataFlagHelp)
	f.IntVar(&opts.Hidden, "hidden", 50, "hidden units H")
	f.Float64Var(&opts.LR, "lr", def.LR, "learning rate")
	f.Float64Var(&opts.LRDecay, "lr-decay", def.LRDecay, "learning-rate factor after each epoch, in (0, 1]")
	f.Float64Var(&opts.Reg, "reg", def.Reg, "L2 regularisation strength")
	f.IntVar(&opts.Iters, "iters", def.Iters, "iterations (minibatches)")
	f.IntVar(&opts.Batch, "batch", def.Batch, "minibatch size")
	f.Float64Var(&opts.Std, "std", 1e-4, "standard deviation of the initial weights")
	f.Uint64Var(&opts.Seed, "seed", 0, "random seed (weights and minibatches)")
	f.IntVar(&opts.NumTrain, "num-train", cifar.DefaultNumTrain, "training images: the first N of the training batches")
	f.IntVar(&opts.NumVal, "num-val", cifar.DefaultNumVal, "validation images: the next N after the training images")
	f.IntVar(&opts.NumTest, "num-test", cifar.DefaultNumTest, "test images: the first N of test_batch.bin (10000 is all)")
	f.StringVar(&opts.Precision, "precision", def.Precision, "arithmetic of training and scoring: float32 (fast) or float64 (reference)")
	f.StringVarP(&opts.out, "out", "o", "nettrain-model.npz", "where to save the model (.npz)")
	f.StringVar(&opts.metrics, "metrics", "", "stream metrics to this file as JSON Lines")
	f.BoolVar(&opts.test, "test", false, "also report accuracy on the test split")
	f.BoolVarP(&opts.quiet, "quiet", "q", false, "no progress or log output on stderr")
	f.BoolVar(&opts.json, "json", false, "print the result as one JSON object on stdout")
	return cmd
}

func (o trainOptions) sgdConfig() sgd.Config {
	return sgd.Config{Iters: o.Iters, Batch: o.Batch, LR: o.LR, LRDecay: o.LRDecay, Reg: o.Reg, Seed: o.Seed, Precision: o.Precision}
}

func (o trainOptions) sizes() cifar.Sizes {
	return cifar.Sizes{Train: o.NumTrain, Val: o.NumVal, Test: o.NumTest}
}

// check validates the flags before any work is done.
func (o trainOptions) check() error {
	if o.Hidden < 1 {
		return usageErrorf("--hidden is %d, want at least 1", o.Hidden)
	}
	if !(o.Std > 0) || math.IsInf(o.Std, 0) {
		return usageErrorf("--std is %v, want a positive number such as 1e-4", o.Std)
	}
	if o.Precision != sgd.Float32 && o.Precision != sgd.Float64 {
		return usageErrorf("--precision is %q, want float32 or float64", o.Precision)
	}
	if err := o.sgdConfig().Check(); err != nil {
		return usageError{err}
	}
	if err := o.sizes().Check(cifar.TrainBatches*cifar.RecordsPerBatch, cifar.RecordsPerBatch); err != nil {
		return usageError{err}
	}
	if o.out == "" {
		return usageErrorf("--out is empty, want a file name such as model.npz")
	}
	return nil
}

func runTrain(ctx context.Context, o trainOptions, stdout, stderr io.Writer, e env) error {
	if err := o.check(); err != nil {
		return err
	}
	// Fail now, not after the run, if the model cannot be saved.
	if st, err := os.Stat(filepath.Dir(o.out)); err != nil || !st.IsDir() {
		return fmt.Errorf("--out %s: directory %s does not exist", o.out, filepath.Dir(o.out))
	}
	logf := func(format string, args ...any) {
		if !o.quiet {
			fmt.Fprintf(stderr, format, args...)
		}
	}

	start := time.Now()
	ds, err := e.loader.Load(o.Data)
	if err != nil {
		return err
	}
	sp, err := ds.Split(o.sizes())
	if err != nil {
		return usageError{err}
	}
	mean := cifar.Mean(sp.Train)
	logf("loaded %s: %d train, %d val, %d test images (%.1fs)\n", o.Data, sp.Train.N(), sp.Val.N(), sp.Test.N(), time.Since(start).Seconds())

	var metrics *jsonLines
	if o.metrics != "" {
		if metrics, err = createJSONLines(o.metrics); err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
		defer metrics.close()
		if err := metrics.write(struct {
			Event  string    `json:"event"`
			Config runConfig `json:"config"`
		}{"start", o.runConfig}); err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
	}

	cfg := o.sgdConfig()
	net := sgd.Init(cifar.D, o.Hidden, cifar.Classes, o.Std, o.Seed)
	epochs := (cfg.Iters) / sgd.EpochLen(sp.Train.N(), cfg.Batch)
	var bar *progressbar.ProgressBar
	if !o.quiet && e.isTerminal(stderr) {
		bar = progressbar.NewOptions(cfg.Iters,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("train"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }),
		)
	}
	var metricsErr error
	hooks := sgd.Hooks{
		Iter: func(it int, loss float64) {
			if bar != nil {
				bar.Describe(fmt.Sprintf("loss %.4f", loss))
				bar.Set(it)
			}
			if metrics != nil && metricsErr == nil {
				metricsErr = metrics.write(struct {
					Event string  `json:"event"`
					Iter  int     `json:"iter"`
					Loss  float64 `json:"loss"`
				}{"iter", it, loss})
			}
		},
		Epoch: func(ep sgd.Epoch) {
			if bar != nil {
				bar.Clear() // the line goes above the bar, which redraws on the next step
			}
			logf("epoch %d/%d  iter %d/%d  loss %.4f  train_acc %.3f  val_acc %.3f  lr %.3g\n",
				ep.Epoch, epochs, ep.Iter, cfg.Iters, ep.Loss, ep.TrainAcc, ep.ValAcc, ep.LR)
			if metrics != nil && metricsErr == nil {
				metricsErr = metrics.write(struct {
					Event string `json:"event"`
					sgd.Epoch
				}{"epoch", ep})
			}
		},
	}
	trainStart := time.Now()
	hist, err := sgd.Train(ctx, net, sgd.Data{Train: sp.Train, Val: sp.Val, Mean: mean}, cfg, hooks)
	if bar != nil {
		bar.Exit()
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted after %d iterations; nothing saved: %w", len(hist.Loss), err)
		}
		return err
	}
	if metricsErr != nil {
		return fmt.Errorf("--metrics: %w", metricsErr)
	}

	res := runResults{
		FinalLoss: hist.Loss[len(hist.Loss)-1],
		TrainAcc:  model.Accuracy(predictSet(net, o.Precision, sp.Train, mean), sp.Train.Y),
		ValAcc:    model.Accuracy(predictSet(net, o.Precision, sp.Val, mean), sp.Val.Y),
		Iters:     len(hist.Loss),
		Seconds:   time.Since(trainStart).Seconds(),
	}
	if o.test {
		acc := model.Accuracy(predictSet(net, o.Precision, sp.Test, mean), sp.Test.Y)
		res.TestAcc = &acc
	}
	meta, err := json.Marshal(runMeta{Nettrain: version(), Config: o.runConfig, Results: res, Classes: ds.Classes, Epochs: hist.Epochs})
	if err != nil {
		return err
	}
	if err := model.Save(o.out, &model.Checkpoint{Net: net, Mean: mean, Meta: meta}); err != nil {
		return err
	}
	if metrics != nil {
		if err := metrics.write(struct {
			Event string `json:"event"`
			runResults
			Model string `json:"model"`
		}{"end", res, o.out}); err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
	}
	logf("trained %d iterations in %.1fs; model saved to %s\n", res.Iters, res.Seconds, o.out)

	if o.json {
		return writeJSON(stdout, struct {
			Config runConfig `json:"config"`
			runResults
			Model string `json:"model"`
		}{o.runConfig, res, o.out})
	}
	fmt.Fprintf(stdout, "val_acc %.4f\n", res.ValAcc)
	if res.TestAcc != nil {
		fmt.Fprintf(stdout, "test_acc %.4f\n", *res.TestAcc)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
