package gemm

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"sync"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/nettrain/nettrain/internal/gentest"
)

// withKernel runs f with each kernel this CPU has selected in turn.
func withKernel(t *testing.T, f func(t *testing.T, name string)) {
	t.Helper()
	saved := Kernel()
	defer Use(saved)
	for _, name := range Kernels() {
		if err := Use(name); err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) { f(t, name) })
	}
}

// problem is one random product: shapes, transposes, strides and scalars.
type problem struct {
	tA, tB        blas.Transpose
	m, n, k       int
	lda, ldb, ldc int
	alpha, beta   float64
	seed          uint64
}

func (p problem) String() string {
	return fmt.Sprintf("%c%c m%d n%d k%d lda%d ldb%d ldc%d alpha%g beta%g", p.tA, p.tB, p.m, p.n, p.k, p.lda, p.ldb, p.ldc, p.alpha, p.beta)
}

// data returns A, B and C of p filled with N(0,1) values, with NaN in the
// padding between rows (which must never be read or written).
func data[T Float](p problem) (a, b, c []T) {
	rng := rand.New(rand.NewPCG(p.seed, 7))
	fill := func(rows, cols, ld int) []T {
		s := make([]T, max(0, (rows-1)*ld+cols))
		for i := range s {
			s[i] = T(math.NaN())
		}
		for i := range rows {
			for j := range cols {
				s[i*ld+j] = T(rng.NormFloat64())
			}
		}
		return s
	}
	ar, ac := p.m, p.k
	if p.tA == blas.Trans {
		ar, ac = p.k, p.m
	}
	br, bc := p.k, p.n
	if p.tB == blas.Trans {
		br, bc = p.n, p.k
	}
	return fill(ar, ac, p.lda), fill(br, bc, p.ldb), fill(p.m, p.n, p.ldc)
}

func randomProblem(rng *rand.Rand, maxDim int) problem {
	p := problem{
		tA: blas.NoTrans, tB: blas.NoTrans,
		m: rng.IntN(maxDim) + 1, n: rng.IntN(maxDim) + 1, k: rng.IntN(maxDim) + 1,
		alpha: []float64{1, 1, 1, -1, 0.5, 0}[rng.IntN(6)],
		beta:  []float64{0, 0, 1, 0.25, -2}[rng.IntN(5)],
		seed:  rng.Uint64(),
	}
	if rng.IntN(2) == 1 {
		p.tA = blas.Trans
	}
	if rng.IntN(2) == 1 {
		p.tB = blas.Trans
	}
	p.setStrides(rng.IntN(3))
	return p
}

// setStrides sets the leading dimensions to the stored widths plus pad
// (at least 1, as BLAS wants).
func (p *problem) setStrides(pad int) {
	p.lda, p.ldb, p.ldc = max(1, p.k+pad), max(1, p.n+pad), max(1, p.n+pad)
	if p.tA == blas.Trans {
		p.lda = max(1, p.m+pad)
	}
	if p.tB == blas.Trans {
		p.ldb = max(1, p.k+pad)
	}
}

// run returns Gemm's result for p on nt threads.
func run[T Float](p problem, nt int) []T {
	a, b, c := data[T](p)
	GemmThreads(nt, p.tA, p.tB, p.m, p.n, p.k, T(p.alpha), a, p.lda, b, p.ldb, T(p.beta), c, p.ldc)
	return c
}

// reference returns Reference's result for p.
func reference[T Float](p problem) []T {
	a, b, c := data[T](p)
	Reference(p.tA, p.tB, p.m, p.n, p.k, T(p.alpha), a, p.lda, b, p.ldb, T(p.beta), c, p.ldc)
	return c
}

// sameBits reports the first index where x and y differ in bits, or -1.
func sameBits[T Float](x, y []T) int {
	if len(x) != len(y) {
		return 0
	}
	for i := range x {
		if x[i] != y[i] && !(x[i] != x[i] && y[i] != y[i]) { // NaN padding equals NaN
			return i
		}
		if x[i] == 0 && math.Signbit(float64(x[i])) != math.Signbit(float64(y[i])) {
			return i
		}
	}
	return -1
}

// splitAll makes every product, however small, run on as many threads as
// it is given, until the returned function is called.
func splitAll() (restore func()) {
	saved := minParallel
	minParallel = 0
	return func() { minParallel = saved }
}

func testAgainstReference[T Float](t *testing.T, probs []problem) {
	defer splitAll()()
	for _, p := range probs {
		want := reference[T](p)
		for _, nt := range []int{1, 2, 3} {
			got := run[T](p, nt)
			if i := sameBits(got, want); i >= 0 {
				t.Fatalf("%T %v, %d threads: C[%d] = %v, reference %v", got[0], p, nt, i, got[i], want[i])
			}
		}
	}
}

