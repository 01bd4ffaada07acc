package layers

import "math/rand/v2"

// Flatten makes C x H x W inputs one vector of C H W units, in (C, H, W)
// order as cs231n and PyTorch flatten: with NCHW activations it moves no
// data.
type Flatten[T Float] struct{ In Shape }

// Out returns (C H W) x 1 x 1.
func (f *Flatten[T]) Out() Shape { return Shape{f.In.Size(), 1, 1} }

// Params returns none.
func (f *Flatten[T]) Params() []*Param[T] { return nil }

// Forward returns x.
func (f *Flatten[T]) Forward(x []T, _ int, _ bool) []T { return x }

// Backward returns dy.
func (f *Flatten[T]) Backward(dy []T) []T { return dy }

// Scale multiplies by a constant (airbench's 1/9 on the scores).
type Scale[T Float] struct {
	In    Shape
	K     float64
	y, dx []T
}

// Out returns the input shape.
func (s *Scale[T]) Out() Shape { return s.In }

// Params returns none.
func (s *Scale[T]) Params() []*Param[T] { return nil }

// Forward returns K x.
func (s *Scale[T]) Forward(x []T, _ int, _ bool) []T {
	s.y = grow(s.y, len(x))
	k := T(s.K)
	for i, v := range x {
		s.y[i] = k * v
	}
	return s.y
}

// Backward returns K dy.
func (s *Scale[T]) Backward(dy []T) []T {
	s.dx = grow(s.dx, len(dy))
	k := T(s.K)
	for i, v := range dy {
		s.dx[i] = k * v
	}
	return s.dx
}

// Dropout is inverted dropout: in training each unit is kept with
// probability 1-P and scaled by 1/(1-P), from a mask drawn from Rng per
// Forward (unit by unit, examples in order); in evaluation it is the
// identity.
type Dropout[T Float] struct {
	In  Shape
	P   float64
	Rng *rand.Rand
	// Frozen: training reuses the mask already drawn (a gradient check's
	// fixed mask) instead of drawing another.
	Frozen bool
	mask   []T
	train  bool
	y, dx  []T
}

// Out returns the input shape.
func (d *Dropout[T]) Out() Shape { return d.In }

// Params returns none.
func (d *Dropout[T]) Params() []*Param[T] { return nil }

// Forward drops units in training.
func (d *Dropout[T]) Forward(x []T, _ int, train bool) []T {
	d.train = train
	if !train || d.P == 0 {
		return x
	}
	d.y = grow(d.y, len(x))
	if !d.Frozen || len(d.mask) != len(x) {
		d.mask = grow(d.mask, len(x))
		keep := T(1 / (1 - d.P))
		for i := range d.mask {
			d.mask[i] = 0
			if d.Rng.Float64() >= d.P {
				d.mask[i] = keep
			}
		}
	}
	for i, v := range x {
		d.y[i] = v * d.mask[i]
	}
	return d.y
}

// Backward multiplies dy by the last mask.
func (d *Dropout[T]) Backward(dy []T) []T {
	if !d.train || d.P == 0 {
		return dy
	}
	d.dx = grow(d.dx, len(dy))
	for i, v := range dy {
		d.dx[i] = v * d.mask[i]
	}
	return d.dx
}
