package run_test

import (
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/run"
)

// ResumeConv takes the weights as trained (train.*) when keep-best saved
// the best epoch's, the best (best.*) and the optimizer's slots, and
// refuses a checkpoint missing one of them, or holding a NaN or a running
// variance that is not positive, by the array's name.
func TestResumeConvRefusesDamagedState(t *testing.T) {
	net, err := run.ConvNet("conv4k3-bn-relu-maxpool2-fc10")
	if err != nil {
		t.Fatal(err)
	}
	extra := map[string][]float64{"opt.v.W1": make([]float64, 108)}
	for _, a := range net.Arrays() {
		extra["train."+a.Name] = append([]float64(nil), a.V...)
		extra["best."+a.Name] = append([]float64(nil), a.V...)
	}
	extra["train.W1"][3] = 0.5
	ck := &checkpoint.Checkpoint{Conv: net, Extra: extra}
	c := run.Defaults()
	c.Arch, c.KeepBest = "conv4k3-bn-relu-maxpool2-fc10", true
	state := run.State{Iter: 10, BestEpoch: 1, BestValAcc: 0.5}
	got, st, err := run.ResumeConv(ck, state, c)
	if err != nil {
		t.Fatal(err)
	}
	if got.Params()[0].V[3] != 0.5 || st.BestConv == nil || len(st.Slots["v.W1"]) != 108 || st.BestValAcc != 0.5 {
		t.Errorf("resumed W1[3] %v, best %v, slots %d, best val_acc %v", got.Params()[0].V[3], st.BestConv != nil, len(st.Slots["v.W1"]), st.BestValAcc)
	}
	for name, damage := range map[string]func(map[string][]float64){
		"the checkpoint lacks best.running_var1":          func(e map[string][]float64) { delete(e, "best.running_var1") },
		"train.b2[1] is NaN":                              func(e map[string][]float64) { e["train.b2"][1] = nan() },
		"train.running_var1[0] is 0, want a variance > 0": func(e map[string][]float64) { e["train.running_var1"][0] = 0 },
		"opt.v.W1[2] is +Inf":                             func(e map[string][]float64) { e["opt.v.W1"][2] = 1 / zero() },
		"train.W2 has 3 numbers, want 10240":              func(e map[string][]float64) { e["train.W2"] = []float64{1, 2, 3} },
	} {
		bad := map[string][]float64{}
		for k, v := range extra {
			bad[k] = append([]float64(nil), v...)
		}
		damage(bad)
		if _, _, err := run.ResumeConv(&checkpoint.Checkpoint{Conv: net, Extra: bad}, state, c); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func zero() float64 { return 0 }
func nan() float64  { z := zero(); return z / z }
