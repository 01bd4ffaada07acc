package sgd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/layers"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/preprocess"
	"github.com/nettrain/nettrain/internal/setting"
)

// Config holds the hyperparameters of a run.
type Config struct {
	Iters     int             // iterations (minibatches)
	Batch     int             // rows per minibatch
	LR        float64         // initial learning rate
	LRDecay   float64         // LR is multiplied by this after each epoch, in (0, 1]
	Reg       float64         // L2 regularisation strength, >= 0
	Seed      uint64          // seeds the minibatch draws
	Precision model.Precision // arithmetic of the training step: float32 (also "") or float64

	// Start is the number of iterations already done, for resuming: the run
	// goes on from iteration Start+1 with the learning rate decayed as it was
	// then, and, since each iteration draws its minibatch from its own
	// seeded generator, ends exactly as a run that never stopped. Init
	// carries the rest of the state (optimizer, best weights) from History.State.
	Start int
	Init  *State

	// Beyond cs231n's SGD; the zero values keep its behaviour exactly.
	Optimizer Optimizer // sgd (also ""), momentum, nesterov or adam, as cs231n's optim.py; or muon
	Momentum  float64   // of momentum and nesterov (and muon's other parameters); 0 means 0.9
	// MuonLR and MuonMomentum are Muon's rate and momentum for a conv
	// net's filters (optimizer muon): the rate follows the schedule as LR
	// does (MuonLR lr/LR in each iteration).
	MuonLR, MuonMomentum float64
	// BF16: a conv net's convolutions multiply in bfloat16 with float32
	// sums (layers.Conv.BF16) in training; float32 only.
	BF16     bool
	Schedule Schedule // step (also ""): LR *= LRDecay after each epoch; cosine: LR*(1+cos(pi*(it-1)/Iters))/2
	// ScheduleIters, if not 0, replaces Iters in the cosine schedule: a run
	// cut short (a sweep's halving rung) follows the longer run's schedule.
	ScheduleIters  int
	Dropout        float64 // probability of dropping a hidden unit in training (inverted dropout), in [0, 1)
	Flip           bool    // mirror each training image left to right with probability 1/2
	KeepBest       bool    // end with the weights of the epoch with the best validation accuracy
	Patience       int     // stop after this many epochs without a better validation accuracy; 0 never
	WeightDecay    float64 // decoupled weight decay (AdamW, SGDW): each step also takes lr*WeightDecay*W from every W, >= 0
	Translate      int     // shift each training image by up to this many pixels each way, at random; 0 never
	TranslatePad   Pad     // what a shift brings in from outside the image: zero (also "") or reflect
	Warmup         int     // iterations over which the learning rate rises linearly from lr/Warmup to the schedule's
	LabelSmoothing float64 // train on targets (1-e) onehot + e/C, in [0, 1)
	// NormTrack is batch norm's weight of each batch in its running
	// statistics, in (0, 1]; 0 means model.NormTrack (cs231n's).
	NormTrack float64

	// airbench's recipe (Jordan 2024), for convolutional nets.
	//
	// Shuffle draws each epoch's minibatches from a permutation of the
	// training set (every image once an epoch, the last Train.N() mod Batch
	// left out) instead of with replacement.
	Shuffle bool
	// AlternateFlip, with Flip, draws each image's flip once and then
	// mirrors the image in every other epoch: flipped in epoch e iff
	// base(image) xor e is odd.
	AlternateFlip bool
	// Lookahead, if not 0, averages the weights every Lookahead iterations
	// from 30% of the run on (lookaheadFrom): avg += (1-rho)(net - avg), then
	// net = avg, rho = 0.95^Lookahead (it/Iters)^3; and net = avg at the
	// end of each epoch and of the run. The average takes in batch norm's
	// running statistics too.
	Lookahead int
	// BiasLR multiplies the learning rate of batch norm's betas
	// (airbench's bias_scaler); 0 means 1.
	BiasLR float64
	// Whiten says the net's first convolution is a patch-whitening layer
	// (run initialises it from the data): its weights are never trained,
	// nor decayed, and its bias is trained for the first WhitenBiasEpochs
	// epochs only.
	Whiten           bool
	WhitenBiasEpochs int
}

// Pad is what a translation brings in from outside the image.
type Pad string

