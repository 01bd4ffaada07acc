package gemm

// fma32 returns x*y+z rounded once to float32. On arm64 the Go compiler
// fuses this expression into one FMADDS instruction (the spec allows it,
// and gc does it on arm64); TestFMA32 checks the result against exact
// arithmetic, so a compiler that stopped fusing would fail it.
func fma32(x, y, z float32) float32 { return x*y + z }
