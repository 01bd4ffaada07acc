package run

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/layers"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/preprocess"
	"github.com/nettrain/nettrain/internal/sgd"
)

// Job is one training run to carry out, from its first iteration or from a
// checkpoint on, to a checkpoint that eval takes and train --resume carries
// on from.
type Job struct {
	Config  Config
	Splits  cifar.Splits // the data, split as Config says
	Classes []string     // the dataset's class names, for the metadata
	Out     string       // the checkpoint to write
	Test    bool         // also score the test split
	Version string       // of the program, recorded in the metadata

	// To carry on from a checkpoint: the checkpoint, where it was read
	// (for messages) and its metadata.
	Resume     *checkpoint.Checkpoint
	ResumePath string
	Prev       Meta

	// For a sweep's trial: the data prepared once for every trial (nil:
	// Execute prepares Splits itself), the iterations of this rung (0: all
	// of Config.Iters; the schedule spans Config.Iters either way), and
	// which trial and rung it is, for the metadata.
	Data   *preprocess.Data
	Budget int
	Trial  *Trial

	Hooks Hooks
}

// Hooks let the caller watch a run from the training goroutine; nil hooks
// are skipped.
type Hooks struct {
	Log   func(format string, args ...any) // a line of progress
	Start func(iter int) error             // before the first step: iter iterations are done; an error stops the run
	Iter  func(iter int, loss float64)     // after each iteration, iter 1-based
	Epoch func(e sgd.Epoch)                // after each epoch's record

	// Snapshot, if set, is asked after each iteration whether to save a
	// checkpoint that train --resume carries on from exactly; Saved is
	// told after each such save.
	Snapshot func(iter int) bool
	Saved    func(iter int)
}

// Outcome is what a finished run ends with.
type Outcome struct {
	Results Results
	State   State
	Epochs  []sgd.Epoch          // all of them, a resumed run's earlier ones first
	Loss    []float64            // of this part's iterations
	Net     *model.Net           // the model saved: on mean-subtracted inputs, as eval takes it
	Conv    *layers.Net[float64] // or the conv net saved
}

