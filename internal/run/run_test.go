package run

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/preprocess"
	"github.com/nettrain/nettrain/internal/sgd"
)

// The metadata round-trips, reads the checkpoints written before this
// package (train's keys, and the sweep's trial metadata), and says when a
// checkpoint has none.
func TestMeta(t *testing.T) {
	c := Defaults()
	c.Optimizer, c.Momentum = sgd.Adam, 0.5
	m := Meta{Nettrain: "v", Config: c, State: State{Iter: 1000, Complete: true}, Sweep: &Trial{Trial: 3, Rung: 1}}
	back, ok := ReadMeta(m.Marshal())
	if !ok || !reflect.DeepEqual(back.Config, m.Config) || back.State != m.State || *back.Sweep != *m.Sweep {
		t.Errorf("round trip: %+v, %v", back, ok)
	}
	old := `{"config":{"hidden":8,"lr":0.001,"iters":12,"batch":10,"preprocess":"zca"},"state":{"iter":4,"complete":false,"best_val_acc":0.3,"best_epoch":1},"sweep":{"trial":2,"rung":0}}`
	if m, ok := ReadMeta(json.RawMessage(old)); !ok || m.Config.Preprocess != preprocess.ZCA || m.State.BestValAcc != 0.3 || m.Sweep.Trial != 2 {
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

// One hidden layer is stored as a number, as before deeper nets; more as a
// list; both read back, and the flag's forms parse.
func TestHidden(t *testing.T) {
	for _, tc := range []struct {
		h    Hidden
		json string
	}{{Hidden{50}, `50`}, {Hidden{1000, 500}, `[1000,500]`}, {Hidden{7, 6, 5}, `[7,6,5]`}} {
		b, err := json.Marshal(tc.h)
		if err != nil || string(b) != tc.json {
			t.Errorf("%v marshals to %s, %v; want %s", tc.h, b, err, tc.json)
		}
		var back Hidden
		if err := json.Unmarshal(b, &back); err != nil || !back.Equal(tc.h) {
			t.Errorf("%s reads back as %v, %v", b, back, err)
		}
		m := Meta{Config: Config{Hidden: tc.h}}
		if !strings.Contains(string(m.Marshal()), `"hidden":`+tc.json+`,`) {
			t.Errorf("metadata %s does not hold hidden %s", m.Marshal(), tc.json)
		}
		if got, err := ParseHidden(tc.h.String()); err != nil || !got.Equal(tc.h) {
			t.Errorf("ParseHidden(%q) = %v, %v", tc.h.String(), got, err)
		}
		if got, err := ParseHidden(tc.h.Dashed()); err != nil || !got.Equal(tc.h) {
			t.Errorf("ParseHidden(%q) = %v, %v", tc.h.Dashed(), got, err)
		}
	}
	var h Hidden
	if err := json.Unmarshal([]byte(`"50"`), &h); err == nil {
		t.Errorf(`"50" read as hidden %v`, h)
	}
	for _, bad := range []string{"", ",", "0", "50,0", "-5", "5.5", "1e3", "abc", "50--3", strings.Repeat("2,", MaxHiddenLayers) + "2"} {
		h, err := ParseHidden(bad)
		if err == nil {
			err = h.Check()
		}
		if err == nil {
			t.Errorf("ParseHidden(%q) = %v, want an error", bad, h)
		} else if !strings.Contains(err.Error(), "{hidden}") {
			t.Errorf("ParseHidden(%q): %v does not name the setting", bad, err)
		}
	}
	if _, err := ParseHidden("0"); err != nil {
		t.Errorf("ParseHidden(\"0\"): %v; the syntax is right, Check refuses the value", err)
	}
	if s := (Hidden{1000, 500}).Sizes(3072, 10); !reflect.DeepEqual(s, []int{3072, 1000, 500, 10}) {
		t.Errorf("Sizes = %v", s)
	}
}

// Every setting has a key, the keys are the config's JSON keys, Setting
// reads each.
func TestSettings(t *testing.T) {
	c := Config{Hidden: Hidden{1000, 500}, LR: 0.001, Iters: 7, Options: Options{Optimizer: sgd.Adam, Flip: true, Patience: 3}}
	// Every option set, so that none is left out of the JSON by omitempty.
	full := Config{Hidden: Hidden{1}}
	opts := reflect.ValueOf(&full.Options).Elem()
	for i := range opts.NumField() {
		switch f := opts.Field(i); f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Float64:
			f.SetFloat(1)
		case reflect.Int:
			f.SetInt(1)
		case reflect.Bool:
			f.SetBool(true)
		default:
			t.Fatalf("option %s of kind %s", opts.Type().Field(i).Name, f.Kind())
		}
	}
	b, _ := json.Marshal(full)
	var m map[string]any
	json.Unmarshal(b, &m)
	keys := Keys()
	if len(keys) != len(m) {
		t.Errorf("keys %v, JSON %v", keys, m)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q is not in the config's JSON", k)
		}
		if _, ok := c.Field(k); !ok {
			t.Errorf("Field(%q) not found", k)
		}
	}
	for key, want := range map[string]string{"hidden": "1000,500", "lr": "0.001", "iters": "7", "optimizer": "adam", "flip": "true", "patience": "3", "dropout": "0"} {
		if got := c.Value(key); got != want {
			t.Errorf("Value(%q) = %q; want %q", key, got, want)
		}
	}
	if _, ok := c.Field("nope"); ok {
		t.Error("Field(nope) found")
	}
	if n := (Config{}).Normalized(); n.Optimizer != sgd.SGD || n.Momentum != 0.9 || n.Schedule != sgd.Step || n.Preprocess != preprocess.Mean || n.ZCAEps != 0.1 || n.Precision != "float64" {
		t.Errorf("Normalized() = %+v", n)
	}
}
