package run

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/setting"
	"github.com/nettrain/nettrain/internal/sgd"
)

// The schema describes every key of Config once, in Config's order, and
// its defaults are cs231n's notebook run (sgd.DefaultConfig) and valid.
func TestSchemaCoversConfig(t *testing.T) {
	var keys []string
	for _, s := range Schema {
		keys = append(keys, s.Key)
		if s.Help == "" {
			t.Errorf("%s has no help", s.Key)
		}
	}
	if !slices.Equal(keys, Keys()) {
		t.Errorf("schema keys %v\nConfig keys %v", keys, Keys())
	}
	d := Defaults()
	if err := d.Validate(); err != nil {
		t.Errorf("the defaults are invalid: %v", err)
	}
	c := sgd.DefaultConfig()
	if d.Iters != c.Iters || d.Batch != c.Batch || d.LR != c.LR || d.LRDecay != c.LRDecay || d.Reg != c.Reg || d.Precision != c.Precision {
		t.Errorf("defaults %+v, want sgd's %+v", d, c)
	}
	if d.Momentum != 0.9 || d.ZCAEps != 0.1 || d.Std != 1e-4 || d.Hidden.String() != "50" {
		t.Errorf("defaults momentum %v zca_eps %v std %v hidden %v", d.Momentum, d.ZCAEps, d.Std, d.Hidden)
	}
	// Value and Set round-trip every setting.
	for _, s := range Schema {
		var back Config
		if err := back.Set(s.Key, d.Value(s.Key)); err != nil || back.Value(s.Key) != d.Value(s.Key) {
			t.Errorf("%s: %q does not round-trip: %q, %v", s.Key, d.Value(s.Key), back.Value(s.Key), err)
		}
	}
}

// Hostile values of every numeric setting: each is refused with an error
// naming that setting, or accepted, as the setting's range says; none
// passes a NaN, an infinity or a negative count.
func TestValidateHostileValues(t *testing.T) {
	values := []string{"NaN", "+Inf", "-Inf", "-0", "1e309", "-1", "0", "9223372036854775808", "1e300"}
	for _, s := range Schema {
		if s.Kind != Float && s.Kind != Int && s.Kind != Uint {
			continue
		}
		for _, text := range values {
			c := Defaults()
			if strings.HasPrefix(s.Key, "muon_") { // {optimizer} muon's, which trains conv nets
				c.Optimizer, c.Arch = sgd.Muon, "cs231n-convnet"
			}
			if err := c.Set(s.Key, text); err != nil {
				if k, ok := setting.Key(err); !ok || k != s.Key {
					t.Errorf("%s %s: the parse error %v does not name the setting", s.Key, text, err)
				}
				continue
			}
			err := c.Validate()
			v, _ := strconv.ParseFloat(text, 64)
			valid := inRange(s, v)
			if s.Kind == Uint {
				valid = true // a seed: 0 and 2^63 are both seeds ("-1" does not parse)
			}
			switch {
			case valid && err != nil:
				t.Errorf("%s %s: %v, want it accepted", s.Key, text, err)
			case !valid && err == nil:
				t.Errorf("%s %s accepted", s.Key, text)
			case !valid:
				if k, ok := setting.Key(err); !ok || k != s.Key {
					t.Errorf("%s %s: error %q names %q", s.Key, text, err, k)
				}
			}
		}
	}
}

// inRange is the range of s written out plainly, apart from Validate.
func inRange(s Setting, v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) || s.Kind == Float && v == 0 && math.Signbit(v) {
		return false // an integer -0 is 0
	}
	if v < s.Min || v > s.Max || s.MinOpen && v == s.Min || s.MaxOpen && v == s.Max {
		return false
	}
	if s.Key == "num_train" || s.Key == "num_val" { // together within the training batches
		return v+1000 <= 50000
	}
	return true
}

// Explicit zeros are what they say: momentum 0 is refused (it would be plain
// SGD), and Normalized reads an old checkpoint's missing values as the
// defaults they stood for.
func TestZeroIsNotADefault(t *testing.T) {
	c := Defaults()
	c.Momentum = 0
	if err := c.Validate(); err == nil {
		t.Error("momentum 0 accepted")
	}
	old := Config{Hidden: Hidden{50}, LR: 1e-3, LRDecay: 0.95, Iters: 10, Batch: 10, Std: 1e-4, NumTrain: 49000, NumVal: 1000, NumTest: 1000}
	if err := old.Normalized().Validate(); err != nil {
		t.Errorf("an old checkpoint's config: %v", err)
	}
	// A checkpoint that lacks momentum (older versions left it out) was
	// trained with 0.9; one that says 0 says 0, and Validate refuses it.
	if m, err := ParseMeta([]byte(`{"config":{"hidden":8}}`)); err != nil || m.Config.Momentum != 0.9 || m.Config.ZCAEps != 0.1 {
		t.Errorf("missing keys: momentum %v zca_eps %v, %v", m.Config.Momentum, m.Config.ZCAEps, err)
	}
	if m, err := ParseMeta([]byte(`{"config":{"hidden":8,"momentum":0}}`)); err != nil || m.Config.Momentum != 0 {
		t.Errorf("momentum 0 read as %v, %v", m.Config.Momentum, err)
	}
	if _, err := ParseMeta([]byte(`{"config":{"hidden":8,"batch":1e20}}`)); err == nil || !strings.Contains(err.Error(), "{batch}") {
		t.Errorf("batch 1e20: %v, want an error naming {batch}", err)
	}
}

func TestCheckValue(t *testing.T) {
	for _, tc := range []struct {
		key string
		v   float64
		ok  bool
	}{
		{"lr", 1e-3, true}, {"lr", 0, false}, {"lr", math.Inf(1), false}, {"lr_decay", 1, true}, {"lr_decay", 1.5, false},
		{"hidden", 100, true}, {"hidden", 0, false}, {"hidden", 1e8, false}, {"hidden", 2.5, false},
		{"iters", 1, true}, {"iters", -1, false}, {"batch", math.NaN(), false}, {"reg", 0, true},
	} {
		err := CheckValue(tc.key, tc.v)
		if (err == nil) != tc.ok {
			t.Errorf("CheckValue(%s, %v) = %v, want ok %v", tc.key, tc.v, err, tc.ok)
		}
	}
}