// Pads.
const (
	PadZero    Pad = "zero"    // zeros: the mean image's pixels
	PadReflect Pad = "reflect" // the image mirrored at its border
)

// Valid reports whether p is a pad ("" is PadZero).
func (p Pad) Valid() bool { return p == "" || p == PadZero || p == PadReflect }

// Optimizer is an update rule, as cs231n's optim.py names them.
type Optimizer string

// Optimizers.
const (
	SGD      Optimizer = "sgd"
	Momentum Optimizer = "momentum"
	Nesterov Optimizer = "nesterov"
	Adam     Optimizer = "adam"
	// Muon (Jordan et al. 2024, airbench94_muon): a conv net's filters
	// step along their orthogonalised Nesterov momentum (muon.step), the
	// other parameters as Nesterov.
	Muon Optimizer = "muon"
)

// Valid reports whether o is an optimizer ("" is SGD).
func (o Optimizer) Valid() bool {
	return o == "" || o == SGD || o == Momentum || o == Nesterov || o == Adam || o == Muon
}

// Schedule is a learning-rate schedule.
type Schedule string

// Schedules.
const (
	Step     Schedule = "step"
	Cosine   Schedule = "cosine"
	Triangle Schedule = "triangle" // airbench's: see triangleLR
	Linear   Schedule = "linear"   // airbench94_muon's: see linearLR
)

// Valid reports whether s is a schedule ("" is Step).
func (s Schedule) Valid() bool {
	return s == "" || s == Step || s == Cosine || s == Triangle || s == Linear
}

// Per iteration schedules: the rate of iteration it does not depend on
// the epochs (step's does).
func (s Schedule) perIter() bool { return s == Cosine || s == Triangle || s == Linear }

// State is what a run carries from one iteration to the next besides the
// weights and the iteration count, so that a resumed run ends exactly where
// an uninterrupted one does.
type State struct {
	Slots map[string][]float64 // optimizer state by "slot.param", e.g. "v.W1", "m.b2"
	Best  *model.Net           // with KeepBest: the best weights so far, or nil
	Last  *model.Net           // with KeepBest, when the net was set to Best: the last weights
	// BestConv and LastConv are Best and Last of a convolutional net.
	BestConv, LastConv *layers.Net[float64]
	BestValAcc         float64
	BestEpoch          int
	SinceBest          int // epochs since the best
}

// Precisions.
const (
	Float32 = model.Float32
	Float64 = model.Float64
)

// DefaultConfig is the cs231n notebook's CIFAR-10 run, trained in float32.
func DefaultConfig() Config {
	return Config{Iters: 1000, Batch: 200, LR: 1e-4, LRDecay: 0.95, Reg: 0.25, Precision: Float32}
}