// problems returns random products plus the shapes the net uses.
func problems(n int) []problem {
	rng := rand.New(rand.NewPCG(1, 2))
	var ps []problem
	for range n {
		ps = append(ps, randomProblem(rng, 70))
	}
	for _, s := range []struct {
		tA, tB  blas.Transpose
		m, n, k int
	}{
		{blas.NoTrans, blas.NoTrans, 200, 50, 3072 / 4}, // X W1 (shortened)
		{blas.Trans, blas.NoTrans, 3072 / 4, 50, 200},   // X^T dh
		{blas.NoTrans, blas.Trans, 200, 50, 10},         // dscores W2^T
		{blas.Trans, blas.NoTrans, 50, 10, 200},         // h^T dscores
		{blas.NoTrans, blas.NoTrans, 500, 37, 600},      // more than one kc and mc block
		{blas.NoTrans, blas.NoTrans, 1, 1, 1},
	} {
		p := problem{tA: s.tA, tB: s.tB, m: s.m, n: s.n, k: s.k, alpha: 1, beta: 0, seed: uint64(s.m)}
		p.setStrides(0)
		ps = append(ps, p)
		p.beta = 1
		ps = append(ps, p)
	}
	return ps
}

// Every kernel gives the reference's bits, for 1, 2 and 3 threads, on
// random shapes with transposes, strides, alpha and beta.
func TestKernelsMatchReference(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 60
	}
	probs := problems(n)
	withKernel(t, func(t *testing.T, _ string) {
		testAgainstReference[float32](t, probs)
		testAgainstReference[float64](t, probs)
	})
}

// Every kernel agrees with gonum's BLAS to rounding (a different summation
// order): this ties the exact arithmetic to the textbook product.
func TestKernelsAgreeWithGonum(t *testing.T) {
	defer splitAll()()
	withKernel(t, func(t *testing.T, _ string) {
		rng := rand.New(rand.NewPCG(3, 4))
		for range 200 {
			p := randomProblem(rng, 60)
			nt := 1 + rng.IntN(3)
			a, b, c := data[float64](p)
			got := append([]float64(nil), c...)
			GemmThreads(nt, p.tA, p.tB, p.m, p.n, p.k, p.alpha, a, p.lda, b, p.ldb, p.beta, got, p.ldc)
			want := append([]float64(nil), c...)
			gonum.Implementation{}.Dgemm(p.tA, p.tB, p.m, p.n, p.k, p.alpha, a, p.lda, b, p.ldb, p.beta, want, p.ldc)
			for i := range got {
				if math.IsNaN(want[i]) {
					if !math.IsNaN(got[i]) {
						t.Fatalf("%v: padding C[%d] written: %v", p, i, got[i])
					}
					continue
				}
				// Round-off of a k-term sum of N(0,1) products.
				tol := 1e-13 * float64(p.k+1)
				if !(math.Abs(got[i]-want[i]) <= tol) {
					t.Fatalf("%v: C[%d] = %v, gonum %v", p, i, got[i], want[i])
				}
			}

			a32, b32, c32 := data[float32](p)
			g32 := append([]float32(nil), c32...)
			GemmThreads(nt, p.tA, p.tB, p.m, p.n, p.k, float32(p.alpha), a32, p.lda, b32, p.ldb, float32(p.beta), g32, p.ldc)
			w32 := append([]float32(nil), c32...)
			gonum.Implementation{}.Sgemm(p.tA, p.tB, p.m, p.n, p.k, float32(p.alpha), a32, p.lda, b32, p.ldb, float32(p.beta), w32, p.ldc)
			for i := range g32 {
				if math.IsNaN(float64(w32[i])) {
					if !math.IsNaN(float64(g32[i])) {
						t.Fatalf("float32 %v: padding C[%d] written: %v", p, i, g32[i])
					}
					continue
				}
				tol := 1e-5 * float64(p.k+1)
				if !(math.Abs(float64(g32[i]-w32[i])) <= tol) {
					t.Fatalf("float32 %v: C[%d] = %v, gonum %v", p, i, g32[i], w32[i])
				}
			}
		}
	})
}

