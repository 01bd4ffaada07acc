package sgd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nettrain/nettrain/internal/gemm"
)

// refNewtonSchulz is the iteration written out with plain loops in
// float64, from its definition: x = g/(|g| + eps); three times A = x x^T,
// B = b A + c A A, x = a x + B x; a tall g worked on transposed.
func refNewtonSchulz(g []float64, r, c int) []float64 {
	x := make([]float64, r*c)
	tall := r > c
	if tall {
		transpose(x, g, r, c)
		r, c = c, r
	} else {
		copy(x, g)
	}
	var s float64
	for _, v := range x {
		s += v * v
	}
	for i := range x {
		x[i] /= math.Sqrt(s) + nsEps
	}
	mul := func(a, b []float64, n, k, m int, bT bool) []float64 { // (n, k) (k, m), b given as (m, k) if bT
		out := make([]float64, n*m)
		for i := range n {
			for j := range m {
				var d float64
				for l := range k {
					bv := b[l*m+j]
					if bT {
						bv = b[j*k+l]
					}
					d += a[i*k+l] * bv
				}
				out[i*m+j] = d
			}
		}
		return out
	}
	for range nsSteps {
		a := mul(x, x, r, c, r, true)
		aa := mul(a, a, r, r, r, false)
		b := make([]float64, r*r)
		for i := range b {
			b[i] = nsB*a[i] + nsC*aa[i]
		}
		bx := mul(b, x, r, r, c, false)
		for i := range x {
			x[i] = nsA*x[i] + bx[i]
		}
	}
	if tall {
		out := make([]float64, r*c)
		transpose(out, x, r, c)
		return out
	}
	return x
}

func gaussian(rng *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	return x
}

// The orthogonalisation is its definition (plain loops, wide and tall, 1
// and 2 threads), keeps the singular vectors and maps the singular values
// of a well-conditioned matrix into [0.5, 1.5], as airbench94_muon says
// of its coefficients.
func TestNewtonSchulz(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sh := range [][2]int{{6, 40}, {40, 6}, {16, 16 * 9}, {1, 5}} {
		r, c := sh[0], sh[1]
		g := gaussian(rng, r*c)
		want := refNewtonSchulz(g, r, c)
		var bits []float64
		for _, nt := range []int{1, 2} {
			prev := gemm.Threads()
			gemm.SetThreads(nt)
			m := newMuon(paramSet[float64]{params: [][]float64{g}, rows: []int{r}}, Config{LR: 1, MuonLR: 1})
			got := append([]float64(nil), g...)
			m.newtonSchulz(got, r, c)
			gemm.SetThreads(prev)
			for i := range got {
				if math.Abs(got[i]-want[i]) > 1e-12 {
					t.Fatalf("%dx%d, %d threads: [%d] = %v, the definition gives %v", r, c, nt, i, got[i], want[i])
				}
			}
			if bits == nil {
				bits = got
			} else if !equalBits(bits, got) {
				t.Errorf("%dx%d: 2 threads differ from 1", r, c)
			}
		}
		if r == 1 || r*4 > c && c*4 > r {
			continue // a square one is ill-conditioned: its small singular values stay small
		}
		// Singular values in [0.5, 1.5]: x x^T - 0.25 I and 2.25 I - x x^T
		// are positive definite (the wide way round).
		x, gw, n, k := want, g, r, c
		if r > c {
			x, gw = make([]float64, r*c), make([]float64, r*c)
			transpose(x, want, r, c)
			transpose(gw, g, r, c)
			n, k = c, r
		}
		xxT, xgT := make([]float64, n*n), make([]float64, n*n)
		for i := range n {
			for j := range n {
				for l := range k {
					xxT[i*n+j] += x[i*k+l] * x[j*k+l]
					xgT[i*n+j] += x[i*k+l] * gw[j*k+l]
				}
			}
		}
		lo, hi := make([]float64, n*n), make([]float64, n*n)
		for i := range xxT {
			lo[i], hi[i] = xxT[i], -xxT[i]
		}
		for i := range n {
			lo[i*n+i] -= 0.25
			hi[i*n+i] += 2.25
		}
		if !posDef(lo, n) || !posDef(hi, n) {
			t.Errorf("%dx%d: singular values outside [0.5, 1.5]", r, c)
		}
		// Same singular vectors: x g^T = U f(S) S U^T is symmetric and
		// positive definite.
		for i := range n {
			for j := range n {
				if math.Abs(xgT[i*n+j]-xgT[j*n+i]) > 1e-9 {
					t.Fatalf("%dx%d: x g^T not symmetric at %d,%d", r, c, i, j)
				}
			}
		}
		if !posDef(xgT, n) {
			t.Errorf("%dx%d: x g^T not positive definite", r, c)
		}
	}
}

// posDef reports whether the symmetric (n, n) matrix a is positive
// definite: its Cholesky factorisation (of a copy) finds every pivot > 0.
func posDef(a []float64, n int) bool {
	l := append([]float64(nil), a...)
	for j := range n {
		d := l[j*n+j]
		for k := range j {
			d -= l[j*n+k] * l[j*n+k]
		}
		if !(d > 0) {
			return false
		}
		d = math.Sqrt(d)
		l[j*n+j] = d
		for i := j + 1; i < n; i++ {
			s := l[i*n+j]
			for k := range j {
				s -= l[i*n+k] * l[j*n+k]
			}
			l[i*n+j] = s / d
		}
	}
	return true
}

