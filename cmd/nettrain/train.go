package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	trainrun "github.com/nettrain/nettrain/internal/run"
)

type trainOptions struct {
	saveEvery saveEvery
	runConfig
	out     string
	metrics string
	resume  string
	plots   string
	test    bool
	quiet   bool
	json    bool
	threads int
	changed func(flag string) bool // whether the user set a flag
}

func newTrainCmd(e env) *cobra.Command {
	opts := trainOptions{}
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train the two-layer network (or a deeper or convolutional one) on CIFAR-10 and save it",
		Long: `Train the two-layer network with minibatch SGD and save it as an .npz
checkpoint; --hidden 1000,500 trains a net of two hidden layers (any number
works), and --arch a convolutional net (--arch cs231n-convnet, --arch
airbench, or layers such as conv32k7-relu-maxpool2-fc100-relu-fc10). The defaults are the cs231n notebook's run (validation accuracy
near 0.29); for example --hidden 200 --lr 1e-3 --reg 0.25 --iters 4000
reaches about 0.53.

stdout gets the final validation accuracy ("val_acc 0.2900", and test_acc
with --test), or one JSON object with --json. Progress goes to stderr: a bar
on a terminal, and one line per epoch.

SIGINT (Ctrl-C) or SIGTERM stops after the current iteration, saves the
checkpoint and metrics so far and exits with status 130; a second signal
quits at once. --resume FILE carries on from such a checkpoint (or trains a
finished one longer with a larger --iters) and ends bit for bit where an
uninterrupted run would have.`,
		Example: `  nettrain train
  nettrain train --hidden 200 --lr 1e-3 --iters 4000 --out best.npz --test
  nettrain train --arch cs231n-convnet --optimizer adam --lr 1e-3 --reg 1e-3 --batch 50
  nettrain train --json --quiet --metrics run.jsonl | jq .val_acc
  nettrain train --resume best.npz --iters 8000`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.changed = cmd.Flags().Changed
			return runTrain(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr(), e)
		},
	}
	f := cmd.Flags()
	opts.runConfig = trainrun.Defaults()
	bindSettings(f, &opts.runConfig, func(trainrun.Setting) bool { return true })
	f.StringVarP(&opts.out, "out", "o", "nettrain-model.npz", "where to save the model (.npz; with --resume, default the resumed file)")
	f.StringVar(&opts.metrics, "metrics", "", "stream metrics to this file as JSON Lines (appended to with --resume)")
	f.Var(&opts.saveEvery, "save-every", "also save a resumable checkpoint to --out every N iterations or every duration (500, 10m), so that a kill loses at most that much")
	f.StringVar(&opts.resume, "resume", "", "carry on training from this checkpoint")
	f.StringVar(&opts.plots, "plots", "", "write loss.png, accuracy.png and weights.png into this directory")
	f.BoolVar(&opts.test, "test", false, "also report accuracy on the test split")
	f.BoolVarP(&opts.quiet, "quiet", "q", false, "no progress or log output on stderr")
	f.BoolVar(&opts.json, "json", false, "print the result as one JSON object on stdout")
	addThreadsFlag(f, &opts.threads)
	return cmd
}

func (o trainOptions) sizes() cifar.Sizes {
	return cifar.Sizes{Train: o.NumTrain, Val: o.NumVal, Test: o.NumTest}
}

// check validates the flags (and a resumed checkpoint's config merged
// into them) before any work is done.
func (o trainOptions) check() error {
	if err := checkThreads(o.threads); err != nil {
		return err
	}
	if err := o.runConfig.Validate(); err != nil {
		return usageError{err}
	}
	if o.out == "" {
		return usageErrorf("--out is empty, want a file name such as model.npz")
	}
	if o.Arch != "" {
		if o.changed("hidden") {
			return usageErrorf("--hidden is the fully connected net's; --arch %s replaces it", o.Arch)
		}
	}
	return nil
}

// saveEvery is --save-every: a number of iterations, or a duration.
type saveEvery struct {
	iters int
	every time.Duration
	text  string
}

func (s *saveEvery) String() string { return s.text }
func (s *saveEvery) Type() string   { return "N|duration" }
func (s *saveEvery) Set(v string) error {
	if n, err := strconv.Atoi(v); err == nil {
		if n < 1 {
			return fmt.Errorf("want a number of iterations >= 1 or a duration such as 10m")
		}
		*s = saveEvery{iters: n, text: v}
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("want a number of iterations such as 500 or a duration such as 10m")
	}
	*s = saveEvery{every: d, text: v}
	return nil
}

