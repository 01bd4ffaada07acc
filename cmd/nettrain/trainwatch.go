package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	trainrun "github.com/nettrain/nettrain/internal/run"
	"github.com/nettrain/nettrain/internal/sgd"
)

// trainWatch is what train shows and records of a run as it goes: the
// progress bar and the log lines on stderr, and the --metrics file. A
// failing --metrics never costs the model: it is warned about once, and
// the run goes on.
type trainWatch struct {
	o       trainOptions
	stderr  io.Writer
	e       env
	resumed bool
	bar     *progressbar.ProgressBar
	metrics *jsonLines
	err     error // the first --metrics failure
}

func newTrainWatch(o trainOptions, stderr io.Writer, e env, resumed bool) *trainWatch {
	return &trainWatch{o: o, stderr: stderr, e: e, resumed: resumed}
}

// print writes a line of progress, unless --quiet.
func (w *trainWatch) print(format string, args ...any) {
	if !w.o.quiet {
		fmt.Fprintf(w.stderr, format, args...)
	}
}

// logf writes a line of progress outside training: the bar, if any, is done.
func (w *trainWatch) logf(format string, args ...any) {
	w.done()
	w.print(format, args...)
}

// done ends the progress bar.
func (w *trainWatch) done() {
	if w.bar != nil {
		w.bar.Exit()
		w.bar = nil
	}
}

func (w *trainWatch) close() {
	w.done()
	if w.metrics != nil {
		// A metrics file whose last writes fail only at close (NFS, a full
		// disk) is a failed side output, as a failed write is.
		if err := w.metrics.close(); err != nil && w.err == nil {
			w.err = err
		}
		w.metrics = nil
	}
}

// write appends one event to --metrics, and warns once, at the failure,
// that the metrics stopped and training goes on.
func (w *trainWatch) write(it int, v any) {
	if w.metrics == nil || w.err != nil {
		return
	}
	if w.err = w.metrics.write(v); w.err != nil {
		if w.bar != nil {
			w.bar.Clear()
		}
		fmt.Fprintf(w.stderr, "nettrain: warning: --metrics %s failed at iteration %d (%v); training goes on and the model will be saved\n", w.o.metrics, it, w.err)
	}
}

// event records that the model was saved at iteration it: a snapshot, or
// at an interruption (written even after a failure, as the last word).
func (w *trainWatch) event(name string, it int) {
	v := trainrun.SavedEvent{Event: name, Iter: it, Model: w.o.out}
	if name == trainrun.EventInterrupted && w.metrics != nil {
		w.metrics.write(v)
		return
	}
	w.write(it, v)
}

// end records the results of a finished run.
func (w *trainWatch) end(res runResults) {
	w.write(res.Iters, trainrun.EndEvent{Event: trainrun.EventEnd, Results: res, Model: w.o.out})
}

// hooks returns the run's hooks for a training split of numTrain images.
func (w *trainWatch) hooks(numTrain int) trainrun.Hooks {
	o := w.o
	epochLen := sgd.EpochLen(numTrain, o.Batch)
	h := trainrun.Hooks{
		Log: w.logf,
		Start: func(start int) error {
			if o.metrics != "" {
				var err error
				if w.metrics, err = openJSONLines(o.metrics, w.resumed); err != nil {
					return fmt.Errorf("--metrics: %w", err)
				}
				event := trainrun.EventStart
				if w.resumed {
					event = trainrun.EventResume
				}
				if err := w.metrics.write(trainrun.StartEvent{Event: event, Iter: start, Config: o.runConfig}); err != nil {
					return fmt.Errorf("--metrics: %w", err)
				}
			}
			if !o.quiet && w.e.isTerminal(w.stderr) {
				w.bar = progressbar.NewOptions(o.Iters,
					progressbar.OptionSetWriter(w.stderr),
					progressbar.OptionSetDescription("train"),
					progressbar.OptionShowCount(),
					progressbar.OptionSetPredictTime(true),
					progressbar.OptionShowElapsedTimeOnFinish(),
					progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionSetWidth(30),
					progressbar.OptionOnCompletion(func() { fmt.Fprintln(w.stderr) }),
				)
				w.bar.Set(start)
			}
			return nil
		},
		Iter: func(it int, loss float64) {
			if w.bar != nil {
				w.bar.Describe(fmt.Sprintf("loss %.4f", loss))
				w.bar.Set(it)
			}
			w.write(it, trainrun.IterEvent{Event: trainrun.EventIter, Iter: it, Loss: loss})
		},
		Epoch: func(ep sgd.Epoch) {
			if w.bar != nil {
				w.bar.Clear() // the line goes above the bar, which redraws on the next step
			}
			w.print("epoch %d/%d  iter %d/%d  loss %.4f  train_acc %.3f  val_acc %.3f  lr %.3g\n",
				ep.Epoch, o.Iters/epochLen, ep.Iter, o.Iters, ep.Loss, ep.TrainAcc, ep.ValAcc, ep.LR)
			w.write(ep.Iter, trainrun.EpochEvent{Event: trainrun.EventEpoch, Epoch: ep})
		},
	}
	if o.saveEvery.iters > 0 || o.saveEvery.every > 0 {
		last := time.Now()
		h.Snapshot = func(it int) bool {
			if o.saveEvery.iters > 0 {
				return it%o.saveEvery.iters == 0
			}
			return time.Since(last) >= o.saveEvery.every
		}
		h.Saved = func(it int) {
			last = time.Now()
			w.event(trainrun.EventCheckpoint, it)
		}
	}
	return h
}
