package sgd_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/gemm"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/preprocess"
	"github.com/nettrain/nettrain/internal/sgd"
)

// benchData is a training set of the real run's size, so that the
// per-epoch validation scoring is amortised over 245 iterations as there.
var benchData = sync.OnceValue(func() preprocess.Data { return testData(49000, 1000, 1) })

// benchmarkStep times whole training iterations (draw, gather, forward,
// backward, update, and the epochs' validation scoring) with batch 200 and
// h hidden units: on our kernel with 1 thread and with 2, then on the
// backends (gonum's pure Go; OpenBLAS in the openblas build), one after the
// other so that their ratios come from the same moments; b.N iterations.
func benchmarkStep(b *testing.B, precision model.Precision, h int) {
	saved := gemm.Kernel()
	defer gemm.Use(saved)
	defer gemm.SetThreads(0)
	for _, im := range []struct {
		name string
		nt   int
	}{{saved, 1}, {saved, 2}, {"gonum", 1}, {"openblas", 1}} {
		if gemm.Use(im.name) != nil {
			continue // openblas only in the openblas build
		}
		b.Run(fmt.Sprintf("%s/threads=%d", im.name, im.nt), func(b *testing.B) {
			gemm.SetThreads(im.nt)
			benchmarkStepOn(b, precision, h)
		})
	}
}

func benchmarkStepOn(b *testing.B, precision model.Precision, h int) {
	data := benchData()
	net := sgd.Init([]int{cifar.D, h, cifar.Classes}, 1e-4, 1)
	cfg := sgd.Config{Iters: b.N, Batch: 200, LR: 1e-7, LRDecay: 0.95, Reg: 0.25, Precision: precision}
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := sgd.Train(context.Background(), net, data, cfg, sgd.Hooks{}); err != nil {
		b.Fatal(err)
	}
}

// W1 and W2 of the speed issue: H 50 and H 500, batch 200.
func BenchmarkStep_F64_H50(b *testing.B)  { benchmarkStep(b, sgd.Float64, 50) }
func BenchmarkStep_F32_H50(b *testing.B)  { benchmarkStep(b, sgd.Float32, 50) }
func BenchmarkStep_F64_H500(b *testing.B) { benchmarkStep(b, sgd.Float64, 500) }
func BenchmarkStep_F32_H500(b *testing.B) { benchmarkStep(b, sgd.Float32, 500) }
