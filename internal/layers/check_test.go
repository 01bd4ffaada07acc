package layers

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nettrain/nettrain/internal/gemm"
)

func randSlice(rng *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = scale * rng.NormFloat64()
	}
	return v
}

// relErr is cs231n's relative error with a floor.
func relErr(a, b float64) float64 {
	return math.Abs(a-b) / max(math.Abs(a)+math.Abs(b), 1e-8)
}

// closeTo reports the first index where got and want differ by more than
// tol relative (to the largest |want|, so that entries near 0 count by the
// scale of the array), or -1.
func closeTo(got, want []float64, tol float64) int {
	if len(got) != len(want) {
		return 0
	}
	scale := 0.0
	for _, v := range want {
		scale = max(scale, math.Abs(v))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol*max(scale, 1e-300) {
			return i
		}
	}
	return -1
}

// gradCheck compares l's analytic gradients (of the loss sum(out * r) for a
// fixed random r) with centered differences, for the input and every
// parameter, in float64; it returns the largest relative error. skip, if
// set, says whether a step of h at input entry i would cross a kink (max
// pool's choice, ReLU's zero) so that no difference can match.
func gradCheck(t *testing.T, l Layer[float64], x []float64, n int, train bool, seed uint64) float64 {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 3))
	out := l.Forward(x, n, train)
	r := randSlice(rng, len(out), 1)
	loss := func() float64 {
		y := l.Forward(x, n, train)
		s := 0.0
		for i, v := range y {
			s += v * r[i]
		}
		return s
	}
	l.Forward(x, n, train)
	dx := slices.Clone(l.Backward(r))
	grads := map[string][]float64{}
	for _, p := range l.Params() {
		grads[p.Name] = slices.Clone(p.G)
	}
	const h = 1e-5
	worst := 0.0
	check := func(name string, v []float64, g []float64) {
		// Every entry for small arrays; 40 spread over a large one.
		step := max(1, len(v)/40)
		for i := 0; i < len(v); i += step {
			old := v[i]
			v[i] = old + h
			fp := loss()
			v[i] = old - h
			fm := loss()
			v[i] = old
			num := (fp - fm) / (2 * h)
			if e := relErr(g[i], num); e > worst {
				worst = e
				if e > 1e-6 {
					t.Errorf("%s[%d]: analytic %.10g, numerical %.10g (rel %.2e)", name, i, g[i], num, e)
				}
			}
		}
	}
	check("x", x, dx)
	for _, p := range l.Params() {
		check(p.Name, p.V, grads[p.Name])
	}
	return worst
}

// eachKernelAndThreads runs f under every GEMM kernel of this CPU and 1
// and 3 threads, and fails unless every run gives the bits of the first.
func eachKernelAndThreads(t *testing.T, f func() []float32) {
	t.Helper()
	defer gemm.Use(gemm.Kernels()[0])
	defer gemm.SetThreads(0)
	var first []float32
	for _, k := range gemm.Kernels() {
		for _, nt := range []int{1, 3} {
			if err := gemm.Use(k); err != nil {
				t.Fatal(err)
			}
			gemm.SetThreads(nt)
			got := f()
			if first == nil {
				first = got
				continue
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
					t.Fatalf("kernel %s, %d threads: entry %d is %v, not %v", k, nt, i, got[i], first[i])
				}
			}
		}
	}
}