// Check returns an error naming the flag of the first field out of range.
func (c Config) Check() error {
	switch {
	case c.Iters < 1:
		return setting.Errorf("iters", "{iters} is %d, want at least 1", c.Iters)
	case c.Batch < 1:
		return setting.Errorf("batch", "{batch} is %d, want at least 1", c.Batch)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return setting.Errorf("lr", "{lr} is %v, want a positive number such as 1e-4", c.LR)
	case !(c.LRDecay > 0 && c.LRDecay <= 1):
		return setting.Errorf("lr_decay", "{lr_decay} is %v, want a number in (0, 1]", c.LRDecay)
	case !(c.Reg >= 0) || math.IsInf(c.Reg, 0):
		return setting.Errorf("reg", "{reg} is %v, want a number >= 0", c.Reg)
	case !c.Precision.Valid():
		return setting.Errorf("precision", "{precision} is %q, want float32 or float64", c.Precision)
	case c.Start < 0 || c.Start >= c.Iters:
		return fmt.Errorf("%d iterations already done of {iters} %d: nothing to train (raise {iters})", c.Start, c.Iters)
	case !c.Optimizer.Valid():
		return setting.Errorf("optimizer", "{optimizer} is %q, want sgd, momentum, nesterov, adam or muon", c.Optimizer)
	case !(c.Momentum >= 0 && c.Momentum < 1):
		return setting.Errorf("momentum", "{momentum} is %v, want a number in [0, 1)", c.Momentum)
	case !c.Schedule.Valid():
		return setting.Errorf("schedule", "{schedule} is %q, want step, cosine, triangle or linear", c.Schedule)
	case c.Optimizer == Muon && !(c.MuonLR > 0 && c.MuonLR <= 1e6):
		return setting.Errorf("muon_lr", "{muon_lr} is %v, want a number in (0, 1e6]", c.MuonLR)
	case c.Optimizer == Muon && !(c.MuonMomentum >= 0 && c.MuonMomentum < 1):
		return setting.Errorf("muon_momentum", "{muon_momentum} is %v, want a number in [0, 1)", c.MuonMomentum)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return setting.Errorf("dropout", "{dropout} is %v, want a probability in [0, 1)", c.Dropout)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return setting.Errorf("weight_decay", "{weight_decay} is %v, want a number >= 0", c.WeightDecay)
	case c.Translate < 0 || c.Translate >= cifar.Width:
		return setting.Errorf("translate", "{translate} is %d, want 0 (off) to %d pixels", c.Translate, cifar.Width-1)
	case !c.TranslatePad.Valid():
		return setting.Errorf("translate_pad", "{translate_pad} is %q, want zero or reflect", c.TranslatePad)
	case c.Warmup < 0:
		return setting.Errorf("warmup", "{warmup} is %d, want 0 (off) or a number of iterations", c.Warmup)
	case !(c.NormTrack >= 0 && c.NormTrack <= 1):
		return setting.Errorf("norm_track", "{norm_track} is %v, want a number in (0, 1]", c.NormTrack)
	case !(c.LabelSmoothing >= 0 && c.LabelSmoothing < 1):
		return setting.Errorf("label_smoothing", "{label_smoothing} is %v, want a number in [0, 1)", c.LabelSmoothing)
	case c.Patience < 0:
		return setting.Errorf("patience", "{patience} is %d, want 0 (never stop early) or more", c.Patience)
	case c.Lookahead < 0:
		return setting.Errorf("lookahead", "{lookahead} is %d, want 0 (off) or a number of iterations", c.Lookahead)
	case !(c.BiasLR >= 0) || math.IsInf(c.BiasLR, 0):
		return setting.Errorf("bias_lr", "{bias_lr} is %v, want a number > 0", c.BiasLR)
	case c.WhitenBiasEpochs < 0:
		return setting.Errorf("whiten_bias_epochs", "{whiten_bias_epochs} is %d, want 0 or more", c.WhitenBiasEpochs)
	case c.BF16 && c.Precision == Float64:
		return setting.Errorf("matmul", "{matmul} bf16 needs {precision} float32")
	case c.AlternateFlip && !c.Flip:
		return setting.Errorf("alternate_flip", "{alternate_flip} alternates {flip}: add {flip}")
	}
	return nil
}

// Random streams drawn from one seed: the weights and the minibatches use
// different PCG streams so that changing one never shifts the other.
const (
	streamInit  = 0x6e65_7474_7261_696e // "nettrain"
	streamBatch = 0x6d69_6e69_6261_7463 // "minibatc"
	streamEpoch = 0x7368_7566_666c_6521 // "shuffle!": an epoch's permutation
	streamFlip  = 0x666c_6970_666c_6f70 // "flipflop": each image's first flip
)

// Init returns a new net with the given layer sizes (inputs, hidden layers,
// classes), its weights std * N(0,1) from the seed's init stream.
func Init(sizes []int, std float64, seed uint64) *model.Net {
	return InitNorm(model.NoNorm, sizes, std, seed)
}

// InitNorm is Init with a normalisation after each hidden layer (gamma 1,
// beta 0); the weights are the ones Init draws.
func InitNorm(norm model.Norm, sizes []int, std float64, seed uint64) *model.Net {
	return model.NewNorm(norm, sizes, std, rand.New(rand.NewPCG(seed, streamInit)))
}

// batchSeed returns the PCG seed of iteration it's minibatch draw: each
// iteration has its own generator, so a run's draws depend only on the seed
// and the iteration number (prefetching and resuming cannot shift them).
func batchSeed(seed uint64, it int) (uint64, uint64) {
	// splitmix64 of the iteration, so neighbouring iterations get unrelated states.
	z := uint64(it) + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return seed ^ streamBatch, z ^ z>>31
}

// Epoch is the record taken at the end of an epoch.
type Epoch struct {
	Epoch    int     `json:"epoch"`     // 1-based
	Iter     int     `json:"iter"`      // iterations done
	Loss     float64 `json:"loss"`      // loss of the last minibatch
	TrainAcc float64 `json:"train_acc"` // on the last minibatch, as cs231n
	ValAcc   float64 `json:"val_acc"`   // on the whole validation split
	LR       float64 `json:"lr"`        // the rate used during this epoch
}

