package sgd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas/blas64"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/model"
)

// Config holds the hyperparameters of a run.
type Config struct {
	Iters   int     // iterations (minibatches)
	Batch   int     // rows per minibatch
	LR      float64 // initial learning rate
	LRDecay float64 // LR is multiplied by this after each epoch, in (0, 1]
	Reg     float64 // L2 regularisation strength, >= 0
	Seed    uint64  // seeds the minibatch draws
}

// DefaultConfig is the cs231n notebook's CIFAR-10 run.
func DefaultConfig() Config {
	return Config{Iters: 1000, Batch: 200, LR: 1e-4, LRDecay: 0.95, Reg: 0.25}
}

// Check returns an error naming the flag of the first field out of range.
func (c Config) Check() error {
	switch {
	case c.Iters < 1:
		return fmt.Errorf("--iters is %d, want at least 1", c.Iters)
	case c.Batch < 1:
		return fmt.Errorf("--batch is %d, want at least 1", c.Batch)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("--lr is %v, want a positive number such as 1e-4", c.LR)
	case !(c.LRDecay > 0 && c.LRDecay <= 1):
		return fmt.Errorf("--lr-decay is %v, want a number in (0, 1]", c.LRDecay)
	case !(c.Reg >= 0) || math.IsInf(c.Reg, 0):
		return fmt.Errorf("--reg is %v, want a number >= 0", c.Reg)
	}
	return nil
}

// Random streams drawn from one seed: the weights and the minibatches use
// different PCG streams so that changing one never shifts the other.
const (
	streamInit  = 0x6e65_7474_7261_696e // "nettrain"
	streamBatch = 0x6d69_6e69_6261_7463 // "minibatc"
)

// Init returns a new net for CIFAR-10-shaped data (D inputs, C classes) with
// h hidden units, its weights std * N(0,1) from the seed's init stream.
func Init(d, h, c int, std float64, seed uint64) *model.Net {
	return model.New(d, h, c, std, rand.New(rand.NewPCG(seed, streamInit)))
}

// Data is what Train learns from.
type Data struct {
	Train, Val cifar.Set
	Mean       []float64 // (D) subtracted from every image
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
	Loss   []float64 // loss per iteration
	Epochs []Epoch
}

// Hooks are called from the training goroutine; nil hooks are skipped.
type Hooks struct {
	Iter  func(iter int, loss float64) // after each iteration, iter 1-based
	Epoch func(e Epoch)                // after each epoch's record
}

// DivergedError reports a loss that stopped being a finite number.
type DivergedError struct {
	Iter int // 1-based
	Loss float64
	LR   float64
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("training diverged at iteration %d (loss %v); try a smaller learning rate, e.g. --lr %.3g", e.Iter, e.Loss, e.LR/10)
}

// EpochLen returns the iterations in one epoch: max(numTrain/batch, 1).
func EpochLen(numTrain, batch int) int { return max(numTrain/batch, 1) }

// Train runs c.Iters iterations of SGD on net, in place, and returns the
// history. It stops early with an error if c is invalid, the loss is not
// finite (*DivergedError, the net left as it was before that step) or ctx is
// cancelled (an error wrapping ctx.Err(); the net holds the last step).
func Train(ctx context.Context, net *model.Net, data Data, c Config, hooks Hooks) (History, error) {
	var hist History
	if err := c.Check(); err != nil {
		return hist, err
	}
	if data.Train.N() == 0 || data.Val.N() == 0 {
		return hist, errors.New("sgd: empty training or validation set")
	}
	d, h, k := net.Dims()
	if d != cifar.D || len(data.Mean) != d {
		return hist, fmt.Errorf("sgd: net takes %d inputs, data has %d", d, cifar.D)
	}

	rng := rand.New(rand.NewPCG(c.Seed, streamBatch))
	idx := make([]int, c.Batch)
	x := make([]float64, c.Batch*d) // (Batch, D)
	y := make([]uint8, c.Batch)
	pred := make([]uint8, c.Batch)
	valPred := make([]uint8, data.Val.N())
	grads := model.Zeros(d, h, k)
	ws := &model.Workspace{}
	epochLen := EpochLen(data.Train.N(), c.Batch)
	hist.Loss = make([]float64, 0, c.Iters)

	lr := c.LR
	for it := 1; it <= c.Iters; it++ {
		if err := ctx.Err(); err != nil {
			return hist, fmt.Errorf("training stopped at iteration %d: %w", it-1, err)
		}
		for i := range idx {
			idx[i] = rng.IntN(data.Train.N())
		}
		cifar.Gather(x, y, data.Train, idx, data.Mean)
		loss := net.Loss(grads, ws, x, y, c.Reg)
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return hist, &DivergedError{Iter: it, Loss: loss, LR: c.LR}
		}
		for i, p := range net.Params() {
			g := grads.Params()[i]
			blas64.Axpy(-lr, vec(g), vec(p)) // p -= lr * g
		}
		hist.Loss = append(hist.Loss, loss)
		if hooks.Iter != nil {
			hooks.Iter(it, loss)
		}

		if it%epochLen == 0 {
			net.Predict(pred, ws, x)
			e := Epoch{
				Epoch:    it / epochLen,
				Iter:     it,
				Loss:     loss,
				TrainAcc: model.Accuracy(pred, y),
				ValAcc:   model.Accuracy(net.PredictSet(valPred, data.Val, data.Mean), data.Val.Y),
				LR:       lr,
			}
			hist.Epochs = append(hist.Epochs, e)
			if hooks.Epoch != nil {
				hooks.Epoch(e)
			}
			lr *= c.LRDecay
		}
	}
	return hist, nil
}

func vec(v []float64) blas64.Vector { return blas64.Vector{N: len(v), Inc: 1, Data: v} }
