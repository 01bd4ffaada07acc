package model

import (
	"runtime"
	"sync"

	"github.com/nettrain/nettrain/internal/cifar"
)

// chunkRows is how many images PredictSet scores at a time. It is fixed, not
// derived from the number of workers, so that the predictions are the same
// however many goroutines run.
const chunkRows = 500

// PredictSet writes the predicted class of every image of s, with mean
// subtracted, into dst and returns it; nil dst allocates. Chunks of images
// are scored in parallel, one float buffer and Workspace per worker.
func (n *Net) PredictSet(dst []uint8, s cifar.Set, mean []float64) []uint8 {
	if dst == nil {
		dst = make([]uint8, s.N())
	}
	if len(dst) != s.N() {
		panic("model: PredictSet: dst has the wrong length")
	}
	d, _, _ := n.Dims()
	if d != cifar.D {
		panic("model: PredictSet: net does not take CIFAR-10 images")
	}
	chunks := (s.N() + chunkRows - 1) / chunkRows
	workers := min(runtime.GOMAXPROCS(0), chunks)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := make([]float64, chunkRows*d)
			y := make([]uint8, chunkRows)
			ws := &Workspace{}
			for k := range next {
				i := k * chunkRows
				rows := min(chunkRows, s.N()-i)
				cifar.GatherRange(x, y, s, i, rows, mean)
				n.Predict(dst[i:i+rows], ws, x[:rows*d])
			}
		}()
	}
	for k := range chunks {
		next <- k
	}
	close(next)
	wg.Wait()
	return dst
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
