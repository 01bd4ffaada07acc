package main

import (
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"

	trainrun "github.com/nettrain/nettrain/internal/run"
	"github.com/nettrain/nettrain/internal/sysmem"
)

// The memory estimate against the measured peak (the process's maximum
// resident set, as VmHWM) of short runs of each kind on a dataset of
// CIFAR-10's size: the estimate may be above the peak (it is a bound) but
// never more than 15% below it, which is what let a run that could not fit
// start and be killed.
func TestMemoryEstimateBoundsThePeak(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping process tests")
	}
	bin, data := nettrainBinary(t), fullSizeData(t)
	// A child's maximum resident set starts at this process's resident set
	// when it forks (Linux carries the high-water mark over fork and exec):
	// hand what earlier tests freed back to the system first.
	debug.FreeOSMemory()
	h := trainrun.Hidden{3000}
	base := trainrun.Defaults()
	base.Hidden, base.Iters, base.NumTrain = h, 6, 1000
	for _, tc := range []struct {
		name  string
		args  []string
		shape func(c *trainrun.Config)
	}{
		{"sgd", nil, func(*trainrun.Config) {}},
		{"float64", []string{"--precision", "float64"}, func(c *trainrun.Config) { c.Precision = "float64" }},
		{"momentum", []string{"--optimizer", "momentum"}, func(c *trainrun.Config) { c.Optimizer = "momentum" }},
		{"adam", []string{"--optimizer", "adam"}, func(c *trainrun.Config) { c.Optimizer = "adam" }},
		{"adam keep-best", []string{"--optimizer", "adam", "--keep-best"}, func(c *trainrun.Config) { c.Optimizer, c.KeepBest = "adam", true }},
		{"batch norm", []string{"--norm", "batch"}, func(c *trainrun.Config) { c.Norm = "batch" }},
		{"deep", []string{"--hidden", "2000,2000"}, func(c *trainrun.Config) { c.Hidden = trainrun.Hidden{2000, 2000} }},
		{"zca", []string{"--preprocess", "zca", "--hidden", "100", "--num-train", "20000"}, func(c *trainrun.Config) {
			c.Hidden, c.Preprocess, c.NumTrain = trainrun.Hidden{100}, "zca", 20000
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.shape(&c)
			var est float64
			for _, n := range c.Needs() {
				est += n.Bytes
			}
			args := append([]string{"train", "--data", data, "--hidden", h.String(), "--iters", "6", "--batch", "200", "--num-train", "1000", "-q",
				"--out", filepath.Join(t.TempDir(), "m.npz")}, tc.args...)
			cmd := exec.Command(bin, args...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			checkPeak(t, cmd, est)
		})
	}
	// Conv nets: their activations, patches and gradients per example.
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"cs231n-convnet adam", []string{"--arch", "cs231n-convnet", "--optimizer", "adam", "--batch", "50"}},
		{"cs231n-convnet float64 keep-best", []string{"--arch", "cs231n-convnet", "--precision", "float64", "--keep-best", "--batch", "100"}},
		{"airbench nesterov", []string{"--arch", "airbench", "--optimizer", "nesterov", "--batch", "64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := trainrun.Defaults()
			c.Iters, c.NumTrain = 6, 1000
			for i := 0; i < len(tc.args); i += 2 {
				key := strings.ReplaceAll(strings.TrimPrefix(tc.args[i], "--"), "-", "_")
				if key == "keep_best" {
					c.KeepBest = true
					i--
					continue
				}
				if err := c.Set(key, tc.args[i+1]); err != nil {
					t.Fatal(err)
				}
			}
			var est float64
			for _, n := range c.Needs() {
				est += n.Bytes
			}
			args := append([]string{"train", "--data", data, "--iters", "6", "--num-train", "1000", "-q", "--out", filepath.Join(t.TempDir(), "m.npz")}, tc.args...)
			cmd := exec.Command(bin, args...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			checkPeak(t, cmd, est)
		})
	}
	// A sweep's workers: two trials at once, the data once.
	t.Run("sweep, 2 workers", func(t *testing.T) {
		c := base
		var est float64
		for _, n := range trainrun.SweepNeeds(c) {
			if !n.Shared {
				n.Bytes *= 2
			}
			est += n.Bytes
		}
		cmd := exec.Command(bin, "sweep", "--data", data, "--hidden", h.String(), "--iters", "6", "--batch", "200", "--num-train", "1000",
			"--lr", "1e-4", "--reg", "0.25", "--lr-decay", "0.95", "--trials", "2", "--workers", "2", "-q", "--out", filepath.Join(t.TempDir(), "sw"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		checkPeak(t, cmd, est)
	})
}

// checkPeak fails unless the finished cmd's peak resident set is at most
// 15% over est.
func checkPeak(t *testing.T, cmd *exec.Cmd, est float64) {
	t.Helper()
	peak := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) * 1024
	t.Logf("estimate %s, peak %s (%.2f)", sysmem.Format(uint64(est)), sysmem.Format(uint64(peak)), peak/est)
	if peak > 1.15*est {
		t.Errorf("peak %s is %.0f%% over the estimate %s", sysmem.Format(uint64(peak)), 100*(peak/est-1), sysmem.Format(uint64(est)))
	}
}