// InterruptedError is the error of a run stopped by its context after its
// checkpoint was saved. It wraps the context's error.
type InterruptedError struct {
	Iter, Iters int        // iterations done, and the run's
	Last        *sgd.Epoch // the last epoch's record, or nil
	Err         error
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("interrupted after iteration %d of %d; checkpoint saved", e.Iter, e.Iters)
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// SaveError is the error of a run that trained but could not save its
// checkpoint.
type SaveError struct{ Err error }

func (e *SaveError) Error() string { return e.Err.Error() }
func (e *SaveError) Unwrap() error { return e.Err }

// Execute carries out j: prepares the data (fitting ZCA if asked), makes
// the net or takes the checkpoint's, trains, and saves the checkpoint to
// j.Out, at the end, at every snapshot, and when ctx is cancelled (then it
// returns an *InterruptedError). A diverged run returns *sgd.DivergedError
// and saves nothing.
func Execute(ctx context.Context, j Job) (Outcome, error) {
	c := j.Config
	if err := c.Validate(); err != nil {
		return Outcome{}, err
	}
	logf := func(format string, args ...any) {
		if j.Hooks.Log != nil {
			j.Hooks.Log(format, args...)
		}
	}
	var data preprocess.Data
	if j.Data != nil {
		data = *j.Data
	} else {
		t0 := time.Now()
		var err error
		if data, err = preprocess.Prepare(j.Splits.Train, j.Splits.Val, c.Preprocess, c.ZCAEps, c.Precision); err != nil {
			return Outcome{}, err
		}
		if data.Whiten != nil {
			logf("fitted ZCA whitening on %d images (%.1fs)\n", j.Splits.Train.N(), time.Since(t0).Seconds())
		}
	}

	cfg := c.SGD()
	if j.Budget > 0 && j.Budget < c.Iters {
		cfg.Iters, cfg.ScheduleIters = j.Budget, c.Iters
	}
	if j.Resume != nil {
		if !equalBits(j.Resume.Mean, data.Mean) {
			return Outcome{}, fmt.Errorf("{resume} %s: the mean image of this training split differs from the checkpoint's: {data} %s is not the data it was trained on", j.ResumePath, c.Data)
		}
		cfg.Start = j.Prev.State.Iter
	}
	if c.Arch != "" {
		return executeConv(ctx, j, data, cfg)
	}
	var net *model.Net
	epochs := slices.Clone(j.Prev.Epochs)
	if j.Resume != nil {
		var err error
		if net, cfg.Init, err = Resume(j.Resume, j.Prev.State, c); err != nil {
			return Outcome{}, fmt.Errorf("{resume} %s: %w", j.ResumePath, err)
		}
		logf("resuming %s at iteration %d of %d\n", j.ResumePath, cfg.Start, cfg.Iters)
	} else {
		net = sgd.InitNorm(c.Norm, c.Hidden.Sizes(cifar.D, cifar.Classes), c.Std, c.Seed)
	}
	if j.Hooks.Start != nil {
		if err := j.Hooks.Start(cfg.Start); err != nil {
			return Outcome{}, err
		}
	}

	// save writes a checkpoint that --resume carries on from exactly: at a
	// snapshot, and when interrupted.
	save := func(net *model.Net, hist sgd.History, state State, allEpochs []sgd.Epoch) error {
		state.From(hist.State)
		meta := Meta{Nettrain: j.Version, Config: c, State: state, Classes: j.Classes, Epochs: allEpochs, Sweep: j.Trial}
		return checkpoint.Save(j.Out, Checkpoint(nil, net, data, cfg, hist.State, meta))
	}
	hooks := sgd.Hooks{Iter: j.Hooks.Iter, Epoch: j.Hooks.Epoch, Snapshot: j.Hooks.Snapshot}
	if j.Hooks.Snapshot != nil {
		hooks.Save = func(net *model.Net, hist sgd.History) error {
			return j.snapshot(cfg, hist, epochs, func(st State, all []sgd.Epoch) error { return save(net, hist, st, all) })
		}
	}

	start := time.Now()
	hist, err := sgd.Train(ctx, net, data, cfg, hooks)
	epochs = append(epochs, hist.Epochs...)
	if err != nil {
		return j.stopped(err, cfg, hist, epochs, func(st State) error { return save(net, hist, st, epochs) })
	}
	state := j.finished(cfg, hist, logf)
	// The model to save and score: with KeepBest, net holds the best epoch's
	// weights; batch normalisation and preprocessing folded in (Saved), so
	// that eval (and numpy) need nothing but the weights and the mean.
	saved := Saved(net, data)
	score := func(s cifar.Set) float64 { return model.Accuracy(saved.PredictIn(c.Precision, s, data.Mean), s.Y) }
	res := Results{FinalLoss: hist.Loss[len(hist.Loss)-1], Iters: state.Iter}
	if !c.SkipTrainScore {
		acc := score(data.Train)
		res.TrainAcc = &acc
	}
	res.ValAcc = score(data.Val)
	res.Seconds = time.Since(start).Seconds()
	if j.Resume != nil && j.Prev.Results != nil {
		res.Seconds += j.Prev.Results.Seconds
	}
	if j.Test {
		acc := score(j.Splits.Test)
		res.TestAcc = &acc
	}
	meta := Meta{Nettrain: j.Version, Config: c, State: state, Results: &res, Classes: j.Classes, Epochs: epochs, Sweep: j.Trial}
	if err := checkpoint.Save(j.Out, Checkpoint(saved, net, data, cfg, hist.State, meta)); err != nil {
		return Outcome{}, &SaveError{err}
	}
	logf("trained %d iterations in %.1fs; model saved to %s\n", len(hist.Loss), time.Since(start).Seconds(), j.Out)
	return Outcome{Results: res, State: state, Epochs: epochs, Loss: hist.Loss, Net: saved}, nil
}

// equalBits reports whether a and b hold the same float64 values, bit for bit.
func equalBits(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

// snapshot saves a snapshot of a run after hist's iterations (save, given
// the state and all the epochs so far) and tells the Saved hook.
func (j Job) snapshot(cfg sgd.Config, hist sgd.History, epochs []sgd.Epoch, save func(State, []sgd.Epoch) error) error {
	it := cfg.Start + len(hist.Loss)
	if err := save(State{Iter: it}, append(slices.Clone(epochs), hist.Epochs...)); err != nil {
		return fmt.Errorf("{save_every}: saving %s at iteration %d: %w", j.Out, it, err)
	}
	if j.Hooks.Saved != nil {
		j.Hooks.Saved(it)
	}
	return nil
}

// stopped returns what a run that the loop stopped with err ends with: for
// a cancelled context, the checkpoint saved (save) and an
// *InterruptedError; otherwise err.
func (j Job) stopped(err error, cfg sgd.Config, hist sgd.History, epochs []sgd.Epoch, save func(State) error) (Outcome, error) {
	if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return Outcome{}, err
	}
	state := State{Iter: cfg.Start + len(hist.Loss), Interrupted: true}
	if serr := save(state); serr != nil {
		return Outcome{}, fmt.Errorf("interrupted, and the checkpoint could not be saved: %w", serr)
	}
	ie := &InterruptedError{Iter: state.Iter, Iters: cfg.Iters, Err: err}
	if len(epochs) > 0 {
		ie.Last = &epochs[len(epochs)-1]
	}
	return Outcome{State: state, Epochs: epochs, Loss: hist.Loss}, ie
}

// finished returns the State of a run that ran to its end (or stopped
// early by patience, which it logs).
func (j Job) finished(cfg sgd.Config, hist sgd.History, logf func(string, ...any)) State {
	c := j.Config
	state := State{Iter: cfg.Start + len(hist.Loss)}
	state.Complete, state.Stopped = state.Iter == c.Iters || hist.Stopped, hist.Stopped
	state.From(hist.State)
	if hist.Stopped {
		logf("stopped early: %d epochs without a better validation accuracy (best %.4f at epoch %d)\n", c.Patience, state.BestValAcc, state.BestEpoch)
	}
	return state
}
