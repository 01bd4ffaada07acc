package run

import (
	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/layers"
	"github.com/nettrain/nettrain/internal/model"
)

// Predict returns the class the checkpoint's net, either kind, gives each
// image of set, scored in precision ("" or float64: float64); with tta
// (a conv net's only) averaged over the views of TTAViews.
func Predict(ck *checkpoint.Checkpoint, set cifar.Set, precision model.Precision, tta bool) []uint8 {
	if ck.Conv != nil {
		return PredictConv(ck.Conv, set, ck.Mean, precision, tta)
	}
	return ck.Net.PredictIn(precision, set, ck.Mean)
}

// PredictConv returns a conv net's class for every image of set (the mean
// image subtracted), scored in precision ("" or float64: float64), a chunk
// of images at a time; with tta, the class of the weighted mean of the
// scores of the TTAViews.
func PredictConv(net *layers.Net[float64], set cifar.Set, mean []float64, precision model.Precision, tta bool) []uint8 {
	if precision == model.Float32 {
		return predictConv(layers.As[float32](net), set, mean, tta)
	}
	return predictConv(net, set, mean, tta)
}

// View is one view of an image for test-time augmentation: the image
// mirrored left to right (Flip), then shifted Dx pixels right and Dy down
// (reflecting at the border, as training's {translate_pad} reflect), its
// scores weighted W.
type View struct {
	Flip   bool
	Dx, Dy int
	W      float64
}

// TTAViews are airbench's level 2 of test-time augmentation: the image
// and its mirror, 1/4 each, and both of them shifted by one pixel up and
// left and by one down and right, 1/8 each; the scores averaged.
var TTAViews = []View{
	{false, 0, 0, 0.25}, {true, 0, 0, 0.25},
	{false, 1, 1, 0.125}, {true, 1, 1, 0.125},
	{false, -1, -1, 0.125}, {true, -1, -1, 0.125},
}

func predictConv[T layers.Float](net *layers.Net[T], set cifar.Set, mean []float64, tta bool) []uint8 {
	pred := make([]uint8, set.N())
	x := make([]T, layers.ScoreChunk*cifar.D)
	y := make([]uint8, layers.ScoreChunk)
	var s ttaScorer[T]
	for i := 0; i < set.N(); i += layers.ScoreChunk {
		n := min(layers.ScoreChunk, set.N()-i)
		if tta {
			s.predict(pred[i:i+n], net, set, i, n, mean)
			continue
		}
		cifar.GatherRange(x[:n*cifar.D], y[:n], set, i, n, mean)
		net.Predict(pred[i:i+n], x[:n*cifar.D], n)
	}
	return pred
}

// ttaScorer scores the views of a chunk of images.
type ttaScorer[T layers.Float] struct {
	x, tmp []T
	y      []uint8
	idx    []int
	flip   []bool
	sum    []float64
}

// scores returns the weighted sum of the scores of the views of images
// [i, i+n) of set (n, classes).
func (s *ttaScorer[T]) scores(net *layers.Net[T], set cifar.Set, i, n int, mean []float64) []float64 {
	c := net.Classes()
	s.x = grow(s.x, n*cifar.D)
	s.tmp = grow(s.tmp, cifar.D)
	s.y, s.idx, s.flip = grow(s.y, n), grow(s.idx, n), grow(s.flip, n)
	s.sum = grow(s.sum, n*c)
	clear(s.sum)
	for r := range s.idx {
		s.idx[r] = i + r
	}
	for _, v := range TTAViews {
		for r := range s.flip {
			s.flip[r] = v.Flip
		}
		cifar.GatherAug(s.x, s.y, set, s.idx, mean, nil, s.flip)
		dx := v.Dx
		if v.Flip { // the mirror of the shifted image: shifted the other way
			dx = -dx
		}
		for r := range n {
			cifar.Shift(s.x[r*cifar.D:(r+1)*cifar.D], s.tmp, dx, v.Dy, true)
		}
		for k, sc := range net.Scores(s.x, n) {
			s.sum[k] += v.W * float64(sc)
		}
	}
	return s.sum[:n*c]
}

// predict writes the class of the views' scores of images [i, i+n) of
// set into dst (layers.NotFinite where a score is not finite).
func (s *ttaScorer[T]) predict(dst []uint8, net *layers.Net[T], set cifar.Set, i, n int, mean []float64) {
	sum := s.scores(net, set, i, n, mean)
	c := net.Classes()
	for r := range n {
		dst[r] = layers.Class(sum[r*c : (r+1)*c])
	}
}

func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}
