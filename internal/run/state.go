package run

import (
	"fmt"
	"math"
	"strings"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/preprocess"
	"github.com/nettrain/nettrain/internal/sgd"
)

// stateArrays returns the arrays a checkpoint needs beyond the saved model
// for a resumed run to carry on exactly: the optimizer's state ("opt.*"),
// the last weights as trained ("train.*", with batch normalisation's gamma,
// beta and running statistics) when the saved model differs from them
// (preprocessing or batch normalisation folded into the saved weights, or
// the best epoch kept), and the best weights so far ("best.*") with
// KeepBest. net is the net Train returned.
func stateArrays(net *model.Net, data preprocess.Data, c sgd.Config, st sgd.State) map[string][]float64 {
	extra := map[string][]float64{}
	for k, v := range st.Slots {
		extra["opt."+k] = v
	}
	last := net
	if st.Last != nil {
		last = st.Last // net was set to the best epoch's weights
	}
	names := net.ArrayNames()
	if data.Folded() || c.KeepBest || net.Norm == model.BatchNorm {
		for i, p := range last.Arrays() {
			extra["train."+names[i]] = p
		}
	}
	if c.KeepBest && st.Best != nil {
		for i, p := range st.Best.Arrays() {
			extra["best."+names[i]] = p
		}
	}
	return extra
}

// Resume rebuilds from a checkpoint that Checkpoint wrote the net to resume
// training from (the weights as trained) and the loop's state, given the
// run's State from the checkpoint's metadata (the best validation accuracy,
// its epoch, 0 for none yet, and the epochs since) and its config c. It
// validates every array it restores, and fails, naming the array, when one
// the run needs is missing (the weights as trained, when the saved ones
// have preprocessing or batch normalisation folded in or are the best
// epoch's; the best weights, with keep_best once an epoch has been best)
// or has the wrong length, or holds a value that is not finite, or a
// variance that is not positive.
func Resume(ck *checkpoint.Checkpoint, s State, c Config) (*model.Net, *sgd.State, error) {
	take := func(prefix string, need bool) (*model.Net, error) {
		n := model.ZerosNorm(c.Norm, ck.Net.Sizes()...)
		if ok, err := restore(ck.Extra, prefix, n.ArrayNames(), n.Arrays(), need); !ok {
			return nil, err
		}
		return n, nil
	}
	trained, err := take("train.", c.folded() || c.KeepBest)
	if err != nil {
		return nil, nil, err
	}
	net := ck.Net
	if trained != nil {
		net = trained
	} else if net.Norm != c.Norm {
		return nil, nil, fmt.Errorf("the checkpoint's net has %s and no train.* arrays: a run with {norm} %q cannot carry on from it (train a new one)", normText(net.Norm), c.Norm)
	}
	best, err := take("best.", c.KeepBest && s.BestEpoch > 0)
	if err != nil {
		return nil, nil, err
	}
	st, err := loopState(ck.Extra, s)
	st.Best = best
	return net, st, err
}

// restore copies the arrays prefix+names[i] of extra into dst[i], each
// validated (checkValues) and of dst[i]'s length. With none of them there
// it returns false, an error if need says the run needs them; with some
// there, every one must be: an incomplete checkpoint is refused by the
// missing array's name.
func restore(extra map[string][]float64, prefix string, names []string, dst [][]float64, need bool) (bool, error) {
	have := false
	for _, name := range names {
		_, ok := extra[prefix+name]
		have = have || ok
	}
	if !have && !need {
		return false, nil
	}
	for i, p := range dst {
		key := prefix + names[i]
		v, ok := extra[key]
		switch {
		case !ok:
			return false, fmt.Errorf("the checkpoint lacks %s, which the run needs to carry on (an incomplete checkpoint; train afresh)", key)
		case len(v) != len(p):
			return false, fmt.Errorf("%s has %d numbers, want %d", key, len(v), len(p))
		}
		if err := checkValues(key, v); err != nil {
			return false, err
		}
		copy(p, v)
	}
	return true, nil
}

// loopState returns the loop's state to resume from: the run's State s
// (the best validation accuracy, its epoch, 0 for none yet, and the epochs
// since) and the optimizer's slots from extra's opt.* arrays, validated.
func loopState(extra map[string][]float64, s State) (*sgd.State, error) {
	st := &sgd.State{Slots: map[string][]float64{}, BestValAcc: s.BestValAcc, BestEpoch: s.BestEpoch, SinceBest: s.SinceBest}
	if s.BestEpoch == 0 {
		st.BestValAcc = -1
	}
	for k, v := range extra {
		if rest, ok := strings.CutPrefix(k, "opt."); ok {
			if err := checkValues(k, v); err != nil {
				return st, err
			}
			st.Slots[rest] = v
		}
	}
	return st, nil
}

// checkValues returns an error unless every value of the array key is
// finite, and, for batch norm's running variance, positive.
func checkValues(key string, v []float64) error {
	name := key[strings.LastIndex(key, ".")+1:] // opt.avg.running_var3: running_var3
	for i, x := range v {
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0):
			return fmt.Errorf("%s[%d] is %v: the checkpoint is damaged (train afresh)", key, i, x)
		case strings.HasPrefix(name, "running_var") && !(x > 0):
			return fmt.Errorf("%s[%d] is %v, want a variance > 0: the checkpoint is damaged (train afresh)", key, i, x)
		}
	}
	return nil
}

// folded reports whether a run of c saves weights that differ from the
// ones it trains, preprocessing or batch normalisation folded into them:
// its checkpoints then hold the trained ones too (stateArrays).
func (c Config) folded() bool {
	return c.Preprocess != preprocess.Mean || c.Norm == model.BatchNorm
}

func normText(n model.Norm) string {
	if n == model.NoNorm {
		return "no normalisation"
	}
	return string(n) + " normalisation"
}
