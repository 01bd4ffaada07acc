package main

import (
	"os/exec"
	"path/filepath"
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
	h := trainrun.Hidden{3000}
	base := runShape{hidden: h, batch: 200, iters: 6, numTrain: 1000, float32: true}
	for _, tc := range []struct {
		name  string
		args  []string
		shape func(r *runShape)
	}{
		{"sgd", nil, func(*runShape) {}},
		{"float64", []string{"--precision", "float64"}, func(r *runShape) { r.float32 = false }},
		{"momentum", []string{"--optimizer", "momentum"}, func(r *runShape) { r.slots = 1 }},
		{"adam", []string{"--optimizer", "adam"}, func(r *runShape) { r.slots = 2 }},
		{"adam keep-best", []string{"--optimizer", "adam", "--keep-best"}, func(r *runShape) { r.slots, r.keepBest = 2, true }},
		{"batch norm", []string{"--norm", "batch"}, func(r *runShape) { r.folded = true }},
		{"deep", []string{"--hidden", "2000,2000"}, func(r *runShape) { r.hidden = trainrun.Hidden{2000, 2000} }},
		{"zca", []string{"--preprocess", "zca", "--hidden", "100", "--num-train", "20000"}, func(r *runShape) {
			r.hidden, r.zca, r.folded, r.numTrain = trainrun.Hidden{100}, true, true, 20000
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			tc.shape(&r)
			var est float64
			for _, n := range trainNeeds(r) {
				est += n.bytes
			}
			args := append([]string{"train", "--data", data, "--hidden", h.String(), "--iters", "6", "--batch", "200", "--num-train", "1000", "-q",
				"--out", filepath.Join(t.TempDir(), "m.npz")}, tc.args...)
			cmd := exec.Command(bin, args...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			peak := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) * 1024
			t.Logf("estimate %s, peak %s (%.2f)", sysmem.Format(uint64(est)), sysmem.Format(uint64(peak)), peak/est)
			if peak > 1.15*est {
				t.Errorf("peak %s is %.0f%% over the estimate %s", sysmem.Format(uint64(peak)), 100*(peak/est-1), sysmem.Format(uint64(est)))
			}
		})
	}
}
