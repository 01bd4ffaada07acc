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
	benchmarkLossNorm[T](b, n, h, model.NoNorm)
}

// benchmarkLossNorm is benchmarkLoss with a normalisation after the hidden
// layer.
func benchmarkLossNorm[T model.Float](b *testing.B, n, h int, norm model.Norm) {
	net, x64, y := randomProblem(1, n, cifar.D, h, cifar.Classes, 1e-4)
	if norm != model.NoNorm {
		net.Norm = norm
		net.Layers[0].Gamma, net.Layers[0].Beta = make([]float64, h), make([]float64, h)
		for i := range h {
			net.Layers[0].Gamma[i] = 1
		}
		if norm == model.BatchNorm {
			net.Layers[0].RunMean, net.Layers[0].RunVar = make([]float64, h), make([]float64, h)
		}
	}
	raw := model.RawOf[T](net)
	x := make([]T, len(x64))
	for i, v := range x64 {
		x[i] = T(v)
	}
	grads := model.NewRawNorm[T](norm, cifar.D, h, cifar.Classes)
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
func BenchmarkLoss_F32_H500_N200_BatchNorm(b *testing.B) {
	benchmarkLossNorm[float32](b, 200, 500, model.BatchNorm)
}
func BenchmarkLoss_F32_H500_N200_LayerNorm(b *testing.B) {
	benchmarkLossNorm[float32](b, 200, 500, model.LayerNorm)
}

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