func equalBits(a, b []float64) bool {
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return len(a) == len(b)
}

// Two steps of optimizer muon, worked from its definition: the filters
// (rows > 0) take v = mu v + g, u = g + mu v, W = W sqrt(F)/|W| - lr'
// NS(u) with lr' = muon_lr lr/LR (the schedule's factor); the bias takes
// Nesterov with {momentum}; weight decay leaves the filters alone; a
// scale of 0 leaves a filter and its momentum. save and load carry the
// filters' momentum.
func TestMuonStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const rows, cols = 4, 18
	c := Config{Optimizer: Muon, LR: 0.5, MuonLR: 0.02, Momentum: 0.85, MuonMomentum: 0.6, WeightDecay: 0.1}
	w0, b0 := gaussian(rng, rows*cols), gaussian(rng, 3)
	w, b := append([]float64(nil), w0...), append([]float64(nil), b0...)
	gw, gb := make([]float64, len(w)), make([]float64, len(b))
	ps := paramSet[float64]{params: [][]float64{w, b}, grads: [][]float64{gw, gb}, names: []string{"W1", "b1"}, rows: []int{rows, 0}}
	o := newOptimizer(ps, c)

	// The reference, in plain float64.
	rw, rb := append([]float64(nil), w0...), append([]float64(nil), b0...)
	vw, vb := make([]float64, len(w)), make([]float64, len(b))
	for step, lr := range []float64{0.5, 0.25} {
		g1, g2 := gaussian(rng, len(w)), gaussian(rng, len(b))
		copy(gw, g1)
		copy(gb, g2)
		o.step(lr, step+1)

		u := make([]float64, len(w))
		for j := range u {
			vw[j] = 0.6*vw[j] + g1[j]
			u[j] = g1[j] + 0.6*vw[j]
		}
		u = refNewtonSchulz(u, rows, cols)
		var n float64
		for _, x := range rw {
			n += x * x
		}
		s := math.Sqrt(rows) / math.Sqrt(n)
		for j := range rw {
			rw[j] = rw[j]*s - 0.02*lr/0.5*u[j]
		}
		for j := range rb { // cs231n's Nesterov
			prev := vb[j]
			vb[j] = 0.85*vb[j] - lr*g2[j]
			rb[j] += -0.85*prev + 1.85*vb[j]
		}
		for j := range w {
			if math.Abs(w[j]-rw[j]) > 1e-12 {
				t.Fatalf("step %d: W[%d] = %v, the definition gives %v", step+1, j, w[j], rw[j])
			}
		}
		for j := range b {
			if math.Abs(b[j]-rb[j]) > 1e-12 {
				t.Fatalf("step %d: b[%d] = %v, the definition gives %v", step+1, j, b[j], rb[j])
			}
		}
	}
	if got := norm(w) / math.Sqrt(rows); math.Abs(got-1) > 0.2 {
		t.Errorf("|W|/sqrt(F) = %v after a step, want near 1 (renormalised, then one small step)", got)
	}

	// save and load carry the momentum.
	w2, b2 := append([]float64(nil), w...), append([]float64(nil), b...)
	o2 := newOptimizer(paramSet[float64]{params: [][]float64{w2, b2}, grads: [][]float64{gw, gb}, names: ps.names, rows: ps.rows}, c)
	if err := o2.load(o.save()); err != nil {
		t.Fatal(err)
	}
	o.step(0.1, 3)
	o2.step(0.1, 3)
	if !equalBits(w, w2) || !equalBits(b, b2) {
		t.Error("a step after load differs from the step without")
	}

	// Scale 0: the filter and its momentum stay.
	before, vBefore := append([]float64(nil), w...), append([]float64(nil), o.v[0]...)
	o.scale = []float64{0, 1}
	o.step(0.1, 4)
	if !equalBits(w, before) || !equalBits(o.v[0], vBefore) {
		t.Error("a filter at scale 0 moved")
	}
}

// BenchmarkMuonStep times optimizer muon's update of airbench's six
// trained filters (24 -> 64, 64 -> 64, 64 -> 256, 3 x 256 -> 256, 3x3) in
// float32, against Nesterov's update of the same parameters in the same
// run: the Newton-Schulz products are the difference, about 6.3 GFLOP a
// step.
func BenchmarkMuonStep(b *testing.B) {
	shapes := [][2]int{{64, 24 * 9}, {64, 64 * 9}, {256, 64 * 9}, {256, 256 * 9}, {256, 256 * 9}, {256, 256 * 9}}
	rng := rand.New(rand.NewPCG(5, 6))
	var ps paramSet[float32]
	for i, sh := range shapes {
		p, g := make([]float32, sh[0]*sh[1]), make([]float32, sh[0]*sh[1])
		for j := range p {
			p[j], g[j] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		ps.params, ps.grads = append(ps.params, p), append(ps.grads, g)
		ps.names, ps.rows = append(ps.names, fmt.Sprint("W", i)), append(ps.rows, sh[0])
	}
	for _, o := range []Optimizer{Nesterov, Muon} {
		b.Run(string(o), func(b *testing.B) {
			opt := newOptimizer(ps, Config{Optimizer: o, LR: 0.1, MuonLR: 0.1, Momentum: 0.85, MuonMomentum: 0.6})
			b.ReportAllocs()
			for i := range b.N {
				opt.step(0.1, i+1)
			}
		})
	}
}
