package layers

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nettrain/nettrain/internal/gemm"
	"gonum.org/v1/gonum/blas"
)

// benchStep times one training step (forward, loss, backward; no update)
// of a preset at a batch size, in float32 (with bf16, its convolutions'
// products in bfloat16), on CIFAR-sized random inputs.
func benchStep(b *testing.B, arch string, batch int, bf16 bool) {
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
	for _, l := range net.Layers {
		if c, ok := l.(*Conv[float32]); ok {
			c.BF16 = bf16
		}
	}
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
func BenchmarkStepCS231nConvNet50(b *testing.B) { benchStep(b, "cs231n-convnet", 50, false) }

// The airbench net at batch 1024 (issue 23 asks for its time per step).
func BenchmarkStepAirbench1024(b *testing.B) { benchStep(b, "airbench", 1024, false) }

// The same with the products in bfloat16 (matmul bf16).
func BenchmarkStepAirbench1024BF16(b *testing.B) { benchStep(b, "airbench", 1024, true) }

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
		scratch := make([]float32, paddedSize(c.in, pad))
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				im2row(rows, x, c.in, c.k, 1, pad, out, 0, n, scratch)
			}
		})
		b.Run(c.name+"/row2im", func(b *testing.B) {
			for b.Loop() {
				row2im(x, rows, c.in, c.k, 1, pad, out, 0, n, scratch)
			}
		})
	}
}

// BenchmarkElementwise times airbench's elementwise layers at batch 256
// on its largest activations (64x31x31, after the first block's
// convolution), float32, forward and backward: GELU, batch norm, and 2x2
// max pooling.
func BenchmarkElementwise(b *testing.B) {
	const batch = 256
	in := Shape{64, 31, 31}
	rng := rand.New(rand.NewPCG(3, 3))
	x, dy := make([]float32, batch*in.Size()), make([]float32, batch*in.Size())
	for i := range x {
		x[i], dy[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	pool, err := NewPool[float32](in, true, 2, 2)
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range []struct {
		name string
		l    Layer[float32]
	}{{"gelu", NewGELU[float32](in)}, {"batchnorm", NewBatchNorm[float32]("1", in)}, {"maxpool2", pool}} {
		d := dy[:batch*l.l.Out().Size()]
		b.Run(l.name, func(b *testing.B) {
			for b.Loop() {
				l.l.Forward(x, batch, true)
				l.l.Backward(d)
			}
			b.ReportMetric(float64(len(x))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mentries/s")
		})
	}
}

// BenchmarkConvAirbench times each convolution shape of the airbench net
// at batch 1024 in float32, forward, weight gradient (Backward of the
// first layer, which skips the input's) and input gradient (the rest of a
// full Backward), as GFLOPS of the product 2 M N K each is (M = N Ho Wo,
// N = F, K = C K K), beside our GEMM on a square product of 2048 in the
// same run.
func BenchmarkConvAirbench(b *testing.B) {
	const batch = 1024
	b.Run("gemm2048", func(b *testing.B) {
		const n = 2048
		rng := rand.New(rand.NewPCG(1, 1))
		x, y, z := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
		for i := range x {
			x[i], y[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		for b.Loop() {
			gemm.Gemm(blas.NoTrans, blas.NoTrans, n, n, n, 1, x, n, y, n, 0, z, n)
		}
		b.ReportMetric(2*n*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
	})
	for _, s := range []struct {
		in      Shape
		f, k, p int
	}{
		{Shape{3, 32, 32}, 24, 2, 0},
		{Shape{24, 31, 31}, 64, 3, 1},
		{Shape{64, 15, 15}, 64, 3, 1},
		{Shape{64, 15, 15}, 256, 3, 1},
		{Shape{256, 7, 7}, 256, 3, 1},
		{Shape{256, 3, 3}, 256, 3, 1},
	} {
		rng := rand.New(rand.NewPCG(2, 2))
		c, err := NewConv[float32]("1", s.in, s.f, s.k, 1, s.p, false)
		if err != nil {
			b.Fatal(err)
		}
		for i := range c.W.V {
			c.W.V[i] = float32(rng.NormFloat64() * 0.05)
		}
		x := make([]float32, batch*s.in.Size())
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		out := c.Out()
		dy := make([]float32, batch*out.Size())
		for i := range dy {
			dy[i] = float32(rng.NormFloat64())
		}
		flop := 2 * float64(batch*out.H*out.W) * float64(s.f) * float64(s.in.C*s.k*s.k)
		name := fmt.Sprintf("%dx%dx%d-%dk%d", s.in.C, s.in.H, s.in.W, s.f, s.k)
		gflops := func(b *testing.B, seconds float64) {
			b.ReportMetric(flop*float64(b.N)/seconds/1e9, "GFLOPS")
		}
		c.Forward(x, batch, true) // the buffers, before the clock
		b.Run(name+"/forward", func(b *testing.B) {
			for b.Loop() {
				c.Forward(x, batch, true)
			}
			gflops(b, b.Elapsed().Seconds())
		})
		c.Forward(x, batch, true)
		var weight time.Duration
		b.Run(name+"/weightgrad", func(b *testing.B) {
			c.NoInputGrad = true
			for b.Loop() {
				c.Backward(dy)
			}
			weight = b.Elapsed() / time.Duration(b.N)
			gflops(b, b.Elapsed().Seconds())
		})
		if s.k == 2 { // the first layer: nothing needs the images' gradient
			continue
		}
		b.Run(name+"/inputgrad", func(b *testing.B) {
			c.NoInputGrad = false
			for b.Loop() {
				c.Backward(dy)
			}
			gflops(b, b.Elapsed().Seconds()-weight.Seconds()*float64(b.N))
		})
	}
}
