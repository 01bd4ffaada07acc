package layers

import (
	"math/rand/v2"
	"testing"
)

// Scoring: cs231n-convnet's forward pass on chunks of 250 images.
func BenchmarkScoresCS231nConvNet250(b *testing.B) {
	a, _ := ParseArch("cs231n-convnet")
	rng := rand.New(rand.NewPCG(1, 1))
	net, _ := Build[float32](a, Shape{3, 32, 32}, 10, rng)
	net.Init(1e-3, rng)
	x := make([]float32, 250*3072)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 60)
	}
	dst := make([]uint8, 250)
	net.Predict(dst, x, 250)
	b.ResetTimer()
	for range b.N {
		net.Predict(dst, x, 250)
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*50000/250, "s/50k")
}
