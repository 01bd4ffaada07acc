package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/nettrain/nettrain/internal/preprocess"
	trainrun "github.com/nettrain/nettrain/internal/run"
	"github.com/nettrain/nettrain/internal/sgd"
)

// addTrainingFlags registers the flags of the training options that train
// and sweep share, once. With defaults, they default to the values train
// runs with; without (a sweep's), to zero values that mean the same, so
// that a sweep's recorded space stays as it was.
func addTrainingFlags(f *pflag.FlagSet, o *trainrun.Options, defaults bool) {
	str := func(v string) string {
		if defaults {
			return v
		}
		return ""
	}
	// A zero default means the value in parentheses; pflag shows a
	// non-zero default itself.
	num := func(v float64, help string) (float64, string) {
		if defaults {
			return v, help
		}
		return 0, help + fmt.Sprintf(" (default %g)", v)
	}
	f.StringVar((*string)(&o.Optimizer), "optimizer", str(string(sgd.SGD)), "update rule: sgd, momentum, nesterov or adam (cs231n's optim.py)")
	v, help := num(0.9, "momentum of --optimizer momentum and nesterov")
	f.Float64Var(&o.Momentum, "momentum", v, help)
	f.StringVar((*string)(&o.Schedule), "schedule", str(string(sgd.Step)), "learning-rate schedule: step (times --lr-decay each epoch) or cosine (to 0 over --iters)")
	f.Float64Var(&o.Dropout, "dropout", 0, "probability of dropping a hidden unit in training (inverted dropout)")
	f.BoolVar(&o.Flip, "flip", false, "mirror training images left to right at random")
	f.StringVar((*string)(&o.Preprocess), "preprocess", str(string(preprocess.Mean)), "input preprocessing: mean (subtract the mean image), channel (per-channel standardisation) or zca (whitening fitted on the train split)")
	v, help = num(0.1, "ZCA regulariser, in units of pixels scaled to [0, 1]")
	f.Float64Var(&o.ZCAEps, "zca-eps", v, help)
	f.BoolVar(&o.KeepBest, "keep-best", false, "keep the weights of the epoch with the best validation accuracy")
	f.IntVar(&o.Patience, "patience", 0, "stop after this many epochs without a better validation accuracy (0: never)")
	f.Float64Var(&o.WeightDecay, "weight-decay", 0, "decoupled weight decay (AdamW, SGDW): each step also shrinks every W by lr times this")
	f.IntVar(&o.Translate, "translate", 0, "shift each training image by up to this many pixels each way, at random (0: never)")
	f.StringVar((*string)(&o.TranslatePad), "translate-pad", str(string(sgd.PadZero)), "what --translate brings in at the border: zero (the mean image) or reflect")
	f.IntVar(&o.Warmup, "warmup", 0, "raise the learning rate linearly over this many first iterations (0: no warm-up)")
	f.Float64Var(&o.LabelSmoothing, "label-smoothing", 0, "train on targets (1-e) onehot + e/10 instead of onehot")
	f.StringVar((*string)(&o.Norm), "norm", "", "normalise after each hidden affine layer: batch or layer (cs231n's; default none)")
}

// hiddenFlag is --hidden of train and gradcheck: the widths of the hidden
// layers, "50" or "1000,500" (or "1000-500", as a sweep writes a choice).
// It parses; the command checks the values.
type hiddenFlag struct{ h *trainrun.Hidden }

func (f hiddenFlag) String() string {
	if f.h == nil {
		return ""
	}
	return f.h.String()
}

func (f hiddenFlag) Set(s string) error {
	h, err := trainrun.ParseHidden(s)
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "{hidden} "+strconv.Quote(s)+": "))
	}
	*f.h = h
	return nil
}

func (hiddenFlag) Type() string { return "widths" }
