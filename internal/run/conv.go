package run

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/layers"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/preprocess"
	"github.com/nettrain/nettrain/internal/setting"
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
	case c.Matmul == MatmulBF16 && c.Precision != model.Float32:
		return setting.Errorf("matmul", "{matmul} bf16 rounds float32 products' inputs: it needs {precision} float32, not %s", c.Precision)
	}
	if c.Whiten {
		a, err := layers.ParseArch(c.Arch)
		if err != nil {
			return err
		}
		if sp := a.Layers[0]; sp.Kind != "conv" || sp.S != 1 || sp.Pad != 0 || sp.N != 2*3*sp.K*sp.K || !sp.Bias {
			return setting.Errorf("whiten", "{whiten} makes the first layer whiten the image's KxK patches: it must be a convolution of 2x3xKxK filters with a bias, stride 1, no padding, such as airbench's conv24k2, not %s", sp.Text)
		}
	}
	return nil
}

// WhitenImages is how many training images (the first) a whitening layer
// is fitted to, as airbench.
const WhitenImages = 5000

// InitConv draws a new conv net's weights as c says (init, std, seed)
// and, with whiten, fits its first layer to data's first WhitenImages
// training images, their mean image subtracted.
func InitConv(net *layers.Net[float64], c Config, data preprocess.Data) error {
	if c.Init == InitNormal {
		sgd.InitConv(net, c.Std, c.Seed)
	} else {
		sgd.InitUniform(net, c.Seed, c.Init == InitDirac)
	}
	if !c.Whiten {
		return nil
	}
	n := min(WhitenImages, data.Train.N())
	x := make([]float64, n*cifar.D)
	cifar.GatherRange(x, make([]uint8, n), data.Train, 0, n, data.Mean)
	if err := layers.InitWhitening(net.Layers[0].(*layers.Conv[float64]), x, n); err != nil {
		return setting.Errorf("whiten", "{whiten}: %v", err)
	}
	return nil
}

// checkMLP refuses the settings of conv nets for the MLP.
func (c Config) checkMLP() error {
	if c.Optimizer == sgd.Muon {
		return setting.Errorf("optimizer", "{optimizer} muon trains a convolutional net's filters: add {arch}, or choose nesterov or adam")
	}
	for _, s := range []struct {
		key string
		set bool
	}{{"init", c.Init != InitNormal}, {"whiten", c.Whiten}, {"bias_lr", c.BiasLR != 1}, {"lookahead", c.Lookahead != 0}, {"tta", c.TTA}, {"matmul", c.Matmul != MatmulFloat32}} {
		if s.set {
			return setting.Errorf(s.key, "{%s} is for convolutional nets so far: add {arch}", s.key)
		}
	}
	return nil
}

// HoldsArch reports whether net is of the arch text or, with folded, of
// that arch with batch norms folded into the layers before them
// (layers.Fold), as a checkpoint holds it.
func HoldsArch(net *layers.Net[float64], arch string, folded bool) bool {
	a, err := layers.ParseArch(arch)
	if err != nil {
		return false
	}
	if !folded {
		return a.String() == net.Arch.String()
	}
	return layers.Folds(a, net.Arch)
}

