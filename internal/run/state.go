package run

import (
	"fmt"
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
// its epoch, 0 for none yet, and the epochs since) and the normalisation
// its config names. It fails when the checkpoint lacks what the net needs:
// a batch-normalised net is saved folded, so it resumes only from its
// "train.*" arrays.
func Resume(ck *checkpoint.Checkpoint, s State, norm model.Norm) (*model.Net, *sgd.State, error) {
	bestValAcc, bestEpoch, sinceBest := s.BestValAcc, s.BestEpoch, s.SinceBest
	sizes := ck.Net.Sizes()
	take := func(prefix string) *model.Net {
		n := model.ZerosNorm(norm, sizes...)
		for i, p := range n.Arrays() {
			v, ok := ck.Extra[prefix+n.ArrayNames()[i]]
			if !ok || len(v) != len(p) {
				return nil
			}
			copy(p, v)
		}
		return n
	}
	net := ck.Net
	if n := take("train."); n != nil {
		net = n
	} else if net.Norm != norm {
		return nil, nil, fmt.Errorf("the checkpoint's net has %s and no train.* arrays: a run with {norm} %q cannot carry on from it (train a new one)", normText(net.Norm), norm)
	}
	st := &sgd.State{Slots: map[string][]float64{}, BestValAcc: bestValAcc, BestEpoch: bestEpoch, SinceBest: sinceBest, Best: take("best.")}
	if bestEpoch == 0 {
		st.BestValAcc = -1
	}
	for k, v := range ck.Extra {
		if rest, ok := strings.CutPrefix(k, "opt."); ok {
			st.Slots[rest] = v
		}
	}
	return net, st, nil
}

func normText(n model.Norm) string {
	if n == model.NoNorm {
		return "no normalisation"
	}
	return string(n) + " normalisation"
}
