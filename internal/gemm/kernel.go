package gemm

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// kernel is one micro-kernel set for element type T: rows reads A[i,p] at
// a[i*lda+p], cols at a[p*lda+i]. Both compute the mr x nr tile
// C[i,j] (row stride ldc) = (load ? C[i,j] : 0) + sum_p A[i,p] B[p,j] as an
// FMA chain over p, B[p,j] at b[p*ldb+j] (a packed panel has ldb = nr);
// cn is the next tile of C, which the SIMD kernels prefetch.
type kernel[T Float] struct {
	name       string
	mr, nr     int
	rows, cols func(k int, a *T, lda int, b *T, ldb int, c *T, ldc int, cn *T, load bool)
}

// Float is the element type: float32 or float64.
type Float interface{ ~float32 | ~float64 }

// The kernels this CPU can run, best first: the SIMD ones
// (simdKernels, per architecture), then plain Go.
var kernels32, kernels64 = available()

func available() ([]kernel[float32], []kernel[float64]) {
	s32, s64 := simdKernels()
	return append(s32, goKernel[float32]()), append(s64, goKernel[float64]())
}

// selection is what products run on: the kernel at index kernel of
// kernels32 and kernels64, or a backend. One atomic pointer, so that Use
// and Register may run while products run (each product reads it once).
type selection struct {
	kernel  int
	backend *Backend // or nil for the kernels
}

var (
	current  atomic.Pointer[selection]
	registry sync.Mutex // guards backends
)