// History is what a run recorded.
type History struct {
	Loss    []float64 // loss per iteration
	Epochs  []Epoch
	State   State // to resume from, as Config.Init
	Stopped bool  // stopped early: Patience epochs without improvement
}

// Hooks are called from the training goroutine; nil hooks are skipped.
type Hooks struct {
	Iter  func(iter int, loss float64) // after each iteration, iter 1-based
	Epoch func(e Epoch)                // after each epoch's record

	// Snapshot, if set, is asked after each iteration (and its epoch
	// record) whether to take a snapshot there; if it says so, Save gets
	// the net and State as Train would return them had it stopped there,
	// and the history so far, so that a checkpoint of them resumes exactly.
	// Training waits for Save; what it gets is its own.
	Snapshot func(iter int) bool
	Save     func(net *model.Net, hist History) error
	// SaveConv is Save for a convolutional net (TrainConv).
	SaveConv func(net *layers.Net[float64], hist History) error
}

// DivergedError reports a loss that stopped being a finite number.
type DivergedError struct {
	Iter int // 1-based
	Loss float64
	LR   float64
}

func (e *DivergedError) Error() string {
	if e.Iter == 1 {
		// No step was taken: the initial weights alone give this loss.
		return fmt.Sprintf("the loss of the initial weights is %v, before any step; they are too large: try a smaller {std}, e.g. 1e-4", e.Loss)
	}
	return fmt.Sprintf("training diverged at iteration %d (loss %v); try a smaller learning rate, e.g. {lr} %.3g", e.Iter, e.Loss, e.LR/10)
}

// LRAt returns the learning rate in force after iter iterations: c.LR
// multiplied by c.LRDecay once per whole epoch done, in the same order of
// operations as the training loop, so that it is the same float64.
func LRAt(c Config, epochLen, iter int) float64 {
	lr := c.LR
	for range iter / epochLen {
		lr *= c.LRDecay
	}
	return lr
}

// cosineLR is the learning rate of iteration it (1-based) under the cosine
// schedule: from c.LR down to 0 over c.Iters iterations.
func cosineLR(c Config, it int) float64 {
	return c.LR * 0.5 * (1 + math.Cos(math.Pi*float64(it-1)/float64(cmp.Or(c.ScheduleIters, c.Iters))))
}

// The triangle schedule's shape (airbench94's): the rate rises linearly
// from triangleStart times LR at the first iteration to LR at the
// fraction trianglePeak of the run, then falls linearly to triangleEnd
// times LR at its end.
const (
	triangleStart = 0.2
	trianglePeak  = 0.23
	triangleEnd   = 0.07
)

// triangleLR is the learning rate of iteration it (1-based) under the
// triangle schedule, as airbench computes it: x = it-1 of T steps, the
// peak at step int(trianglePeak T).
func triangleLR(c Config, it int) float64 {
	t := cmp.Or(c.ScheduleIters, c.Iters)
	x, peak := float64(it-1), int(trianglePeak*float64(t))
	if it-1 < peak {
		return c.LR * (triangleStart + (1-triangleStart)*x/float64(peak))
	}
	return c.LR * (1 + (triangleEnd-1)*(x-float64(peak))/float64(t-peak))
}

// linearLR is the learning rate of iteration it (1-based) under the
// linear schedule, as airbench94_muon's: LR (1 - x/T) at step x = it-1
// of T, from LR down to LR/T in the last iteration.
func linearLR(c Config, it int) float64 {
	return c.LR * (1 - float64(it-1)/float64(cmp.Or(c.ScheduleIters, c.Iters)))
}

// scheduleLR is the rate of iteration it under a per-iteration schedule.
func scheduleLR(c Config, it int) float64 {
	switch c.Schedule {
	case Triangle:
		return triangleLR(c, it)
	case Linear:
		return linearLR(c, it)
	}
	return cosineLR(c, it)
}

// EpochLen returns the iterations in one epoch: max(numTrain/batch, 1).
func EpochLen(numTrain, batch int) int { return max(numTrain/batch, 1) }

