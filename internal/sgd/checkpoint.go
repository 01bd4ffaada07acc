package sgd

import (
	"strings"

	"github.com/nettrain/nettrain/internal/model"
)

// StateArrays returns the arrays a checkpoint needs beyond the saved model
// for a resumed run to carry on exactly: the optimizer's state ("opt.*"),
// the last weights as trained ("train.*") when the saved model differs from
// them (preprocessing folded into the saved W1, or the best epoch kept),
// and the best weights so far ("best.*") with KeepBest. net is the net
// Train returned.
func StateArrays(net *model.Net, data Data, c Config, st State) map[string][]float64 {
	extra := map[string][]float64{}
	for k, v := range st.Slots {
		extra["opt."+k] = v
	}
	last := net
	if st.Last != nil {
		last = st.Last // net was set to the best epoch's weights
	}
	if data.folded() || c.KeepBest {
		for i, p := range last.Params() {
			extra["train."+model.ParamNames[i]] = p
		}
	}
	if c.KeepBest && st.Best != nil {
		for i, p := range st.Best.Params() {
			extra["best."+model.ParamNames[i]] = p
		}
	}
	return extra
}

// StateFrom rebuilds from a checkpoint written with StateArrays the net to
// resume training (the weights as trained) and the State, given the best
// validation accuracy, its epoch (0: none yet) and the epochs since, which
// the caller keeps in the checkpoint's metadata.
func StateFrom(ck *model.Checkpoint, bestValAcc float64, bestEpoch, sinceBest int) (*model.Net, *State) {
	d, h, c := ck.Net.Dims()
	take := func(prefix string) *model.Net {
		n := model.Zeros(d, h, c)
		for i, p := range n.Params() {
			v, ok := ck.Extra[prefix+model.ParamNames[i]]
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
	}
	st := &State{Slots: map[string][]float64{}, BestValAcc: bestValAcc, BestEpoch: bestEpoch, SinceBest: sinceBest, Best: take("best.")}
	if bestEpoch == 0 {
		st.BestValAcc = -1
	}
	for k, v := range ck.Extra {
		if rest, ok := strings.CutPrefix(k, "opt."); ok {
			st.Slots[rest] = v
		}
	}
	return net, st
}