// executeConv is Execute for a convolutional net (c.Arch): the same loop
// through sgd.TrainConv, scoring with PredictConv, and checkpoints of the
// net's arrays (checkpoint.Checkpoint.Conv) with what a resume needs
// (convStateArrays): at the end, at every snapshot, and when interrupted.
func executeConv(ctx context.Context, j Job, data preprocess.Data, cfg sgd.Config) (Outcome, error) {
	c := j.Config
	var net *layers.Net[float64]
	epochs := slices.Clone(j.Prev.Epochs)
	if j.Resume != nil {
		var err error
		if net, cfg.Init, err = ResumeConv(j.Resume, j.Prev.State, c); err != nil {
			return Outcome{}, fmt.Errorf("{resume} %s: %w", j.ResumePath, err)
		}
	} else {
		var err error
		if net, err = ConvNet(c.Arch); err != nil {
			return Outcome{}, err
		}
		if err := InitConv(net, c, data); err != nil {
			return Outcome{}, err
		}
	}
	logf := func(format string, args ...any) {
		if j.Hooks.Log != nil {
			j.Hooks.Log(format, args...)
		}
	}
	if j.Resume != nil {
		logf("resuming %s at iteration %d of %d\n", j.ResumePath, cfg.Start, cfg.Iters)
	}
	if j.Hooks.Start != nil {
		if err := j.Hooks.Start(cfg.Start); err != nil {
			return Outcome{}, err
		}
	}
	// The checkpoint holds saved, the net with its batch norms folded
	// (layers.Fold), as eval, numpy and PyTorch use it, and what a resume
	// needs: the net as trained among the state arrays.
	save := func(net, saved *layers.Net[float64], hist sgd.History, state State, allEpochs []sgd.Epoch, res *Results) error {
		state.From(hist.State)
		meta := Meta{Nettrain: j.Version, Config: c, State: state, Results: res, Classes: j.Classes, Epochs: allEpochs, Sweep: j.Trial}
		return checkpoint.Save(j.Out, &checkpoint.Checkpoint{Conv: saved, Mean: data.Mean, Meta: meta.Marshal(), Extra: convStateArrays(net, saved != net, cfg, hist.State)})
	}
	hooks := sgd.Hooks{Iter: j.Hooks.Iter, Epoch: j.Hooks.Epoch, Snapshot: j.Hooks.Snapshot}
	if j.Hooks.Snapshot != nil {
		hooks.SaveConv = func(net *layers.Net[float64], hist sgd.History) error {
			return j.snapshot(cfg, hist, epochs, func(st State, all []sgd.Epoch) error { return save(net, layers.Fold(net), hist, st, all, nil) })
		}
	}
	start := time.Now()
	hist, err := sgd.TrainConv(ctx, net, data, cfg, hooks)
	// The training net's buffers (2.8 GB of airbench's at batch 1024) are
	// garbage now. The collector, paced by the live heap, would let the
	// scoring net's pile on top of them: the run's peak was scoring's,
	// 5.5 GB, not training's. Collect them first.
	runtime.GC()
	epochs = append(epochs, hist.Epochs...)
	if err != nil {
		return j.stopped(err, cfg, hist, epochs, func(st State) error { return save(net, layers.Fold(net), hist, st, epochs, nil) })
	}
	state := j.finished(cfg, hist, logf)
	saved := layers.Fold(net) // scored as eval will score it
	// With tta the validation and test scores average the TTAViews; the
	// training split's is plain (six views of it would take longer than
	// an epoch), and left out with skip_train_score.
	score := func(s cifar.Set, tta bool) float64 {
		return model.Accuracy(PredictConv(saved, s, data.Mean, c.Precision, tta), s.Y)
	}
	res := Results{FinalLoss: hist.Loss[len(hist.Loss)-1], Iters: state.Iter, TTA: c.TTA}
	if !c.SkipTrainScore {
		acc := score(data.Train, false)
		res.TrainAcc = &acc
	}
	res.ValAcc = score(data.Val, c.TTA)
	res.Seconds = time.Since(start).Seconds()
	if j.Resume != nil && j.Prev.Results != nil {
		res.Seconds += j.Prev.Results.Seconds
	}
	if j.Test {
		acc := score(j.Splits.Test, c.TTA)
		res.TestAcc = &acc
	}
	if err := save(net, saved, hist, state, epochs, &res); err != nil {
		return Outcome{}, &SaveError{err}
	}
	logf("trained %d iterations in %.1fs; model saved to %s\n", len(hist.Loss), time.Since(start).Seconds(), j.Out)
	return Outcome{Results: res, State: state, Epochs: epochs, Loss: hist.Loss, Conv: saved}, nil
}

// convStateArrays is stateArrays for a conv net: the optimizer's state
// ("opt.*"), the last weights as trained ("train.*") when the checkpoint
// holds others (the best epoch's, or net folded), and the best weights
// ("best.*") with keep-best; each by the name of the parameter or running
// statistic.
func convStateArrays(net *layers.Net[float64], folded bool, c sgd.Config, st sgd.State) map[string][]float64 {
	extra := map[string][]float64{}
	for k, v := range st.Slots {
		extra["opt."+k] = v
	}
	put := func(prefix string, n *layers.Net[float64]) {
		for _, a := range n.Arrays() {
			extra[prefix+a.Name] = a.V
		}
	}
	switch {
	case st.LastConv != nil:
		put("train.", st.LastConv)
	case folded:
		put("train.", net)
	}
	if c.KeepBest && st.BestConv != nil {
		put("best.", st.BestConv)
	}
	return extra
}

// ResumeConv is Resume for a conv net: the net to carry on from (train.*
// when the checkpoint saved the best epoch's weights, else its own), and
// the loop's state, every array validated and an incomplete checkpoint
// refused by the missing array's name.
func ResumeConv(ck *checkpoint.Checkpoint, s State, c Config) (*layers.Net[float64], *sgd.State, error) {
	if ck.Conv == nil {
		return nil, nil, fmt.Errorf("the checkpoint is not a convolutional net's")
	}
	take := func(prefix string, need bool) (*layers.Net[float64], error) {
		n, err := ConvNet(c.Arch) // the net as trained; ck.Conv may be folded
		if err != nil {
			return nil, err
		}
		var names []string
		var dst [][]float64
		for _, a := range n.Arrays() {
			names, dst = append(names, a.Name), append(dst, a.V)
		}
		if ok, err := restore(ck.Extra, prefix, names, dst, need); !ok {
			return nil, err
		}
		return n, nil
	}
	kept := c.KeepBest && s.BestEpoch > 0
	folded := !HoldsArch(ck.Conv, c.Arch, false)
	net, err := take("train.", kept || folded) // the saved weights are the best epoch's, or folded
	if err != nil {
		return nil, nil, err
	}
	if net == nil {
		net = layers.As[float64](ck.Conv)
	}
	best, err := take("best.", kept)
	if err != nil {
		return nil, nil, err
	}
	st, err := loopState(ck.Extra, s)
	st.BestConv = best
	return net, st, err
}
