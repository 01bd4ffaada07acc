package run

import (
	"encoding/json"
	"testing"

	"github.com/nettrain/nettrain/internal/sgd"
)

// The metadata round-trips, reads the checkpoints written before this
// package (train's keys, and the sweep's trial metadata), and says when a
// checkpoint has none.
func TestMeta(t *testing.T) {
	m := Meta{Nettrain: "v", Config: Config{Hidden: 50, LR: 1e-4, Iters: 1000, Options: Options{Optimizer: sgd.Adam}}, State: State{Iter: 1000, Complete: true},
		Sweep: &Trial{Trial: 3, Rung: 1}}
	back, ok := ReadMeta(m.Marshal())
	if !ok || back.Config != m.Config || back.State != m.State || *back.Sweep != *m.Sweep {
		t.Errorf("round trip: %+v, %v", back, ok)
	}
	old := `{"config":{"hidden":8,"lr":0.001,"iters":12,"batch":10,"preprocess":"zca"},"state":{"iter":4,"complete":false,"best_val_acc":0.3,"best_epoch":1},"sweep":{"trial":2,"rung":0}}`
	if m, ok := ReadMeta(json.RawMessage(old)); !ok || m.Config.Preprocess != sgd.PreZCA || m.State.BestValAcc != 0.3 || m.Sweep.Trial != 2 {
		t.Errorf("a sweep trial's metadata: %+v, %v", m, ok)
	}
	for _, bad := range []string{"", "null", `{"config":{}}`, "not json"} {
		var raw json.RawMessage
		if bad != "" {
			raw = json.RawMessage(bad)
		}
		if _, ok := ReadMeta(raw); ok {
			t.Errorf("ReadMeta(%q) ok", bad)
		}
	}
	if c := (Config{Iters: 5, Batch: 2, LR: 0.1, Options: Options{Optimizer: sgd.Momentum, KeepBest: true}}).SGD(); c.Iters != 5 || c.Optimizer != sgd.Momentum || !c.KeepBest {
		t.Errorf("SGD() = %+v", c)
	}
}
