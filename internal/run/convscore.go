package run

import (
	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/layers"
	"github.com/nettrain/nettrain/internal/model"
)

// Predict returns the class the checkpoint's net, either kind, gives each
// image of set, scored in precision ("" or float64: float64).
func Predict(ck *checkpoint.Checkpoint, set cifar.Set, precision model.Precision) []uint8 {
	if ck.Conv != nil {
		return PredictConv(ck.Conv, set, ck.Mean, precision)
	}
	return ck.Net.PredictIn(precision, set, ck.Mean)
}

// PredictConv returns a conv net's class for every image of set (the mean
// image subtracted), scored in precision ("" or float64: float64), a chunk
// of images at a time.
func PredictConv(net *layers.Net[float64], set cifar.Set, mean []float64, precision model.Precision) []uint8 {
	if precision == model.Float32 {
		return predictConv(layers.As[float32](net), set, mean)
	}
	return predictConv(net, set, mean)
}

func predictConv[T layers.Float](net *layers.Net[T], set cifar.Set, mean []float64) []uint8 {
	pred := make([]uint8, set.N())
	x := make([]T, layers.ScoreChunk*cifar.D)
	y := make([]uint8, layers.ScoreChunk)
	for i := 0; i < set.N(); i += layers.ScoreChunk {
		n := min(layers.ScoreChunk, set.N()-i)
		cifar.GatherRange(x[:n*cifar.D], y[:n], set, i, n, mean)
		net.Predict(pred[i:i+n], x[:n*cifar.D], n)
	}
	return pred
}