// The kernels agree with each other to the bit on a product of the net's
// full size, for any thread count.
func TestKernelsAgreeFullSize(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size products in -short mode")
	}
	p := problem{tA: blas.NoTrans, tB: blas.NoTrans, m: 200, n: 50, k: 3072, alpha: 1, beta: 0, seed: 9}
	p.setStrides(0)
	q := problem{tA: blas.Trans, tB: blas.NoTrans, m: 3072, n: 50, k: 200, alpha: 1, beta: 0.25, seed: 10}
	q.setStrides(0)
	first := map[int][]float32{}
	withKernel(t, func(t *testing.T, name string) {
		for i, pr := range []problem{p, q} {
			for _, nt := range []int{1, 2, 3} {
				got := run[float32](pr, nt)
				if first[i] == nil {
					first[i] = got
				}
				if j := sameBits(got, first[i]); j >= 0 {
					t.Fatalf("%v, %s, %d threads: C[%d] = %v, first kernel %v", pr, name, nt, j, got[j], first[i][j])
				}
			}
		}
	})
}

func TestSplit(t *testing.T) {
	for _, c := range []struct{ nt, nIr, nJr, tr, tc int }{
		{2, 17, 2, 2, 1},  // X W1, hidden 50: 9 and 8 tiles of rows, both panels
		{2, 256, 2, 2, 1}, // X^T dh
		{2, 1, 16, 1, 2},  // one row of tiles: split columns
		{3, 17, 2, 3, 1},
		{4, 17, 2, 4, 1},
		{4, 3, 2, 2, 2},
		{8, 1, 1, 1, 1},
	} {
		tr, tc := split(c.nt, c.nIr, c.nJr, minParallel)
		if tr != c.tr || tc != c.tc {
			t.Errorf("split(%d, %d, %d) = %d x %d, want %d x %d", c.nt, c.nIr, c.nJr, tr, tc, c.tr, c.tc)
		}
	}
	if tr, tc := split(2, 17, 2, minParallel-1); tr*tc != 1 {
		t.Errorf("a small product split %d x %d", tr, tc)
	}
}

// fma32 is x*y+z rounded once, checked against exact big.Float arithmetic,
// on random values and on sums built to fall on float32 ties.
func TestFMA32(t *testing.T) {
	exact := func(x, y, z float32) float32 {
		p := new(big.Float).SetPrec(200).Mul(big.NewFloat(float64(x)).SetPrec(200), big.NewFloat(float64(y)).SetPrec(200))
		s := p.Add(p, big.NewFloat(float64(z)).SetPrec(200))
		f, _ := s.Float32()
		return f
	}
	rng := rand.New(rand.NewPCG(5, 6))
	check := func(x, y, z float32) {
		if got, want := fma32(x, y, z), exact(x, y, z); got != want {
			t.Fatalf("fma32(%g, %g, %g) = %g, want %g", x, y, z, got, want)
		}
	}
	for range 200000 {
		check(float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64()))
	}
	// Ties: z = 1, x*y = 2^-24 (half an ulp of 1) plus or minus a little.
	half := float32(math.Ldexp(1, -24))
	for _, d := range []float64{0, math.Ldexp(1, -47), -math.Ldexp(1, -47), math.Ldexp(1, -70)} {
		x := float32(math.Ldexp(1, -12))
		y := float32(math.Ldexp(1, -12) + d*math.Ldexp(1, 12))
		check(x, y, 1)
		check(x, y, -1)
		check(half, 1+float32(d), 1)
	}
	// 1 + 2^-24 + 2^-47 rounds up, though the nearest float64 is the tie.
	if got := fma32(float32(1+math.Ldexp(1, -23)), float32(math.Ldexp(1, -24)), 1); got != exact(float32(1+math.Ldexp(1, -23)), float32(math.Ldexp(1, -24)), 1) {
		t.Errorf("fma32 tie broken wrongly: %g", got)
	}
	if got := fma32(float32(math.Inf(1)), 1, 1); !math.IsInf(float64(got), 1) {
		t.Errorf("fma32(Inf, 1, 1) = %v", got)
	}
}

// The committed kernel_amd64.s and its stubs are what asmgen writes.
func TestGeneratedKernelsUpToDate(t *testing.T) {
	gentest.UpToDate(t, "gemm", "kernel_amd64.s", "kernel_amd64.go")
}

// Products on several threads may run at once (sweep trials do): they
// share the pool of goroutines and still give the reference's bits.
func TestConcurrentProducts(t *testing.T) {
	defer splitAll()()
	probs := problems(16)
	var wg sync.WaitGroup
	errs := make(chan string, len(probs))
	for _, p := range probs {
		wg.Go(func() {
			want := reference[float32](p)
			for range 3 {
				if i := sameBits(run[float32](p, 2), want); i >= 0 {
					errs <- fmt.Sprintf("%v: C[%d] differs from the reference", p, i)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
