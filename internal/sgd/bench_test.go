package sgd_test

import (
	"context"
	"testing"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/sgd"
)

// benchmarkStep times whole training iterations (draw, gather, forward,
// backward, update) with batch 200 and h hidden units; b.N iterations.
func benchmarkStep(b *testing.B, h int) {
	data := testData(2000, 10, 1)
	net := sgd.Init(cifar.D, h, cifar.Classes, 1e-4, 1)
	cfg := sgd.Config{Iters: b.N, Batch: 200, LR: 1e-7, LRDecay: 0.95, Reg: 0.25}
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := sgd.Train(context.Background(), net, data, cfg, sgd.Hooks{}); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkStep_H50(b *testing.B)  { benchmarkStep(b, 50) }
func BenchmarkStep_H500(b *testing.B) { benchmarkStep(b, 500) }
