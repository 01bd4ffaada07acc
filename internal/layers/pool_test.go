package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// distinct returns n values spread at least 1e-3 apart in random order, so
// that no step of a gradient check changes which entry is a window's max.
func distinct(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i, j := range rng.Perm(n) {
		v[i] = float64(j)*1e-3 - float64(n)*5e-4
	}
	return v
}

// Max and average pooling, and global pools, against the naive loops, and
// their gradients numerically (max pooling's inputs apart, so no step
// changes a window's choice).
func TestPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 60 {
		in := Shape{1 + rng.IntN(5), 1 + rng.IntN(9), 1 + rng.IntN(9)}
		k, s := 1+rng.IntN(3), 1+rng.IntN(3)
		if trial >= 40 { // the unrolled 2x2 windows of stride 2
			k, s = 2, 2
		}
		isMax, n := trial%2 == 0, 1+rng.IntN(3)
		var l *Pool[float64]
		if trial%5 == 4 {
			l = NewGlobalPool[float64](in, isMax)
		} else {
			var err error
			if l, err = NewPool[float64](in, isMax, k, s); err != nil {
				continue
			}
		}
		name := fmt.Sprintf("in %v max %v k %dx%d s %d", in, isMax, l.KH, l.KW, l.S)
		x := distinct(rng, n*in.Size())
		want := PoolNaive(x, n, in, isMax, l.KH, l.KW, l.S)
		for _, train := range []bool{false, true} { // evaluation skips the argmax
			if i := closeTo(l.Forward(x, n, train), want, 1e-15); i >= 0 {
				t.Fatalf("%s, training %v: out[%d] %v, naive %v", name, train, i, l.y[i], want[i])
			}
		}
		if e := gradCheck(t, l, x, n, true, uint64(trial)); e > 1e-7 {
			t.Errorf("%s: largest relative error %.2e", name, e)
		}
	}
	// Ties go to the first maximum in row-major order.
	l, _ := NewPool[float64](Shape{1, 2, 2}, true, 2, 2)
	l.Forward([]float64{1, 3, 3, 2}, 1, true)
	if dx := l.Backward([]float64{1}); dx[1] != 1 || dx[2] != 0 {
		t.Errorf("a tie's gradient went to %v, want the first maximum", dx)
	}
	// 2x2 windows of stride 2 write the whole gradient each time (no
	// clearing first): whatever the buffer held, Backward gives each
	// window's maximum its dy and every other input 0, the odd last row
	// and column included.
	in := Shape{2, 5, 7}
	p, _ := NewPool[float64](in, true, 2, 2)
	x := distinct(rng, 3*in.Size())
	out := p.Out()
	p.Forward(x, 3, true)
	for i := range p.Backward(randSlice(rng, 3*out.Size(), 1)) {
		p.dx[i] = math.NaN() // what a buffer may hold
	}
	dy := randSlice(rng, 3*out.Size(), 1)
	want := make([]float64, len(x))
	for pl := range 3 * in.C {
		for i := range out.H {
			for j := range out.W {
				best := pl*in.H*in.W + 2*i*in.W + 2*j
				for _, k := range []int{best + 1, best + in.W, best + in.W + 1} {
					if x[k] > x[best] {
						best = k
					}
				}
				want[best] = dy[(pl*out.H+i)*out.W+j]
			}
		}
	}
	for i, v := range p.Backward(dy) {
		if v != want[i] {
			t.Fatalf("2x2 pooling's gradient over a used buffer: dx[%d] %v, want %v", i, v, want[i])
		}
	}
}
