package gemm

import (
	"testing"

	"gonum.org/v1/gonum/blas"
)

// FuzzGemm checks Gemm against Reference, bit for bit, on fuzzed shapes,
// transposes, strides, scalars and thread counts, with every kernel.
func FuzzGemm(f *testing.F) {
	f.Add(uint8(13), uint8(33), uint8(7), uint8(0), uint8(0), uint64(1))
	f.Add(uint8(200), uint8(50), uint8(255), uint8(0b0011), uint8(3), uint64(2))
	f.Add(uint8(1), uint8(1), uint8(0), uint8(0b1100), uint8(1), uint64(3))
	f.Add(uint8(25), uint8(65), uint8(129), uint8(0b1111), uint8(2), uint64(4))
	f.Fuzz(func(t *testing.T, m, n, k, flags, pad uint8, seed uint64) {
		p := problem{tA: blas.NoTrans, tB: blas.NoTrans, m: int(m), n: int(n), k: int(k), seed: seed,
			alpha: []float64{1, -1, 0.5, 0}[flags>>2&3], beta: []float64{0, 1, 0.25, -2}[flags>>4&3]}
		if flags&1 != 0 {
			p.tA = blas.Trans
		}
		if flags&2 != 0 {
			p.tB = blas.Trans
		}
		p.setStrides(int(pad % 5))
		if p.m == 0 || p.n == 0 {
			return // nothing to check; the shape checks cover them
		}
		nt := 1 + int(flags>>6)
		defer splitAll()()
		saved := Kernel()
		defer Use(saved)
		want32, want64 := reference[float32](p), reference[float64](p)
		for _, name := range Kernels() {
			Use(name)
			if i := sameBits(run[float32](p, nt), want32); i >= 0 {
				t.Fatalf("%s float32 %v threads %d: differs from the reference at %d", name, p, nt, i)
			}
			if i := sameBits(run[float64](p, nt), want64); i >= 0 {
				t.Fatalf("%s float64 %v threads %d: differs from the reference at %d", name, p, nt, i)
			}
		}
	})
}