// Backend is another library's whole product, for comparison: gonum's
// pure-Go BLAS ("gonum", always there) and OpenBLAS ("openblas", registered
// by the openblas build). Selected by name with Use, it replaces the
// kernels, and its results are only as reproducible as it is.
type Backend struct {
	Name  string
	Sgemm func(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	Dgemm func(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int)
}

var backends = []*Backend{{Name: "gonum", Sgemm: gonum.Implementation{}.Sgemm, Dgemm: gonum.Implementation{}.Dgemm}}

// Register adds a backend, or replaces the one of the same name, and
// selects it if $NETTRAIN_GEMM names it.
func Register(b Backend) {
	registry.Lock()
	if i := slices.IndexFunc(backends, func(o *Backend) bool { return o.Name == b.Name }); i >= 0 {
		backends[i] = &b
	} else {
		backends = append(backends, &b)
	}
	registry.Unlock()
	if os.Getenv(EnvKernel) == b.Name {
		Use(b.Name)
	}
}

// EnvKernel is the environment variable that picks a kernel by name
// (avx512, avx2, go) instead of the best one the CPU runs; for tests and
// benchmarks.
const EnvKernel = "NETTRAIN_GEMM"

// envErr is why $NETTRAIN_GEMM could not be followed, if it could not.
var envErr error

func init() {
	current.Store(&selection{}) // the best kernel, unless $NETTRAIN_GEMM says otherwise
	if name := os.Getenv(EnvKernel); name != "" {
		if err := Use(name); err != nil {
			envErr = fmt.Errorf("%s=%s: %w; using %s", EnvKernel, name, err, Kernel())
		}
	}
}

// EnvError says why $NETTRAIN_GEMM was not followed, or is nil. A backend
// registered later (Register) may still take the name.
func EnvError() error {
	if b := current.Load().backend; envErr != nil && b != nil && b.Name == os.Getenv(EnvKernel) {
		return nil
	}
	return envErr
}

// Kernel names the micro-kernel in use: "avx512", "avx2" or "go", or the
// backend in use.
func Kernel() string {
	sel := current.Load()
	if sel.backend != nil {
		return sel.backend.Name
	}
	return kernels32[sel.kernel].name
}

// Kernels lists the kernels this CPU runs, best first.
func Kernels() []string {
	names := make([]string, len(kernels32))
	for i, k := range kernels32 {
		names[i] = k.name
	}
	return names
}

// Use selects a kernel or a registered backend by name, for the products
// that start after it.
func Use(name string) error {
	for i, k := range kernels32 {
		if k.name == name {
			current.Store(&selection{kernel: i})
			return nil
		}
	}
	registry.Lock()
	defer registry.Unlock()
	for _, b := range backends {
		if b.Name == name {
			current.Store(&selection{backend: b})
			return nil
		}
	}
	have := Kernels()
	for _, b := range backends {
		have = append(have, b.Name)
	}
	return fmt.Errorf("gemm: no kernel %q on this CPU (have %s)", name, strings.Join(have, ", "))
}

func kernelFor[T Float](sel *selection) *kernel[T] {
	var z T
	switch any(z).(type) {
	case float32:
		return any(&kernels32[sel.kernel]).(*kernel[T])
	default:
		return any(&kernels64[sel.kernel]).(*kernel[T])
	}
}

// goKernel is the plain-Go kernel: 4x4 tiles, exact FMAs (math.FMA for
// float64, fma32 for float32), so that it gives the SIMD kernels' bits.
func goKernel[T Float]() kernel[T] {
	var z T
	var body func(k int, a *T, rs, cs int, b *T, ldb int, c *T, ldc int, load bool)
	switch any(z).(type) {
	case float32:
		body = any(goBody32).(func(k int, a *T, rs, cs int, b *T, ldb int, c *T, ldc int, load bool))
	default:
		body = any(goBody64).(func(k int, a *T, rs, cs int, b *T, ldb int, c *T, ldc int, load bool))
	}
	return kernel[T]{
		name: "go", mr: goMR, nr: goNR,
		rows: func(k int, a *T, lda int, b *T, ldb int, c *T, ldc int, _ *T, load bool) {
			body(k, a, lda, 1, b, ldb, c, ldc, load)
		},
		cols: func(k int, a *T, lda int, b *T, ldb int, c *T, ldc int, _ *T, load bool) {
			body(k, a, 1, lda, b, ldb, c, ldc, load)
		},
	}
}

const goMR, goNR = 4, 4

// goBody64 is the plain-Go tile: A[i,p] at a[i*rs+p*cs].
func goBody64(k int, a *float64, rs, cs int, b *float64, ldb int, c *float64, ldc int, load bool) {
	var acc [goMR][goNR]float64
	if load {
		for i := range goMR {
			acc[i] = *(*[goNR]float64)(unsafe.Pointer(at(c, i*ldc)))
		}
	}
	for p := range k {
		bp := (*[goNR]float64)(unsafe.Pointer(at(b, p*ldb)))
		for i := range goMR {
			ai := *at(a, i*rs+p*cs)
			for j := range goNR {
				acc[i][j] = math.FMA(ai, bp[j], acc[i][j])
			}
		}
	}
	for i := range goMR {
		*(*[goNR]float64)(unsafe.Pointer(at(c, i*ldc))) = acc[i]
	}
}

// goBody32 is goBody64 in float32.
func goBody32(k int, a *float32, rs, cs int, b *float32, ldb int, c *float32, ldc int, load bool) {
	var acc [goMR][goNR]float32
	if load {
		for i := range goMR {
			acc[i] = *(*[goNR]float32)(unsafe.Pointer(at(c, i*ldc)))
		}
	}
	for p := range k {
		bp := (*[goNR]float32)(unsafe.Pointer(at(b, p*ldb)))
		for i := range goMR {
			ai := *at(a, i*rs+p*cs)
			for j := range goNR {
				acc[i][j] = fma32(ai, bp[j], acc[i][j])
			}
		}
	}
	for i := range goMR {
		*(*[goNR]float32)(unsafe.Pointer(at(c, i*ldc))) = acc[i]
	}
}

// at returns &p[i] for p pointing into a slice.
func at[T Float](p *T, i int) *T {
	return (*T)(unsafe.Add(unsafe.Pointer(p), uintptr(i)*unsafe.Sizeof(*p)))
}
