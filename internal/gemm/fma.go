package gemm

import "math"

// fmaFor returns the fused multiply-add of T: x*y+z rounded once.
func fmaFor[T Float]() func(x, y, z T) T {
	var zero T
	switch any(zero).(type) {
	case float32:
		return any(fma32).(func(x, y, z T) T)
	default:
		return any(fma64).(func(x, y, z T) T)
	}
}

// fma64 is math.FMA called directly, so that the compiler uses the FMA
// instruction where the CPU has one.
func fma64(x, y, z float64) float64 { return math.FMA(x, y, z) }
