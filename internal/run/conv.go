package run

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/layers"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/preprocess"
	"github.com/nettrain/nettrain/internal/sgd"
)

// ConvNet returns the net an arch string describes, built for CIFAR-10's
// 3 x 32 x 32 images and 10 classes (its parameters zero), or an error
// naming the layer that is wrong.
func ConvNet(arch string) (*layers.Net[float64], error) {
	a, err := layers.ParseArch(arch)
	if err != nil {
		return nil, err
	}
	return layers.Build[float64](a, layers.Shape{C: 3, H: cifar.Width, W: cifar.Width}, cifar.Classes, nil)
}

// checkConv refuses the settings a convolutional net cannot take (yet),
// naming them: those of the MLP, and the options its loop does not do for
// conv nets so far.
func (c Config) checkConv() error {
	switch {
	case c.Norm != model.NoNorm:
		return errors.New("{norm} is the fully connected net's; a convolutional net's batch norm is a layer of its {arch} (bn)")
	case c.Dropout > 0:
		return errors.New("{dropout} is the fully connected net's; a convolutional net's dropout is a layer of its {arch} (dropout0.5)")
	case c.Preprocess != preprocess.Mean:
		return fmt.Errorf("{preprocess} %s: a convolutional net takes {preprocess} mean only so far", c.Preprocess)
	case c.KeepBest:
		return errors.New("{keep_best}: a convolutional net cannot keep the best epoch yet")
	}
	return nil
}

// executeConv is Execute for a convolutional net (c.Arch): the same loop
// through sgd.TrainConv, scoring with PredictConv, and a checkpoint of the
// net's arrays (checkpoint.Checkpoint.Conv).
func executeConv(ctx context.Context, j Job, data preprocess.Data, cfg sgd.Config) (Outcome, error) {
	c := j.Config
	if j.Resume != nil || j.Hooks.Snapshot != nil {
		return Outcome{}, errors.New("{arch}: a convolutional net cannot resume or save on the way yet ({resume}, {save_every})")
	}
	net, err := ConvNet(c.Arch)
	if err != nil {
		return Outcome{}, err
	}
	sgd.InitConv(net, c.Std, c.Seed)
	if j.Hooks.Start != nil {
		if err := j.Hooks.Start(0); err != nil {
			return Outcome{}, err
		}
	}
	logf := func(format string, args ...any) {
		if j.Hooks.Log != nil {
			j.Hooks.Log(format, args...)
		}
	}
	start := time.Now()
	hist, err := sgd.TrainConv(ctx, net, data, cfg, sgd.Hooks{Iter: j.Hooks.Iter, Epoch: j.Hooks.Epoch})
	state := State{Iter: len(hist.Loss)}
	save := func(res *Results) error {
		meta := Meta{Nettrain: j.Version, Config: c, State: state, Results: res, Classes: j.Classes, Epochs: hist.Epochs, Sweep: j.Trial}
		return checkpoint.Save(j.Out, &checkpoint.Checkpoint{Conv: net, Mean: data.Mean, Meta: meta.Marshal()})
	}
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		state.Interrupted = true
		if serr := save(nil); serr != nil {
			return Outcome{}, fmt.Errorf("interrupted, and the checkpoint could not be saved: %w", serr)
		}
		ie := &InterruptedError{Iter: state.Iter, Iters: cfg.Iters, Err: err}
		if len(hist.Epochs) > 0 {
			ie.Last = &hist.Epochs[len(hist.Epochs)-1]
		}
		return Outcome{State: state, Epochs: hist.Epochs, Loss: hist.Loss}, ie
	case err != nil:
		return Outcome{}, err
	}
	state.Complete, state.Stopped = state.Iter == c.Iters || hist.Stopped, hist.Stopped
	state.From(hist.State)
	if hist.Stopped {
		logf("stopped early: %d epochs without a better validation accuracy (best %.4f at epoch %d)\n", c.Patience, state.BestValAcc, state.BestEpoch)
	}
	score := func(s cifar.Set) float64 { return model.Accuracy(PredictConv(net, s, data.Mean, c.Precision), s.Y) }
	res := Results{FinalLoss: hist.Loss[len(hist.Loss)-1], TrainAcc: score(data.Train), ValAcc: score(data.Val), Iters: state.Iter,
		Seconds: time.Since(start).Seconds()}
	if j.Test {
		acc := score(j.Splits.Test)
		res.TestAcc = &acc
	}
	if err := save(&res); err != nil {
		return Outcome{}, &SaveError{err}
	}
	logf("trained %d iterations in %.1fs; model saved to %s\n", len(hist.Loss), time.Since(start).Seconds(), j.Out)
	return Outcome{Results: res, State: state, Epochs: hist.Epochs, Loss: hist.Loss}, nil
}
