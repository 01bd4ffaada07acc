package cifar

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
	if len(dst) < len(idx)*D || len(y) < len(idx) || len(mean) != D {
		panic("cifar: Gather: buffer too short")
	}
	for r, i := range idx {
		src := s.Row(i)
		row := dst[r*D : (r+1)*D : (r+1)*D]
		for j, p := range src {
			row[j] = T(float64(p) - mean[j])
		}
		y[r] = s.Y[i]
	}
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
