package cifar

import "math"

// Mean returns the mean image of s, a D-vector of float64. The sums are
// exact (integers), so the mean is the correctly rounded quotient and does
// not depend on the order of the images.
func Mean(s Set) []float64 {
	sum := make([]uint64, D)
	for i := range s.N() {
		for j, p := range s.Row(i) {
			sum[j] += uint64(p)
		}
	}
	mean := make([]float64, D)
	for j, v := range sum {
		mean[j] = float64(v) / float64(s.N())
	}
	return mean
}

// Float is the element type of a float minibatch.
type Float interface{ ~float32 | ~float64 }

// Gather writes the images idx of s into the rows of dst, a row-major
// (len(idx), D) buffer, with the mean image subtracted, and their labels into
// y. The subtraction is done in float64 and rounded once to T.
// It panics if dst or y is too short or an index is out of range.
func Gather[T Float](dst []T, y []uint8, s Set, idx []int, mean []float64) {
	GatherAug(dst, y, s, idx, mean, nil, nil)
}

// GatherAug is Gather with two options for training: scale, if not nil,
// multiplies each input after the mean is subtracted, (p - mean[j]) *
// scale[j] (per-channel standardisation); flip, if not nil, mirrors image r
// left to right where flip[r] is true.
func GatherAug[T Float](dst []T, y []uint8, s Set, idx []int, mean, scale []float64, flip []bool) {
	if len(dst) < len(idx)*D || len(y) < len(idx) || len(mean) != D || scale != nil && len(scale) != D || flip != nil && len(flip) < len(idx) {
		panic("cifar: Gather: buffer too short")
	}
	for r, i := range idx {
		src := s.Row(i)
		row := dst[r*D : (r+1)*D : (r+1)*D]
		switch {
		case flip != nil && flip[r]:
			for j := range row {
				v := float64(src[Mirror(j)]) - mean[j]
				if scale != nil {
					v *= scale[j]
				}
				row[j] = T(v)
			}
		case scale != nil:
			for j, p := range src {
				row[j] = T((float64(p) - mean[j]) * scale[j])
			}
		default:
			for j, p := range src {
				row[j] = T(float64(p) - mean[j])
			}
		}
		y[r] = s.Y[i]
	}
}

// Mirror returns the input that input j comes from in the left-right mirror
// image: pixel (c, y, x) from (c, y, 31-x).
func Mirror(j int) int { return j - j%Width + (Width - 1 - j%Width) }

// ChannelStats returns the per-channel mean and standard deviation of s's
// pixels, each broadcast to a D-vector, for per-channel standardisation:
// (p - mean) / std, so scale = 1/std.
func ChannelStats(s Set) (mean, scale []float64) {
	plane := Height * Width
	var sum, sq [Channels]float64
	for i := range s.N() {
		for j, p := range s.Row(i) {
			v := float64(p)
			sum[j/plane] += v
			sq[j/plane] += v * v
		}
	}
	mean, scale = make([]float64, D), make([]float64, D)
	n := float64(s.N() * plane)
	for c := range Channels {
		m := sum[c] / n
		std := math.Sqrt(max(sq[c]/n-m*m, 0))
		if std == 0 {
			std = 1
		}
		for j := c * plane; j < (c+1)*plane; j++ {
			mean[j], scale[j] = m, 1/std
		}
	}
	return mean, scale
}

// GatherRange is Gather for the consecutive images [i, i+n) of s.
func GatherRange[T Float](dst []T, y []uint8, s Set, i, n int, mean []float64) {
	if len(dst) < n*D || len(y) < n || len(mean) != D {
		panic("cifar: GatherRange: buffer too short")
	}
	for r := range n {
		src := s.Row(i + r)
		row := dst[r*D : (r+1)*D : (r+1)*D]
		for j, p := range src {
			row[j] = T(float64(p) - mean[j])
		}
		y[r] = s.Y[i+r]
	}
}

// Shift translates the image in row, a D-vector of inputs in this package's
// layout (three 32x32 planes), by dx pixels right and dy pixels down, in
// place; tmp is scratch of at least D. The pixels shifted in from outside
// are 0 (in mean-subtracted inputs: the mean image's, the usual zero
// padding), or, with reflect, the image mirrored at its border (numpy's
// "reflect": the edge pixel is not repeated). |dx| and |dy| must be below
// 32.
func Shift[T Float](row, tmp []T, dx, dy int, reflect bool) {
	if dx == 0 && dy == 0 {
		return
	}
	if len(row) != D || len(tmp) < D || dx <= -Width || dx >= Width || dy <= -Height || dy >= Height {
		panic("cifar: Shift: bad row or shift")
	}
	copy(tmp, row)
	// from returns the source coordinate of destination coordinate i, or
	// -1 where a zero goes.
	from := func(i, d, n int) int {
		s := i - d
		if s >= 0 && s < n {
			return s
		}
		if !reflect {
			return -1
		}
		if s < 0 {
			return -s
		}
		return 2*(n-1) - s
	}
	const plane = Height * Width
	for c := range Channels {
		src, dst := tmp[c*plane:(c+1)*plane], row[c*plane:(c+1)*plane]
		for y := range Height {
			sy := from(y, dy, Height)
			for x := range Width {
				sx := from(x, dx, Width)
				if sy < 0 || sx < 0 {
					dst[y*Width+x] = 0
				} else {
					dst[y*Width+x] = src[sy*Width+sx]
				}
			}
		}
	}
}