// Train runs iterations c.Start+1 .. c.Iters of SGD on net, in place, and
// returns their history. The step runs in c.Precision on a copy of the weights, which is
// written back into net (exactly: float32 values are float64 values) when
// Train returns, whatever the reason. It stops early with an error if c is
// invalid, the loss is not finite (*DivergedError, the step that diverged
// not taken) or ctx is cancelled (an error wrapping ctx.Err()).
func Train(ctx context.Context, net *model.Net, data preprocess.Data, c Config, hooks Hooks) (History, error) {
	if err := c.Check(); err != nil {
		return History{}, err
	}
	if data.Train.N() == 0 || data.Val.N() == 0 {
		return History{}, errors.New("sgd: empty training or validation set")
	}
	if d := net.Inputs(); d != cifar.D || len(data.Mean) != d {
		return History{}, fmt.Errorf("sgd: net takes %d inputs, data has %d", d, cifar.D)
	}
	switch {
	case c.Lookahead > 0:
		return History{}, setting.Errorf("lookahead", "{lookahead} is for convolutional nets ({arch}) so far")
	case c.Whiten:
		return History{}, setting.Errorf("whiten", "{whiten} is a convolutional net's first layer: use {arch}")
	case c.BiasLR != 0 && c.BiasLR != 1:
		return History{}, setting.Errorf("bias_lr", "{bias_lr} scales a convolutional net's batch norm betas ({arch})")
	case c.Optimizer == Muon:
		return History{}, setting.Errorf("optimizer", "{optimizer} muon trains a convolutional net's filters ({arch}); for this net choose nesterov or adam")
	}
	if c.Precision == Float64 {
		return train[float64](ctx, newMLP[float64](net), data, c, hooks)
	}
	return train[float32](ctx, newMLP[float32](net), data, c, hooks)
}

// minibatch is one gathered batch: rows with the mean subtracted, labels,
// and the dropout mask of its iteration.
type minibatch[T model.Float] struct {
	x    []T // (Batch, D)
	y    []uint8
	mask []T // (Batch, H1), (Batch, H2), ... one after the other, or nil
}

// train is Train in precision T, in named stages: set up (the weights in
// T, the optimizer, what resumes), the minibatch pipeline (batches), then
// per iteration a step (the loss, its gradients and the update), and at
// each epoch's end an evaluation (endEpoch); snapshots on the way (save).
func train[T model.Float](ctx context.Context, net learner[T], data preprocess.Data, c Config, hooks Hooks) (hist History, err error) {
	if c.Shuffle && data.Train.N() < c.Batch {
		return hist, setting.Errorf("shuffle", "{shuffle} takes {batch} %d images at a time from %d training images: lower {batch}", c.Batch, data.Train.N())
	}
	l, err := newLoop(net, data, c, hooks)
	if err != nil {
		return hist, err
	}
	defer func() {
		l.hist.State = l.snapshot(err == nil)
		hist = l.hist
	}()
	if err := l.prepare(); err != nil {
		return hist, err
	}
	pipe := l.batches()
	defer close(pipe.done)

	lr := LRAt(c, l.epochLen, c.Start)
	for it := c.Start + 1; it <= c.Iters; it++ {
		if err := ctx.Err(); err != nil {
			return hist, fmt.Errorf("training stopped after iteration %d: %w", it-1, err)
		}
		mb := <-pipe.full
		if c.Schedule.perIter() {
			lr = scheduleLR(c, it)
		}
		loss, err := l.step(it, mb, lr)
		if err != nil {
			return hist, err
		}
		if it%l.epochLen == 0 || it == c.Iters {
			l.settle()
		}
		if it%l.epochLen == 0 {
			stop := l.endEpoch(it, mb, loss, lr)
			if !c.Schedule.perIter() {
				lr *= c.LRDecay
			}
			if stop {
				l.hist.Stopped = true
				pipe.free <- mb
				return hist, nil
			}
		}
		if err := l.save(it); err != nil {
			pipe.free <- mb
			return hist, err
		}
		pipe.free <- mb
	}
	return hist, nil
}

// loop is the state of one training run in precision T.
type loop[T model.Float] struct {
	c     Config
	data  preprocess.Data
	hooks Hooks
	net   learner[T] // what is trained: the MLP, or a conv net

	opt      *optimizer[T]
	st       State
	hist     History
	epochLen int

	avg     []layers.Array[T] // Lookahead's average, from its first update on
	current []layers.Array[T] // the net's arrays it averages, listed once

	dense   []T     // the whitened train split (ZCA), or nil
	pred    []uint8 // of a minibatch
	valPred []uint8
}

