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
