package model_test

import (
	"math/rand/v2"
	"testing"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/model"
)

var (
	sinkLoss float64
	sinkPred []uint8
)

// benchmarkLoss times one forward and backward pass on a batch of n
// CIFAR-shaped rows with h hidden units: the work of one training step.
func benchmarkLoss(b *testing.B, n, h int) {
	net, x, y := randomProblem(1, n, cifar.D, h, cifar.Classes, 1e-4)
	grads := model.Zeros(cifar.D, h, cifar.Classes)
	ws := &model.Workspace{}
	net.Loss(grads, ws, x, y, 0.25) // size the workspace outside the timer
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		sinkLoss = net.Loss(grads, ws, x, y, 0.25)
	}
	// X W1 and X^T dh dominate: two products of N*D*H multiply-adds, two
	// flops each.
	b.ReportMetric(float64(4*n*cifar.D*h)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}

func BenchmarkLoss_H50_N200(b *testing.B)  { benchmarkLoss(b, 200, 50) }
func BenchmarkLoss_H500_N200(b *testing.B) { benchmarkLoss(b, 200, 500) }

// benchmarkPredictSet times scoring n images with h hidden units.
func benchmarkPredictSet(b *testing.B, n, h int) {
	rng := rand.New(rand.NewPCG(2, 2))
	s := cifar.Set{X: make([]uint8, n*cifar.D), Y: make([]uint8, n)}
	for i := range s.X {
		s.X[i] = uint8(rng.Uint32())
	}
	mean := cifar.Mean(s)
	net := model.New(cifar.D, h, cifar.Classes, 1e-3, rng)
	sinkPred = make([]uint8, n)
	b.ResetTimer()
	for range b.N {
		net.PredictSet(sinkPred, s, mean)
	}
}

func BenchmarkPredictSet_H50_N49000(b *testing.B)  { benchmarkPredictSet(b, 49000, 50) }
func BenchmarkPredictSet_H500_N49000(b *testing.B) { benchmarkPredictSet(b, 49000, 500) }
