package sgd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/layers"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/preprocess"
)

// streamDropout is the PCG stream of a conv net's dropout layers: each
// iteration reseeds it from the seed and the iteration, as the minibatch's.
const streamDropout = 0x6472_6f70_6f75_7421 // "dropout!"

// TrainConv is Train for a convolutional net: the same loop (minibatches,
// flips and translations, schedules, warm-up, optimizers, weight decay,
// label smoothing, epochs, early stopping, keep-best, resuming from
// c.Init, snapshots through hooks.SaveConv), on net in place. Refused:
// --dropout (a conv net's dropout is a layer of its arch), and
// preprocessing other than the mean image.
func TrainConv(ctx context.Context, net *layers.Net[float64], data preprocess.Data, c Config, hooks Hooks) (History, error) {
	if err := c.Check(); err != nil {
		return History{}, err
	}
	switch {
	case data.Train.N() == 0 || data.Val.N() == 0:
		return History{}, errors.New("sgd: empty training or validation set")
	case net.In.Size() != cifar.D || len(data.Mean) != cifar.D:
		return History{}, fmt.Errorf("sgd: net takes %v inputs, data has %d", net.In, cifar.D)
	case data.Folded():
		return History{}, errors.New("a convolutional net takes {preprocess} mean only so far")
	case hooks.Snapshot != nil && hooks.SaveConv == nil:
		return History{}, errors.New("sgd: TrainConv's snapshots need hooks.SaveConv")
	case c.Dropout > 0:
		return History{}, errors.New("{dropout} is the fully connected net's; a convolutional net's dropout is a layer of its arch (dropout0.5)")
	case c.Whiten && !isWhitening(net):
		return History{}, errors.New("{whiten} needs the net to start with a convolution without padding or stride and 2 C K K filters, as airbench's conv24k2")
	}
	if c.Precision == Float64 {
		return train[float64](ctx, newConv[float64](net, c), data, c, hooks)
	}
	return train[float32](ctx, newConv[float32](net, c), data, c, hooks)
}

// conv is a convolutional net as the loop trains it.
type conv[T model.Float] struct {
	out *layers.Net[float64] // the caller's, written back at the end
	net *layers.Net[T]
	pcg *rand.PCG // the dropout layers' generator
	x   []T       // a chunk of validation images
	y   []uint8

	// Each parameter's learning-rate multiplier (lrScales): base, and
	// scale as of the iteration; whitenBias is the index of the whitening
	// layer's bias, or -1.
	base, scale      []float64
	whitenBias       int
	whitenBiasEpochs int
	whiten           *layers.Conv[T] // the whitening layer, or nil

	filters map[*layers.Param[T]]bool // what optimizer muon orthogonalises, or nil

	bf16 []*layers.Conv[T] // with matmul bf16 (Config.BF16), the convolutions: bfloat16 in loss, float32 in scoring
}

func newConv[T model.Float](out *layers.Net[float64], c Config) *conv[T] {
	v := &conv[T]{out: out, net: layers.As[T](out), pcg: rand.NewPCG(0, 0), whitenBias: -1, whitenBiasEpochs: c.WhitenBiasEpochs}
	v.net.Smoothing = c.LabelSmoothing
	rng := rand.New(v.pcg)
	for _, l := range v.net.Layers {
		if d, ok := l.(*layers.Dropout[T]); ok {
			d.Rng = rng
		}
	}
	var whiten *layers.Conv[T]
	if c.Whiten {
		whiten = v.net.Layers[0].(*layers.Conv[T]) // TrainConv checked
		// Never trained, so neither penalised nor decayed.
		whiten.W.Frozen, whiten.W.Decay = true, false
	}
	betas := map[*layers.Param[T]]bool{}
	if c.Optimizer == Muon {
		v.filters = map[*layers.Param[T]]bool{}
	}
	for _, l := range v.net.Layers {
		switch l := l.(type) {
		case *layers.BatchNorm[T]:
			betas[l.Beta] = true
		case *layers.Conv[T]:
			if c.BF16 {
				v.bf16 = append(v.bf16, l)
			}
			if v.filters != nil && !l.W.Frozen {
				// Renormalised each step (muon): neither penalised nor decayed.
				v.filters[l.W], l.W.Decay = true, false
			}
		}
	}
	scaled := false
	for i, p := range v.net.Params() {
		s := 1.0
		switch {
		case p.Frozen:
			s = 0
		case betas[p] && c.BiasLR != 0:
			s = c.BiasLR
		case whiten != nil && p == whiten.B:
			v.whitenBias, v.whiten = i, whiten
		}
		scaled = scaled || s != 1 || v.whitenBias == i
		v.base = append(v.base, s)
	}
	if scaled {
		v.scale = make([]float64, len(v.base))
	}
	return v
}

