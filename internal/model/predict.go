package model

import (
	"sync"

	"github.com/nettrain/nettrain/internal/gemm"
)

// chunkRows is how many images a Scorer scores at a time. It is fixed, not
// derived from the number of workers, so that the predictions are the same
// however many goroutines run.
const chunkRows = 500

// Images is a set of images as bytes, one row of D pixels each, the way
// the data layer holds them (cifar.Set is one). The net knows nothing else
// of where they come from.
type Images interface {
	N() int
	Row(i int) []uint8
}

// Scorer predicts the classes of whole image sets, chunks of images in
// parallel, one float buffer and Workspace per worker. It keeps its buffers
// between calls, so that scoring the validation set every epoch allocates
// nothing after the first time. A Scorer serves one goroutine at a time.
type Scorer[T Float] struct {
	workers []scoreWorker[T]
}

type scoreWorker[T Float] struct {
	x  []T
	ws Workspace[T]
}

// PredictSet writes the predicted class of every image of s, with mean
// subtracted, into dst and returns it; nil dst allocates.
func (sc *Scorer[T]) PredictSet(r *Raw[T], dst []uint8, s Images, mean []float64) []uint8 {
	if dst == nil {
		dst = make([]uint8, s.N())
	}
	if len(dst) != s.N() {
		panic("model: PredictSet: dst has the wrong length")
	}
	d := r.Sizes[0]
	if len(mean) != d {
		panic("model: PredictSet: the mean image does not fit the net")
	}
	chunks := (s.N() + chunkRows - 1) / chunkRows
	// Chunks in parallel, one thread each: no product is split.
	nw := min(gemm.Threads(), chunks)
	if len(sc.workers) < nw {
		sc.workers = append(sc.workers, make([]scoreWorker[T], nw-len(sc.workers))...)
	}
	rows := min(chunkRows, s.N())
	var next sync.Mutex // guards k
	k := 0
	var wg sync.WaitGroup
	for w := range sc.workers[:nw] {
		sw := &sc.workers[w]
		sw.ws.Threads = 1
		if len(sw.x) < rows*d {
			sw.x = make([]T, rows*d)
		}
		wg.Go(func() {
			for {
				next.Lock()
				c := k
				k++
				next.Unlock()
				if c >= chunks {
					return
				}
				i := c * chunkRows
				n := min(chunkRows, s.N()-i)
				for row := range n {
					src, x := s.Row(i+row), sw.x[row*d:(row+1)*d:(row+1)*d]
					if len(src) != d {
						panic("model: PredictSet: an image does not fit the net")
					}
					for j, p := range src {
						x[j] = T(float64(p) - mean[j]) // as cifar.GatherRange
					}
				}
				r.Predict(dst[i:i+n], &sw.ws, sw.x[:n*d])
			}
		})
	}
	wg.Wait()
	return dst
}

// PredictSet is Scorer.PredictSet with a fresh Scorer.
func PredictSet[T Float](r *Raw[T], dst []uint8, s Images, mean []float64) []uint8 {
	var sc Scorer[T]
	return sc.PredictSet(r, dst, s, mean)
}

// Precision is the arithmetic a net computes in: float32 for speed, float64
// for reference.
type Precision string

// Precisions.
const (
	Float32 Precision = "float32"
	Float64 Precision = "float64"
)

// Valid reports whether p is a precision ("" is float32 in training).
func (p Precision) Valid() bool { return p == "" || p == Float32 || p == Float64 }

// PredictIn scores the images of s, with mean subtracted, in the given
// precision (Float32, else Float64): the one a run trained in, so that what
// a run reports and what eval prints agree.
func (n *Net) PredictIn(precision Precision, s Images, mean []float64) []uint8 {
	if precision == Float32 {
		return PredictSet(RawOf[float32](n), nil, s, mean)
	}
	return n.PredictSet(nil, s, mean)
}

// PredictSet is PredictSet in float64 on n's own parameters.
func (n *Net) PredictSet(dst []uint8, s Images, mean []float64) []uint8 {
	return PredictSet(n.Raw(), dst, s, mean)
}

// Accuracy returns the fraction of pred equal to y.
func Accuracy(pred, y []uint8) float64 {
	if len(pred) != len(y) {
		panic("model: Accuracy: length mismatch")
	}
	if len(y) == 0 {
		return 0
	}
	hit := 0
	for i := range y {
		if pred[i] == y[i] {
			hit++
		}
	}
	return float64(hit) / float64(len(y))
}