// resumeFrom loads the checkpoint to resume and merges its config into o
// (run.MergeResume): the run's own settings win, a flag that contradicts
// one of them is a usage error; --data, --iters and --num-test are free,
// and --out defaults to the resumed file.
func resumeFrom(o *trainOptions) (*checkpoint.Checkpoint, runMeta, error) {
	ck, err := checkpoint.Load(o.resume)
	if err != nil {
		return nil, runMeta{}, err
	}
	set := func(key string) bool { return o.changed(strings.ReplaceAll(key, "_", "-")) }
	c, meta, err := trainrun.MergeResume(ck, o.resume, o.runConfig, set)
	var ue *trainrun.UsageError
	if errors.As(err, &ue) {
		return nil, meta, usageError{ue.Err}
	}
	if err != nil {
		return nil, meta, err
	}
	o.runConfig = c
	if !o.changed("out") {
		o.out = o.resume
	}
	return ck, meta, nil
}

func runTrain(ctx context.Context, o trainOptions, stdout, stderr io.Writer, e env) error {
	var job trainrun.Job
	if o.resume != "" { // its config, and --out, default to the checkpoint's
		var err error
		if job.Resume, job.Prev, err = resumeFrom(&o); err != nil {
			return err
		}
	}
	o.Data = dataDir(o.Data, e)
	if err := o.check(); err != nil {
		return err
	}
	useThreads(o.threads, 1)
	if err := checkTrainMemory(o); err != nil {
		return err
	}
	e.holdMemory(o.runConfig.Needs(), 1)
	// Fail now, not after the run, if an output cannot be written or would
	// overwrite an input or another output.
	if err := checkOutputs(o); err != nil {
		return err
	}
	w := newTrainWatch(o, stderr, e, job.Resume != nil)
	defer w.close()

	start := time.Now()
	ds, err := e.loader.Load(o.Data)
	if err != nil {
		return err
	}
	if job.Splits, err = ds.Split(o.sizes()); err != nil {
		return usageError{err}
	}
	w.logf("loaded %s: %d train, %d val, %d test images (%.1fs)\n", o.Data, job.Splits.Train.N(), job.Splits.Val.N(), job.Splits.Test.N(), time.Since(start).Seconds())
	job.Config, job.Classes, job.Hooks = o.runConfig, ds.Classes, w.hooks(job.Splits.Train.N())
	job.Out, job.Test, job.Version, job.ResumePath = o.out, o.test, version(), o.resume
	// Until training starts (the preparation: a ZCA fit takes seconds) a
	// signal quits at once and writes nothing; from the first iteration it
	// stops after the iteration and saves.
	started := job.Hooks.Start
	job.Hooks.Start = func(it int) error {
		e.stopCleanly()
		if started != nil {
			return started(it)
		}
		return nil
	}
	out, err := trainrun.Execute(ctx, job)
	w.done()
	var ie *trainrun.InterruptedError
	if errors.As(err, &ie) {
		w.event(trainrun.EventInterrupted, ie.Iter)
		summary := ""
		if ie.Last != nil {
			summary = fmt.Sprintf(" (epoch %d: loss %.4f, val_acc %.3f)", ie.Last.Epoch, ie.Last.Loss, ie.Last.ValAcc)
		}
		return fmt.Errorf("%w after iteration %d of %d%s; checkpoint saved, resume with: nettrain train --resume %s", errInterrupted, ie.Iter, ie.Iters, summary, shellQuote(o.out))
	}
	if err != nil {
		return err
	}
	w.end(out.Results)
	w.close()
	// The model is saved; a side output that failed is reported, after the
	// results, as the reason for a non-zero exit.
	var sideErrs []string
	if w.err != nil {
		sideErrs = append(sideErrs, fmt.Sprintf("--metrics %s failed (%v) and holds the run up to the failure", o.metrics, w.err))
	}
	if o.plots != "" {
		// A resumed run has only this part's losses; plot --metrics draws the whole.
		if _, err := writeRunPlots(o.plots, out.Loss, out.Epochs, out.Net, out.Conv); err != nil {
			sideErrs = append(sideErrs, fmt.Sprintf("--plots: %v", err))
		} else {
			w.logf("plots in %s\n", o.plots)
		}
	}
	if err := printResults(stdout, o, out.Results); err != nil {
		return err
	}
	if sideErrs != nil {
		return fmt.Errorf("model saved to %s, but %s", o.out, strings.Join(sideErrs, "; and "))
	}
	return nil
}

// checkTrainMemory refuses a run that cannot fit in memory, naming the
// flag to change (or the checkpoint it came from).
func checkTrainMemory(o trainOptions) error {
	return trainrun.CheckMemory(o.runConfig.Needs(), 1, func(key string) string {
		if o.resume != "" && !o.changed(strings.ReplaceAll(key, "_", "-")) {
			return ", from the config of {resume} " + o.resume
		}
		return ""
	})
}

// printResults prints a finished run's results on stdout.
func printResults(stdout io.Writer, o trainOptions, res runResults) error {
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
