package main

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/gemm"
	"github.com/nettrain/nettrain/internal/model"
)

// The same seed gives the same weights, to the bit, whatever the kernel
// (AVX-512, AVX2, plain Go: every one this CPU runs) and the thread count,
// in both precisions, and with ZCA whitening, whose fit is all matrix
// products (there on two runs that differ in both kernel and threads: each
// fit is seconds of products on 1536x1536 matrices).
func TestSameWeightsAnyKernelAndThreads(t *testing.T) {
	type run struct{ kernel, threads string }
	var all, zca []run
	for _, k := range gemm.Kernels() {
		for _, n := range []string{"1", "2", "3"} {
			all = append(all, run{k, n})
		}
	}
	zca = []run{{gemm.Kernels()[0], "1"}, {gemm.Kernels()[min(1, len(gemm.Kernels())-1)], "3"}}
	for _, c := range []struct {
		pre   string
		precs []string
		runs  []run
	}{
		{"mean", []string{"float32", "float64"}, all},
		{"zca", []string{"float32"}, zca},
	} {
		t.Run(c.pre, func(t *testing.T) {
			if c.pre == "zca" && testing.Short() {
				t.Skip("ZCA fits in -short mode")
			}
			for _, prec := range c.precs {
				var first *model.Net
				var firstName string
				for _, r := range c.runs {
					name := fmt.Sprintf("%s %s --threads %s", prec, r.kernel, r.threads)
					ck := trainWith(t, r.kernel, "--preprocess", c.pre, "--precision", prec, "--threads", r.threads)
					if first == nil {
						first, firstName = ck.Net, name
						continue
					}
					for k, p := range ck.Net.Params() {
						for i, v := range p {
							if w := first.Params()[k][i]; math.Float64bits(v) != math.Float64bits(w) {
								t.Fatalf("%s: %s[%d] = %v, %s gave %v", name, model.ParamNames(2, "")[k], i, v, firstName, w)
							}
						}
					}
				}
			}
		})
	}
}

// trainWith trains a small net on the fixture with the given kernel and
// extra flags, and loads the checkpoint.
func trainWith(t *testing.T, kernel string, extra ...string) *checkpoint.Checkpoint {
	t.Helper()
	saved := gemm.Kernel()
	defer gemm.Use(saved)
	defer gemm.SetThreads(0)
	if err := gemm.Use(kernel); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "m.npz")
	args := append([]string{"train", "--data", fixtureDir(t), "--hidden", "40", "--iters", "20", "--batch", "30", "--std", "1e-2",
		"--lr", "1e-2", "--zca-eps", "3", "-q", "--out", out}, small...)
	args = append(args, extra...)
	if r := runCmd(t, testEnv(), args...); r.code != 0 {
		t.Fatalf("%s %v: exit %d %s", kernel, extra, r.code, r.stderr)
	}
	ck, err := checkpoint.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	return ck
}