// newLoop sets up a run: the optimizer, and the state a resume carries on
// from.
func newLoop[T model.Float](net learner[T], data preprocess.Data, c Config, hooks Hooks) (*loop[T], error) {
	l := &loop[T]{c: c, data: data, hooks: hooks, net: net, st: State{BestValAcc: -1}}
	l.opt = newOptimizer(net.params(), c)
	if c.Init != nil {
		l.st = *c.Init
		if err := l.opt.load(l.st.Slots); err != nil {
			return nil, err
		}
		if err := l.loadAverage(l.st.Slots); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// The lookahead's constants (airbench94's): it starts after
// lookaheadFrom of the run, and its decay is lookaheadBase per iteration.
const (
	lookaheadFrom = 0.3
	lookaheadBase = 0.95
)

// lookahead takes the average after iteration it (Config.Lookahead).
func (l *loop[T]) lookahead(it int) {
	c := l.c
	t := cmp.Or(c.ScheduleIters, c.Iters)
	if c.Lookahead == 0 || it%c.Lookahead != 0 || float64(it) <= lookaheadFrom*float64(t) {
		return
	}
	net := l.arrays()
	if l.avg == nil {
		l.avg = make([]layers.Array[T], len(net))
		for i, a := range net {
			l.avg[i] = layers.Array[T]{Name: a.Name, V: slices.Clone(a.V)}
		}
		return
	}
	rho := math.Pow(lookaheadBase, float64(c.Lookahead)) * math.Pow(float64(it)/float64(t), 3)
	w := T(1 - rho)
	for i, a := range net {
		avg := l.avg[i].V
		for j, x := range a.V {
			avg[j] += w * (x - avg[j])
		}
		copy(a.V, avg)
	}
}

// arrays returns the net's arrays the lookahead averages, listing them
// once (they stay where they are), so that the loop allocates nothing.
func (l *loop[T]) arrays() []layers.Array[T] {
	if l.current == nil {
		l.current = l.net.arrays()
	}
	return l.current
}

// settle sets the net to the lookahead's average, if there is one yet: at
// each epoch's end and the run's.
func (l *loop[T]) settle() {
	if l.avg == nil {
		return
	}
	for i, a := range l.arrays() {
		copy(a.V, l.avg[i].V)
	}
}

// slotAverage prefixes the lookahead's arrays among the State's slots.
const slotAverage = "avg."

// saveAverage adds the lookahead's average to slots.
func (l *loop[T]) saveAverage(slots map[string][]float64) {
	for _, a := range l.avg {
		f := make([]float64, len(a.V))
		for j, x := range a.V {
			f[j] = float64(x)
		}
		slots[slotAverage+a.Name] = f
	}
}

// loadAverage restores what saveAverage saved: every array or none.
func (l *loop[T]) loadAverage(slots map[string][]float64) error {
	if l.c.Lookahead == 0 {
		return nil
	}
	net := l.arrays()
	found := 0
	for _, a := range net {
		if _, ok := slots[slotAverage+a.Name]; ok {
			found++
		}
	}
	if found == 0 {
		return nil
	}
	l.avg = make([]layers.Array[T], len(net))
	for i, a := range net {
		f, ok := slots[slotAverage+a.Name]
		if !ok || len(f) != len(a.V) {
			return fmt.Errorf("the checkpoint has no lookahead average %s%s of %d numbers; resume with the {lookahead} it was trained with", slotAverage, a.Name, len(a.V))
		}
		l.avg[i] = layers.Array[T]{Name: a.Name, V: make([]T, len(f))}
		for j, x := range f {
			l.avg[i].V[j] = T(x)
		}
	}
	return nil
}

// prepare makes the buffers of the loop and of scoring.
func (l *loop[T]) prepare() error {
	c := l.c
	var err error
	if l.dense, err = preprocess.Dense[T](l.data); err != nil {
		return err
	}
	if err := l.net.prepare(l.data, c); err != nil {
		return err
	}
	l.pred = make([]uint8, c.Batch)
	l.valPred = make([]uint8, l.data.Val.N())
	l.epochLen = EpochLen(l.data.Train.N(), c.Batch)
	l.hist.Loss = make([]float64, 0, c.Iters-c.Start)
	return nil
}

// snapshot writes into the caller's net the weights Train ends with, as of
// now, and returns the State to resume from.
func (l *loop[T]) snapshot(keepBest bool) State {
	s := l.net.snapshot(&l.st, keepBest && l.c.KeepBest)
	s.Slots = l.opt.save()
	l.saveAverage(s.Slots)
	return s
}

// pipeline is the minibatch producer: two buffers go round between free
// and full while a second goroutine draws and gathers the next minibatch.
type pipeline[T model.Float] struct {
	free, full chan *minibatch[T]
	done       chan struct{}
}

// batches starts the pipeline of the iterations Start+1 to Iters.
func (l *loop[T]) batches() pipeline[T] {
	c, d := l.c, l.net.inputs()
	p := pipeline[T]{free: make(chan *minibatch[T], 2), full: make(chan *minibatch[T], 2), done: make(chan struct{})}
	for range 2 {
		mb := &minibatch[T]{x: make([]T, c.Batch*d), y: make([]uint8, c.Batch)}
		if c.Dropout > 0 {
			mb.mask = make([]T, c.Batch*l.net.maskUnits())
		}
		p.free <- mb
	}
	go func() {
		dr := newDrawer[T](c, d, l.epochLen)
		for it := c.Start + 1; it <= c.Iters; it++ {
			var mb *minibatch[T]
			select {
			case mb = <-p.free:
			case <-p.done:
				return
			}
			dr.draw(mb, it, l.data, l.dense)
			p.full <- mb
		}
	}()
	return p
}

// drawer draws and gathers the minibatch of an iteration.
type drawer[T model.Float] struct {
	c        Config
	d        int
	epochLen int
	perm     []int // with Shuffle: the permutation of epoch permEpoch
	permEp   int
	idx      []int
	flip     []bool
	shift    []int // dx, dy of each row
	tmp      []T
	pcg      *rand.PCG
	rng      *rand.Rand
	keep     T // 1/(1-dropout), inverted dropout's scale
}

func newDrawer[T model.Float](c Config, d, epochLen int) *drawer[T] {
	dr := &drawer[T]{c: c, d: d, epochLen: epochLen, idx: make([]int, c.Batch), pcg: rand.NewPCG(0, 0), keep: T(1 / (1 - c.Dropout)), permEp: -1}
	dr.rng = rand.New(dr.pcg)
	if c.Flip {
		dr.flip = make([]bool, c.Batch)
	}
	if c.Translate > 0 {
		dr.shift, dr.tmp = make([]int, 2*c.Batch), make([]T, d)
	}
	return dr
}

// draw fills mb with iteration it's minibatch. Everything random about it
// comes from its own generator, drawn in this order: indices, flips,
// shifts, dropout; with Shuffle the indices come from the epoch's
// permutation instead (its own generator, seeded by the epoch), and with
// AlternateFlip the flips from the image and the epoch.
func (dr *drawer[T]) draw(mb *minibatch[T], it int, data preprocess.Data, dense []T) {
	c, d, rng := dr.c, dr.d, dr.rng
	epoch := (it - 1) / dr.epochLen
	if c.Shuffle {
		copy(dr.idx, dr.permutation(epoch, data.Train.N())[(it-1)%dr.epochLen*c.Batch:])
	}
	dr.pcg.Seed(batchSeed(c.Seed, it))
	if !c.Shuffle {
		for i := range dr.idx {
			dr.idx[i] = rng.IntN(data.Train.N())
		}
	}
	for i := range dr.flip {
		if c.AlternateFlip {
			dr.flip[i] = FirstFlip(c.Seed, dr.idx[i]) != (epoch%2 == 1)
			continue
		}
		dr.flip[i] = rng.Uint64()&1 == 1
	}
	for i := range dr.shift {
		dr.shift[i] = rng.IntN(2*c.Translate+1) - c.Translate
	}
	for i := range mb.mask {
		mb.mask[i] = 0
		if rng.Float64() >= c.Dropout {
			mb.mask[i] = dr.keep
		}
	}
	if dense != nil {
		preprocess.GatherDense(mb.x, mb.y, dense, data.Train.Y, dr.idx, dr.flip)
	} else {
		cifar.GatherAug(mb.x, mb.y, data.Train, dr.idx, data.Mean, data.Scale, dr.flip)
	}
	for r := 0; r < len(dr.shift); r += 2 {
		row := mb.x[r/2*d : (r/2+1)*d]
		cifar.Shift(row, dr.tmp, dr.shift[r], dr.shift[r+1], c.TranslatePad == PadReflect)
	}
}

// permutation returns epoch's order of the n training images (Shuffle),
// drawn from the seed and the epoch alone.
func (dr *drawer[T]) permutation(epoch, n int) []int {
	if dr.permEp != epoch {
		if dr.perm == nil {
			dr.perm = make([]int, n)
		}
		for i := range dr.perm {
			dr.perm[i] = i
		}
		r := rand.New(rand.NewPCG(dr.c.Seed^streamEpoch, uint64(epoch)))
		r.Shuffle(n, func(i, j int) { dr.perm[i], dr.perm[j] = dr.perm[j], dr.perm[i] })
		dr.permEp = epoch
	}
	return dr.perm
}

// FirstFlip is whether AlternateFlip mirrors training image i in the
// even epochs (the first, third, ...) of a run seeded seed; it mirrors it
// in the odd ones otherwise.
func FirstFlip(seed uint64, i int) bool {
	_, z := batchSeed(seed^streamFlip, i)
	return z&1 == 1
}

// step computes the loss and gradients of minibatch mb and updates the
// weights at the schedule's rate lr (warmed up over the first Warmup
// iterations).
func (l *loop[T]) step(it int, mb *minibatch[T], lr float64) (float64, error) {
	c := l.c
	l.opt.scale = l.net.lrScales(it, (it-1)/l.epochLen) // before the loss: it may freeze a layer
	loss := l.net.loss(mb, it, c)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, &DivergedError{Iter: it, Loss: loss, LR: c.LR}
	}
	stepLR := lr
	if it <= c.Warmup {
		stepLR = lr * float64(it) / float64(c.Warmup) // linear warm-up to the schedule's rate
	}
	l.opt.step(stepLR, it)
	l.net.track(cmp.Or(c.NormTrack, model.NormTrack)) // batch norm's running statistics, from this batch
	l.lookahead(it)
	l.hist.Loss = append(l.hist.Loss, loss)
	if l.hooks.Iter != nil {
		l.hooks.Iter(it, loss)
	}
	return loss, nil
}

// endEpoch records the epoch that iteration it ends (train accuracy on its
// minibatch, as cs231n; validation accuracy), keeps the best weights, and
// reports whether --patience says to stop.
func (l *loop[T]) endEpoch(it int, mb *minibatch[T], loss, lr float64) (stop bool) {
	c, st := l.c, &l.st
	l.net.predict(l.pred, mb.x)
	e := Epoch{
		Epoch:    it / l.epochLen,
		Iter:     it,
		Loss:     loss,
		TrainAcc: model.Accuracy(l.pred, mb.y),
		ValAcc:   model.Accuracy(l.net.predictVal(l.valPred, l.data), l.data.Val.Y),
		LR:       lr,
	}
	l.hist.Epochs = append(l.hist.Epochs, e)
	if l.hooks.Epoch != nil {
		l.hooks.Epoch(e)
	}
	if e.ValAcc > st.BestValAcc {
		st.BestValAcc, st.BestEpoch, st.SinceBest = e.ValAcc, e.Epoch, 0
		if c.KeepBest {
			l.net.keepBest(st)
		}
	} else {
		st.SinceBest++
	}
	return c.Patience > 0 && st.SinceBest >= c.Patience
}

// save hands a resumable snapshot to the Save hook when Snapshot asks for
// one after iteration it.
func (l *loop[T]) save(it int) error {
	if l.hooks.Snapshot == nil || it >= l.c.Iters || !l.hooks.Snapshot(it) {
		return nil
	}
	sh := l.hist
	sh.Loss, sh.Epochs = slices.Clone(l.hist.Loss), slices.Clone(l.hist.Epochs)
	snap, conv, st := l.net.snapshotCopy(&l.st, l.c.KeepBest)
	sh.State = st
	sh.State.Slots = l.opt.save()
	l.saveAverage(sh.State.Slots)
	if conv != nil {
		return l.hooks.SaveConv(conv, sh)
	}
	return l.hooks.Save(snap, sh)
}
