package gemm

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
)

// Block sizes, the same for every kernel (they change the speed, never the
// result): kc steps of the inner dimension per pass, so that a kc x nr
// panel of B stays in L1 (32 KiB for float32 and nr 32), and mc rows of A
// per block, so that an mc x kc block of A stays in L2.
const (
	kc = 256
	mc = 240
)

// minParallel is the number of multiply-adds (about 15 us of work) under
// which a product runs on one thread: handing work to another costs more
// than it saves (dscores W2^T at hidden 500, a million, ran at 93 GFLOPS on
// one thread and 59 on two). A variable so that tests can split small
// products too.
var minParallel = 1 << 21

var threads atomic.Int64

// SetThreads sets how many threads Gemm uses; n <= 0 means
// runtime.GOMAXPROCS(0). Results do not depend on it.
func SetThreads(n int) { threads.Store(int64(n)) }

// Threads returns how many threads Gemm uses.
func Threads() int {
	if n := int(threads.Load()); n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// Gemm computes C = alpha op(A) op(B) + beta C on row-major slices, where
// op(A) is m x k, op(B) is k x n and C is m x n, on Threads() threads; see
// the package documentation for the exact arithmetic. As in BLAS, C is not
// read when beta is 0. Gemm panics if a slice is too short for its shape.
func Gemm[T Float](tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	GemmThreads(Threads(), tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// GemmThreads is Gemm on at most nt threads, for callers that run several
// products at once (nt = 1 runs on the calling goroutine only).
func GemmThreads[T Float](nt int, tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	checkArgs(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	sel := current.Load()
	if backend := sel.backend; backend != nil {
		switch a := any(a).(type) {
		case []float32:
			backend.Sgemm(tA, tB, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
		case []float64:
			backend.Dgemm(tA, tB, m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
		}
		return
	}
	gemm(kernelFor[T](sel), max(nt, 1), tA == blas.Trans, tB == blas.Trans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func checkArgs(tA, tB blas.Transpose, m, n, k, la, lda, lb, ldb, lc, ldc int) {
	if tA != blas.NoTrans && tA != blas.Trans || tB != blas.NoTrans && tB != blas.Trans {
		panic("gemm: bad transpose")
	}
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension (m %d, n %d, k %d)", m, n, k))
	}
	rows, cols := m, k // stored shape of A
	if tA == blas.Trans {
		rows, cols = k, m
	}
	check("A", la, rows, cols, lda)
	rows, cols = k, n
	if tB == blas.Trans {
		rows, cols = n, k
	}
	check("B", lb, rows, cols, ldb)
	check("C", lc, m, n, ldc)
}

func check(name string, l, rows, cols, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("gemm: %s: leading dimension %d < %d columns", name, ld, cols))
	}
	if rows > 0 && cols > 0 && l < (rows-1)*ld+cols {
		panic(fmt.Sprintf("gemm: %s: slice of %d too short for %dx%d with stride %d", name, l, rows, cols, ld))
	}
}

func gemm[T Float](kr *kernel[T], nt int, tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scale(beta, c, m, n, ldc)
		return
	}
	if alpha != 1 {
		// C = alpha*T + beta*C elementwise, T = A B by the rule for alpha 1.
		tp := getBuf[T](m * n)
		t := *tp
		gemm(kr, nt, tA, tB, m, n, k, 1, a, lda, b, ldb, 0, t, n)
		for i := range m {
			ci, ti := c[i*ldc:i*ldc+n], t[i*n:(i+1)*n]
			for j, v := range ti {
				if beta == 0 {
					ci[j] = alpha * v
				} else {
					ci[j] = T(alpha*v) + T(beta*ci[j]) // conversions forbid fusing
				}
			}
		}
		putBuf(tp)
		return
	}
	if beta != 0 && beta != 1 {
		scale(beta, c, m, n, ldc)
	}

	mr, nr := kr.mr, kr.nr
	nIr, nJr := (m+mr-1)/mr, (n+nr-1)/nr
	jb := getJob[T]()
	defer putJob(jb)
	packed := nJr // panels to pack: all of a transposed B, else the edge one
	if !tB {
		packed = min(1, n%nr)
	}
	bp := getBuf[T](packed * k * nr)
	defer putBuf(bp)
	jb.kr, jb.tA, jb.tB, jb.m, jb.n, jb.k = kr, tA, tB, m, n, k
	jb.a, jb.lda, jb.b, jb.ldb, jb.c, jb.ldc = a, lda, b, ldb, c, ldc
	jb.load, jb.bp = beta != 0, *bp
	jb.nIr, jb.nJr = nIr, nJr
	jb.tr, jb.tc = split(nt, nIr, nJr, m*n*k)
	nw := jb.tr * jb.tc
	if len(jb.scratch) < nw {
		jb.scratch = append(jb.scratch, make([]scratch[T], nw-len(jb.scratch))...)
	}
	if nw == 1 {
		jb.pack(0, nJr, 0, k)
		jb.run(&jb.scratch[0], 0, nIr, 0, nJr)
		return
	}
	// Work is handed out in units, taken by whoever is free: the caller
	// and nw-1 pool goroutines. A pool goroutine that starts late (its
	// core busy) finds less to do, and the caller never waits idle for it.
	// Which goroutine computes a tile does not change its bits.
	jb.rowUnits = min(nIr, jb.tr*unitsPerThread)
	jb.units = jb.rowUnits * jb.tc
	jb.packUnits = min(k, nw*unitsPerThread)
	jb.nextPack.Store(0)
	jb.nextUnit.Store(0)
	jb.packed.Add(jb.packUnits)
	jb.computed.Add(jb.units)
	jb.done.Add(nw - 1)
	workers.start(nw - 1)
	for w := 1; w < nw; w++ {
		workers.tasks <- task{jb, w}
	}
	jb.work(0)
	jb.computed.Wait()
	jb.done.Wait() // no pool goroutine holds jb when it goes back to the pool
	jb.a, jb.b, jb.c, jb.bp = nil, nil, nil, nil
}

// unitsPerThread is how many units of work a product on several threads
// is cut into per thread, so that one late thread delays it little.
const unitsPerThread = 4

// work takes units of a product until none is left: first B's rows to pack,
// then, once all of B is packed, blocks of tiles to compute.
func (jb *job[T]) work(w int) {
	for {
		u := int(jb.nextPack.Add(1)) - 1
		if u >= jb.packUnits {
			break
		}
		jb.pack(0, jb.nJr, u*jb.k/jb.packUnits, (u+1)*jb.k/jb.packUnits)
		jb.packed.Done()
	}
	jb.packed.Wait()
	for {
		u := int(jb.nextUnit.Add(1)) - 1
		if u >= jb.units {
			break
		}
		r, q := u/jb.tc, u%jb.tc
		jb.run(&jb.scratch[w], r*jb.nIr/jb.rowUnits, (r+1)*jb.nIr/jb.rowUnits, q*jb.nJr/jb.tc, (q+1)*jb.nJr/jb.tc)
		jb.computed.Done()
	}
	if w > 0 {
		jb.done.Done()
	}
}

// A task is worker w's share of a job, for a pool goroutine.
type task struct {
	jb interface{ work(w int) }
	w  int
}

// workers is the pool of goroutines that run the shares of products but
// the caller's own; they live as long as the program, blocked when idle.
var workers = &pool{tasks: make(chan task)}

type pool struct {
	sync.Mutex
	n     int
	tasks chan task
}

// start makes sure at least n pool goroutines exist.
func (p *pool) start(n int) {
	p.Lock()
	defer p.Unlock()
	for ; p.n < n; p.n++ {
		go func() {
			for t := range p.tasks {
				t.jb.work(t.w)
			}
		}()
	}
}

// split chooses a grid of tr x tc <= nt threads over the nIr x nJr tiles
// of C for the least time on the busiest thread, counted as its tiles plus
// half a tile for each row of tiles it reads A for: a thread streams its rows
// of A once for all its panels of B, so splitting rows also splits that
// traffic.
func split(nt, nIr, nJr, work int) (tr, tc int) {
	if work < minParallel {
		return 1, 1
	}
	nt = min(nt, nIr*nJr)
	best := -1
	for t := nt; t >= 1 && best < 0; t-- {
		for r := t; r >= 1; r-- {
			if t%r != 0 {
				continue
			}
			c := t / r
			if r > nIr || c > nJr {
				continue
			}
			rows := (nIr + r - 1) / r
			cost := 2*rows*((nJr+c-1)/c) + rows
			if best < 0 || cost < best {
				best, tr, tc = cost, r, c
			}
		}
	}
	return tr, tc
}

// scale sets C = beta*C (C = 0 when beta is 0, without reading C).
func scale[T Float](beta T, c []T, m, n, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// job is one product with alpha 1, C already scaled by beta.
type job[T Float] struct {
	kr      *kernel[T]
	tA, tB  bool
	m, n, k int
	a       []T
	lda     int
	b       []T
	ldb     int
	c       []T
	ldc     int
	load    bool // C holds beta*C to add to
	bp      []T  // packed B: panel jr at slot(jr)*k*nr, row p of it at p*nr further

	nIr, nJr int // tiles of C
	tr, tc   int // grid of workers over them
	scratch  []scratch[T]

	// Several threads: units of work and who has taken them.
	rowUnits, units, packUnits int
	nextPack, nextUnit         atomic.Int64
	packed                     sync.WaitGroup // pack units not done
	computed                   sync.WaitGroup // compute units not done
	done                       sync.WaitGroup // pool goroutines not finished
}

// scratch is one worker's buffers for edge tiles.
type scratch[T Float] struct {
	ctile []T // an edge tile of C, nr columns
	apan  []T // an edge panel of A, packed by columns (lda mr)
}

// inPlace reports whether a panel of B w columns wide is read where it is
// instead of packed: a whole panel of B not transposed is nr consecutive
// values in each row already, and packing it would only add a pass over B.
func (jb *job[T]) inPlace(w int) bool { return !jb.tB && w == jb.kr.nr }

// slot is where panel jr of B is packed in bp: a transposed B is packed
// whole, panel by panel; otherwise only the last, partial panel is.
func (jb *job[T]) slot(jr int) int {
	if jb.tB {
		return jr
	}
	return 0
}

// pack packs rows p0 to p1 of panels jr0 to jr1 of B that are not read in
// place, zero-padding the last panel to nr columns.
func (jb *job[T]) pack(jr0, jr1, p0, p1 int) {
	nr, k := jb.kr.nr, jb.k
	for jr := jr0; jr < jr1; jr++ {
		j0 := jr * nr
		w := min(nr, jb.n-j0)
		if jb.inPlace(w) {
			continue
		}
		panel := jb.bp[jb.slot(jr)*k*nr : (jb.slot(jr)+1)*k*nr]
		if !jb.tB {
			for p := p0; p < p1; p++ {
				row := panel[p*nr : (p+1)*nr]
				copy(row, jb.b[p*jb.ldb+j0:p*jb.ldb+j0+w])
				clear(row[w:])
			}
			continue
		}
		if w < nr {
			clear(panel[p0*nr : p1*nr])
		}
		for jj := range w {
			src := jb.b[(j0+jj)*jb.ldb+p0 : (j0+jj)*jb.ldb+p1]
			for p, v := range src {
				panel[(p0+p)*nr+jj] = v
			}
		}
	}
}

// run computes the tiles [ir0, ir1) x [jr0, jr1) of C.
func (jb *job[T]) run(sc *scratch[T], ir0, ir1, jr0, jr1 int) {
	kr := jb.kr
	mr, nr, k := kr.mr, kr.nr, jb.k
	if len(sc.ctile) < mr*nr {
		sc.ctile, sc.apan = make([]T, mr*nr), make([]T, kc*mr)
	}
	ctile, apan := sc.ctile, sc.apan
	mcTiles := max(1, mc/mr)
	for ic := ir0; ic < ir1; ic += mcTiles {
		ic1 := min(ic+mcTiles, ir1)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			load := jb.load || pc > 0
			for jr := jr0; jr < jr1; jr++ {
				j0 := jr * nr
				w := min(nr, jb.n-j0)
				var b *T
				ldb := nr
				if jb.inPlace(w) {
					b, ldb = &jb.b[pc*jb.ldb+j0], jb.ldb
				} else {
					b = &jb.bp[jb.slot(jr)*k*nr+pc*nr]
				}
				for ir := ic; ir < ic1; ir++ {
					i0 := ir * mr
					h := min(mr, jb.m-i0)
					fn, a, lda := kr.rows, (*T)(nil), jb.lda
					keep := 0 // rows of the tile computed again, not stored
					if h < mr && jb.m >= mr {
						// An edge tile of rows: compute the last mr rows
						// of C and store only the new ones, so A needs no
						// padding.
						keep = mr - h
						i0, h = jb.m-mr, mr
					}
					switch {
					case h < mr:
						jb.packEdgeA(apan, i0, h, pc, kb)
						fn, a, lda = kr.cols, &apan[0], mr
					case jb.tA:
						fn, a = kr.cols, &jb.a[pc*jb.lda+i0]
					default:
						a = &jb.a[i0*jb.lda+pc]
					}
					// The tile after this one, to prefetch.
					cn := &jb.c[i0*jb.ldc+j0]
					switch {
					case ir+1 < ic1 && (ir+2)*mr <= jb.m:
						cn = &jb.c[(ir+1)*mr*jb.ldc+j0]
					case ir+1 >= ic1 && jr+1 < jr1:
						cn = &jb.c[ic*mr*jb.ldc+j0+nr]
					}
					if keep == 0 && h == mr && w == nr {
						fn(kb, a, lda, b, ldb, &jb.c[i0*jb.ldc+j0], jb.ldc, cn, load)
						continue
					}
					if load {
						for i := keep; i < h; i++ {
							copy(ctile[i*nr:i*nr+w], jb.c[(i0+i)*jb.ldc+j0:])
						}
					}
					fn(kb, a, lda, b, ldb, &ctile[0], nr, &ctile[0], load)
					for i := keep; i < h; i++ {
						copy(jb.c[(i0+i)*jb.ldc+j0:(i0+i)*jb.ldc+j0+w], ctile[i*nr:i*nr+w])
					}
				}
			}
		}
	}
}

// packEdgeA packs rows i0 to i0+h of op(A), inner steps pc to pc+kb, into
// dst by columns (element (i, p) at p*mr+i), zero-padding rows h to mr.
func (jb *job[T]) packEdgeA(dst []T, i0, h, pc, kb int) {
	mr := jb.kr.mr
	dst = dst[:kb*mr]
	clear(dst)
	for i := range h {
		if jb.tA {
			for p := range kb {
				dst[p*mr+i] = jb.a[(pc+p)*jb.lda+i0+i]
			}
			continue
		}
		for p, v := range jb.a[(i0+i)*jb.lda+pc : (i0+i)*jb.lda+pc+kb] {
			dst[p*mr+i] = v
		}
	}
}

// Pools of jobs and buffers, one of each per element type.
var jobs, bufs [2]sync.Pool

// typeIndex is 0 for float32, 1 for float64: which pool of a pair.
func typeIndex[T Float]() int {
	var z T
	if _, ok := any(z).(float64); ok {
		return 1
	}
	return 0
}

func getJob[T Float]() *job[T] {
	if jb, ok := jobs[typeIndex[T]()].Get().(*job[T]); ok {
		return jb
	}
	return new(job[T])
}

func putJob[T Float](jb *job[T]) { jobs[typeIndex[T]()].Put(jb) }

// getBuf returns a buffer of n elements (contents undefined).
func getBuf[T Float](n int) *[]T {
	if p, ok := bufs[typeIndex[T]()].Get().(*[]T); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]T, n)
	return &s
}

func putBuf[T Float](p *[]T) { bufs[typeIndex[T]()].Put(p) }

// Group runs a loop's shares on the goroutines that run the products'
// (Run). A caller keeps one Group and its share function for every call,
// so that a call allocates nothing; a Group runs one loop at a time.
type Group struct {
	wg sync.WaitGroup
	f  func(w, nt int)
	nt int
}

func (g *Group) work(w int) {
	g.f(w, g.nt)
	g.wg.Done()
}

// Run calls f(w, nt) for w = 0 .. nt-1, nt = min(Threads(), n), share 0 on
// the calling goroutine, and returns when every share is done. The shares
// must not call Gemm (they would wait for the goroutines they occupy) and
// must write disjoint memory; a share's result must not depend on nt for
// results to be the same bits on any number of threads.
func (g *Group) Run(n int, f func(w, nt int)) {
	nt := min(Threads(), n)
	if nt <= 1 {
		f(0, 1)
		return
	}
	workers.start(nt - 1)
	g.f, g.nt = f, nt
	g.wg.Add(nt - 1)
	for w := 1; w < nt; w++ {
		workers.tasks <- task{g, w}
	}
	f(0, nt)
	g.wg.Wait()
	g.f = nil
}

// Share returns the part [lo, hi) of n items that share w of nt takes.
func Share(n, w, nt int) (lo, hi int) { return n * w / nt, n * (w + 1) / nt }