// lrScales is base, with the whitening layer's bias at 0 from epoch
// whitenBiasEpochs on. Then, the whole layer frozen, it marks the bias
// Frozen too (and unmarks it for an earlier epoch), so that backward
// stops before that layer and the next one skips its input gradient
// (layers.Net.Refreeze): nothing would use them (a parameter with a rate
// of 0 is left alone, its optimizer state too).
func (v *conv[T]) lrScales(_, epoch int) []float64 {
	if v.scale == nil {
		return nil
	}
	copy(v.scale, v.base)
	if v.whiten == nil {
		return v.scale
	}
	frozen := epoch >= v.whitenBiasEpochs
	if frozen {
		v.scale[v.whitenBias] = 0
	}
	if v.whiten.B.Frozen != frozen {
		v.whiten.B.Frozen = frozen
		v.net.Refreeze()
	}
	return v.scale
}

func (v *conv[T]) arrays() []layers.Array[T] { return v.net.Arrays() }

func (v *conv[T]) inputs() int    { return v.net.In.Size() }
func (v *conv[T]) maskUnits() int { return 0 }

func (v *conv[T]) params() paramSet[T] {
	ps := paramSet[T]{}
	if v.filters != nil {
		ps.rows = make([]int, len(v.net.Params()))
	}
	for i, p := range v.net.Params() {
		ps.params, ps.grads, ps.names = append(ps.params, p.V), append(ps.grads, p.G), append(ps.names, p.Name)
		if p.Decay {
			ps.weights = append(ps.weights, p.V)
		}
		if v.filters[p] {
			ps.rows[i] = p.Shape[0]
		}
	}
	ps.sgdStep = func(lr float64) {
		for i, p := range ps.params {
			axpy(T(-lr), ps.grads[i], p)
		}
	}
	return ps
}

// axpy is y += alpha x.
func axpy[T model.Float](alpha T, x, y []T) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func (v *conv[T]) prepare(preprocess.Data, Config) error {
	v.x, v.y = make([]T, layers.ScoreChunk*cifar.D), make([]uint8, layers.ScoreChunk)
	return nil
}

func (v *conv[T]) loss(mb *minibatch[T], it int, c Config) float64 {
	v.pcg.Seed(batchSeed(c.Seed^streamDropout, it))
	v.products(true)
	defer v.products(false)
	return v.net.Loss(mb.x, mb.y, c.Reg)
}

// products sets the convolutions' products to bfloat16 or float32, for
// training with matmul bf16 (v.bf16): scoring stays float32.
func (v *conv[T]) products(bf16 bool) {
	for _, l := range v.bf16 {
		l.BF16 = bf16
	}
}

func (v *conv[T]) track(m float64) { v.net.Track(m) }

func (v *conv[T]) predict(dst []uint8, x []T) { v.net.Predict(dst, x, len(dst)) }

func (v *conv[T]) predictVal(dst []uint8, data preprocess.Data) []uint8 {
	chunk := len(v.y)
	for i := 0; i < data.Val.N(); i += chunk {
		n := min(chunk, data.Val.N()-i)
		cifar.GatherRange(v.x[:n*cifar.D], v.y[:n], data.Val, i, n, data.Mean)
		v.net.Predict(dst[i:i+n], v.x[:n*cifar.D], n)
	}
	return dst
}

func (v *conv[T]) keepBest(st *State) {
	if st.BestConv == nil {
		st.BestConv = layers.As[float64](v.out)
	}
	layers.SetFrom(st.BestConv, v.net)
}

func (v *conv[T]) snapshot(st *State, keepBest bool) State {
	return v.snapshotInto(v.out, st, keepBest)
}

func (v *conv[T]) snapshotCopy(st *State, keepBest bool) (*model.Net, *layers.Net[float64], State) {
	n := layers.As[float64](v.out)
	return nil, n, v.snapshotInto(n, st, keepBest)
}

// snapshotInto writes into n the weights Train ends with, as of now (the
// best epoch's with keepBest, the last kept in the State), and returns the
// State to resume from.
func (v *conv[T]) snapshotInto(n *layers.Net[float64], st *State, keepBest bool) State {
	s := *st
	if keepBest && st.BestConv != nil {
		s.LastConv = layers.As[float64](v.out)
		layers.SetFrom(s.LastConv, v.net)
		layers.SetFrom(n, st.BestConv)
	} else {
		layers.SetFrom(n, v.net)
	}
	if st.BestConv != nil {
		s.BestConv = layers.As[float64](st.BestConv)
	}
	return s
}

// isWhitening reports whether net's first layer can be a patch-whitening
// layer: a convolution of stride 1 without padding, with two filters (f
// and -f) for each of the C K K directions of its patches.
func isWhitening(net *layers.Net[float64]) bool {
	c, ok := net.Layers[0].(*layers.Conv[float64])
	return ok && c.S == 1 && c.P == 0 && c.F == 2*c.In.C*c.K*c.K && c.B != nil
}

// InitUniform draws net's weights as PyTorch's default does, with dirac
// as airbench's (layers.Net.InitUniform), from the seed's init stream.
func InitUniform(net *layers.Net[float64], seed uint64, dirac bool) {
	net.InitUniform(rand.New(rand.NewPCG(seed, streamInit)), dirac)
}

// InitConv draws net's weights as std N(0,1) from the seed's init stream,
// as InitNorm does the MLP's (cs231n's weight_scale); biases and beta 0,
// gamma 1.
func InitConv(net *layers.Net[float64], std float64, seed uint64) {
	net.Init(std, rand.New(rand.NewPCG(seed, streamInit)))
}
