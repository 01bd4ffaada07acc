package sgd

import (
	"github.com/nettrain/nettrain/internal/layers"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/preprocess"
)

// learner is what the loop trains: the fully connected net (mlp) or a
// convolutional one (conv). The loop owns everything else, the same for
// both: the minibatches and their augmentation, the schedule, the
// optimizer, epochs, early stopping and snapshots.
type learner[T model.Float] interface {
	inputs() int    // D, the numbers of an image
	maskUnits() int // the dropout mask's units per row (the MLP's --dropout), or 0
	params() paramSet[T]
	prepare(data preprocess.Data, c Config) error
	// loss computes the loss of minibatch mb (iteration it) and every
	// parameter's gradient.
	loss(mb *minibatch[T], it int, c Config) float64
	track(m float64) // batch norm's running statistics, from the last loss
	predict(dst []uint8, x []T)
	predictVal(dst []uint8, data preprocess.Data) []uint8
	keepBest(st *State) // st.Best = the weights now
	// snapshot writes the weights Train ends with into the caller's net
	// (the best epoch's with keepBest) and returns st with Best and Last.
	snapshot(st *State, keepBest bool) State
	// snapshotCopy is snapshot into a new net, for the Save hook: an MLP
	// or a conv net, whichever the learner trains.
	snapshotCopy(st *State, keepBest bool) (*model.Net, *layers.Net[float64], State)
	// lrScales returns each parameter's learning-rate multiplier in
	// iteration it of epoch (0-based), in params' order, or nil: 1 each.
	lrScales(it, epoch int) []float64
	// arrays returns what Lookahead averages: the parameters and running
	// statistics, by name (nil: the learner has no lookahead).
	arrays() []layers.Array[T]
}

// paramSet is what the optimizer updates: the parameters, their gradients
// and names, the weights that weight decay shrinks, and plain SGD's step.
type paramSet[T model.Float] struct {
	params, grads [][]T
	names         []string
	weights       [][]T
	sgdStep       func(lr float64)
	// rows is, for each parameter that optimizer muon orthogonalises (a
	// convolution's filters, F rows of C K K), its rows; 0 for the others.
	// nil: none.
	rows []int
}

// mlp is the fully connected net, trained on model.Raw's fused kernels.
type mlp[T model.Float] struct {
	net        *model.Net // the caller's, written back at the end
	sizes      []int
	norm       model.Norm
	raw, grads *model.Raw[T] // the weights as trained, and their gradients
	ws         *model.Workspace[T]
	whiten     []T // Z in T, for folding, or nil
	scorer     model.Scorer[T]
	scored     *model.Raw[T] // the weights scored on validation: raw, with preprocessing folded in
}

func newMLP[T model.Float](net *model.Net) *mlp[T] {
	m := &mlp[T]{net: net, sizes: net.Sizes(), norm: net.Norm}
	m.raw = model.RawOf[T](net)
	m.grads = model.NewRawNorm[T](m.norm, m.sizes...)
	return m
}

func (m *mlp[T]) inputs() int    { return m.sizes[0] }
func (m *mlp[T]) maskUnits() int { return model.HiddenUnits(m.sizes) }

func (m *mlp[T]) params() paramSet[T] { return rawParams(m.raw, m.grads) }

func (m *mlp[T]) prepare(data preprocess.Data, c Config) error {
	d := m.sizes[0]
	if data.Whiten != nil {
		m.whiten = make([]T, d*d)
		for i, v := range data.Whiten.RawMatrix().Data {
			m.whiten[i] = T(v)
		}
	}
	m.ws = &model.Workspace[T]{Smoothing: c.LabelSmoothing}
	m.scored = m.raw
	if data.Folded() {
		m.scored = model.NewRawNorm[T](m.norm, m.sizes...)
	}
	return nil
}

func (m *mlp[T]) loss(mb *minibatch[T], _ int, c Config) float64 {
	m.ws.Dropout = mb.mask
	return m.raw.Loss(m.grads, m.ws, mb.x, mb.y, c.Reg)
}

func (m *mlp[T]) track(t float64) { m.raw.Track(m.ws, t) }

func (m *mlp[T]) predict(dst []uint8, x []T) { m.raw.Predict(dst, m.ws, x) } // Predict ignores ws.Dropout

func (m *mlp[T]) predictVal(dst []uint8, data preprocess.Data) []uint8 {
	if data.Folded() {
		preprocess.FoldRaw(m.scored, m.raw, data.Scale, m.whiten)
	}
	return m.scorer.PredictSet(m.scored, dst, data.Val, data.Mean)
}

func (m *mlp[T]) keepBest(st *State) {
	if st.Best == nil {
		st.Best = model.ZerosNorm(m.norm, m.sizes...)
	}
	model.SetFrom(st.Best, m.raw)
}

func (m *mlp[T]) snapshot(st *State, keepBest bool) State {
	return m.snapshotInto(m.net, st, keepBest)
}

func (m *mlp[T]) snapshotCopy(st *State, keepBest bool) (*model.Net, *layers.Net[float64], State) {
	n := model.ZerosNorm(m.norm, m.sizes...)
	return n, nil, m.snapshotInto(n, st, keepBest)
}

// snapshotInto writes into n the weights Train ends with, as of now, and
// returns the State to resume from.
func (m *mlp[T]) snapshotInto(n *model.Net, st *State, keepBest bool) State {
	s := *st
	if keepBest && st.Best != nil {
		// End on the best epoch's weights, keeping the last for a resume.
		s.Last = model.ZerosNorm(m.norm, m.sizes...)
		model.SetFrom(s.Last, m.raw)
		for i, p := range n.Arrays() {
			copy(p, st.Best.Arrays()[i])
		}
	} else {
		model.SetFrom(n, m.raw)
	}
	if st.Best != nil {
		s.Best = st.Best.Clone()
	}
	return s
}

func (m *mlp[T]) lrScales(int, int) []float64 { return nil }
func (m *mlp[T]) arrays() []layers.Array[T]   { return nil }

// rawParams is the paramSet of the MLP weights r with gradients g.
func rawParams[T model.Float](r, g *model.Raw[T]) paramSet[T] {
	return paramSet[T]{params: r.Params(), grads: g.Params(), names: r.ParamNames(), weights: r.W,
		sgdStep: func(lr float64) { r.Step(g, lr) }}
}
