package layers

import (
	"math/rand/v2"
	"testing"
)

// benchStep times one training step (forward, loss, backward; no update)
// of a preset at a batch size, in float32, on CIFAR-sized random inputs.
func benchStep(b *testing.B, arch string, batch int) {
	a, err := ParseArch(arch)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	in := Shape{3, 32, 32}
	net, err := Build[float32](a, in, 10, rng)
	if err != nil {
		b.Fatal(err)
	}
	net.Init(1e-3, rng)
	x := make([]float32, batch*in.Size())
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 60)
	}
	y := make([]uint8, batch)
	for i := range y {
		y[i] = uint8(rng.IntN(10))
	}
	net.Loss(x, y, 1e-3)
	b.ResetTimer()
	for range b.N {
		net.Loss(x, y, 1e-3)
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N)*50000/float64(batch), "s/epoch")
}

// The assignment's run: cs231n-convnet at batch 50.
func BenchmarkStepCS231nConvNet50(b *testing.B) { benchStep(b, "cs231n-convnet", 50) }

// The airbench net at batch 1024 (issue 23 asks for its time per step).
func BenchmarkStepAirbench1024(b *testing.B) { benchStep(b, "airbench", 1024) }

// im2row and row2im of cs231n-convnet's first layer (3x32x32, 7x7,
// padding 3) and of a 3x3 layer of airbench (64x16x16), batch 50.
func BenchmarkIm2row(b *testing.B) {
	for _, c := range []struct {
		name string
		in   Shape
		k    int
	}{{"3x32x32k7", Shape{3, 32, 32}, 7}, {"64x16x16k3", Shape{64, 16, 16}, 3}} {
		const n = 50
		pad := (c.k - 1) / 2
		out := Shape{1, c.in.H, c.in.W}
		x := make([]float32, n*c.in.Size())
		rows := make([]float32, n*out.H*out.W*c.in.C*c.k*c.k)
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				im2row(rows, x, c.in, c.k, 1, pad, out, 0, n)
			}
		})
		b.Run(c.name+"/row2im", func(b *testing.B) {
			for b.Loop() {
				row2im(x, rows, c.in, c.k, 1, pad, out, 0, n)
			}
		})
	}
}
