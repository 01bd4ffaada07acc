package run

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/sysmem"
)

// Sizes no machine holds are refused before anything is allocated, with
// one line naming the setting, the need and what the machine has; the
// default run and big but possible ones pass.
func TestCheckMemory(t *testing.T) {
	const avail = 24 << 30 // as this project's machines
	none := func(string) string { return "" }
	base := Defaults()
	if err := checkMemory(base.Needs(), 1, none, avail); err != nil {
		t.Errorf("the default run: %v", err)
	}
	for _, tc := range []struct {
		edit func(*Config)
		key  string
	}{
		{func(c *Config) { c.Hidden = Hidden{1_000_000} }, "{hidden}"},
		{func(c *Config) { c.Hidden = Hidden{50, 100_000, 100_000} }, "{hidden}"}, // 1e10 weights in the middle
		{func(c *Config) { c.Batch = 10_000_000 }, "{batch}"},
		{func(c *Config) { c.Iters = 1_000_000_000 }, "{iters}"}, // 16 GB of losses: on a machine of 8
	} {
		c := base
		tc.edit(&c)
		have := uint64(avail)
		if tc.key == "{iters}" {
			have = 8 << 30
		}
		err := checkMemory(c.Needs(), 1, none, have)
		if err == nil || !strings.Contains(err.Error(), "choose a smaller "+tc.key) || !strings.Contains(err.Error(), sysmem.Format(have)) {
			t.Errorf("%v %v %v: err %v, want a refusal naming %s", c.Hidden, c.Batch, c.Iters, err, tc.key)
		}
	}
	// The estimate scales: a run that needs about a third of what is
	// available passes, three times more fails.
	c := base
	for c.Hidden = (Hidden{1000}); c.Needs()[0].Bytes < float64(avail)/3; c.Hidden[0] *= 2 {
	}
	if err := checkMemory(c.Needs(), 1, none, avail); err != nil {
		t.Errorf("hidden %v (%s of weights): %v", c.Hidden, sysmem.Format(uint64(c.Needs()[0].Bytes)), err)
	}
	if err := checkMemory(c.Needs(), 3, none, avail); err == nil || !strings.Contains(err.Error(), "3 trials at once") {
		t.Errorf("hidden %v three times at once: err %v", c.Hidden, err)
	}
	// Keep-best, Adam and folding cost more than plain SGD.
	a := base
	a.Optimizer, a.KeepBest, a.Preprocess = "adam", true, "zca"
	if !(a.Needs()[0].Bytes > 2*base.Needs()[0].Bytes) {
		t.Errorf("adam, keep-best and ZCA: %v bytes of weights, plain sgd %v", a.Needs()[0].Bytes, base.Needs()[0].Bytes)
	}
}

// LimitMemory sets the runtime's soft limit a tenth over the needs times
// the runs at once (the data once), and leaves a GOMEMLIMIT the user set.
func TestLimitMemory(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	needs := []Need{{Key: "hidden", Bytes: 100e6}, {Key: "num_train", Bytes: 300e6, Shared: true}}
	t.Setenv("GOMEMLIMIT", "")
	LimitMemory(needs, 2)
	if got, want := debug.SetMemoryLimit(-1), int64(1.1*(2*100e6+300e6)); got != want {
		t.Errorf("limit %d, want %d", got, want)
	}
	debug.SetMemoryLimit(prev)
	t.Setenv("GOMEMLIMIT", "8GiB")
	LimitMemory(needs, 1)
	if got := debug.SetMemoryLimit(-1); got != prev {
		t.Errorf("limit %d with GOMEMLIMIT set, want it left at %d", got, prev)
	}
}
