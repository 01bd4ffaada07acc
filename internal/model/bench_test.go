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

// benchmarkLoss times one forward and backward pass in precision T on a
// batch of n CIFAR-shaped rows with h hidden units.
func benchmarkLoss[T model.Float](b *testing.B, n, h int) {
	net, x64, y := randomProblem(1, n, cifar.D, h, cifar.Classes, 1e-4)
	raw := model.RawOf[T](net)
	x := make([]T, len(x64))
	for i, v := range x64 {
		x[i] = T(v)
	}
	grads := model.NewRaw[T](cifar.D, h, cifar.Classes)
	ws := &model.Workspace[T]{}
	raw.Loss(grads, ws, x, y, 0.25) // size the workspace outside the timer
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		sinkLoss = raw.Loss(grads, ws, x, y, 0.25)
	}
	// X W1 and X^T dh dominate: two products of N*D*H multiply-adds, two
	// flops each.
	b.ReportMetric(float64(4*n*cifar.D*h)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}

func BenchmarkLoss_F64_H50_N200(b *testing.B)  { benchmarkLoss[float64](b, 200, 50) }
func BenchmarkLoss_F32_H50_N200(b *testing.B)  { benchmarkLoss[float32](b, 200, 50) }
func BenchmarkLoss_F64_H500_N200(b *testing.B) { benchmarkLoss[float64](b, 200, 500) }
func BenchmarkLoss_F32_H500_N200(b *testing.B) { benchmarkLoss[float32](b, 200, 500) }

// benchmarkPredictSet times scoring n random images with h hidden units.
func benchmarkPredictSet[T model.Float](b *testing.B, n, h int) {
	rng := rand.New(rand.NewPCG(2, 2))
	s := cifar.Set{X: make([]uint8, n*cifar.D), Y: make([]uint8, n)}
	for i := range s.X {
		s.X[i] = uint8(rng.Uint32())
	}
	mean := cifar.Mean(s)
	raw := model.RawOf[T](model.New([]int{cifar.D, h, cifar.Classes}, 1e-3, rng))
	sinkPred = make([]uint8, n)
	b.ResetTimer()
	for range b.N {
		model.PredictSet(raw, sinkPred, s, mean)
	}
}

func BenchmarkPredictSet_F64_H500_N49000(b *testing.B) { benchmarkPredictSet[float64](b, 49000, 500) }
func BenchmarkPredictSet_F32_H500_N49000(b *testing.B) { benchmarkPredictSet[float32](b, 49000, 500) }
