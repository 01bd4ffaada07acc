package layers

import (
	"math/rand/v2"
	"testing"
)

// After the first, a training step of a net of every layer kind (its loss,
// gradients and the L2 penalty) and its scoring allocate nothing.
func TestNetStepNoAllocs(t *testing.T) {
	a, err := ParseArch("conv4k3-bn-relu-maxpool2-conv5k3s2p1nobias-gelu-avgpool2-bn-dropout0.3-fc6-relu-fc10-scale1/9")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	net, err := Build[float32](a, Shape{3, 16, 16}, 10, rng)
	if err != nil {
		t.Fatal(err)
	}
	net.Init(0.1, rng)
	x := make([]float32, 8*3*16*16)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := []uint8{0, 1, 2, 3, 4, 5, 6, 7}
	pred := make([]uint8, 8)
	step := func() {
		net.Loss(x, y, 1e-3)
		net.Track(0.1)
		net.Predict(pred, x, 8)
	}
	step()
	if n := testing.AllocsPerRun(5, step); n != 0 {
		t.Errorf("%v allocations a step", n)
	}
}
