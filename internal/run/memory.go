package run

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/layers"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/preprocess"
	"github.com/nettrain/nettrain/internal/sgd"
	"github.com/nettrain/nettrain/internal/sysmem"
)

// Need is one part of what a run holds in memory, and the setting that
// sizes it.
type Need struct {
	Key    string // the setting: "hidden"
	What   string
	Bytes  float64
	Shared bool // one copy for every trial of a sweep at once (the data)
}

// optimizerSlots is how many parameter-sized arrays an optimizer keeps.
func optimizerSlots(name sgd.Optimizer) int {
	switch name {
	case sgd.Momentum, sgd.Nesterov, sgd.Muon:
		return 1
	case sgd.Adam:
		return 2
	}
	return 0
}

// Needs estimates, from above, what a run of c holds at its peak: the
// float64 weights and the folded copy that is saved, the weights and
// gradients in the training precision, the optimizer's state (and its
// float64 copy in the checkpoint), the best epoch's weights with
// keep_best; a minibatch with its activations; the loss of every
// iteration; and the data (all the loaded images, and a float32 whitened
// copy and the 3072x3072 matrices of the fit with ZCA).
func (c Config) Needs() []Need {
	if c.Arch != "" {
		return c.convNeeds()
	}
	d, cl := float64(cifar.D), float64(cifar.Classes)
	h, b := float64(c.Hidden.Units()), float64(c.Batch)
	params := c.Hidden.Params(cifar.D, cifar.Classes)
	t := 8.0
	if c.Precision == model.Float32 {
		t = 4
	}
	slots := float64(optimizerSlots(c.Optimizer))
	// Bytes a parameter, measured as the peak RSS (VmHWM) of 6-iteration
	// runs at hidden 2000 and 6000 on an AMD EPYC (Zen 4), slope between
	// the two: sgd float32 18-29 (counted 26: the float64 net and its
	// saved copy, weights and gradients in the training precision, and the
	// allocator's slack), float64 34 (34); momentum 61 and adam 53 in
	// float32, whose state is also copied to float64 and encoded at each
	// save (counted t+20 a slot, and 8 for the copy); keep-best 127 with
	// adam (counted +56: the best net, the last one, and their float64
	// arrays in the checkpoint); batch norm 45 (a folded net: the saved
	// copy, the train.* arrays and their encoding, +32). Checked, to within
	// 15% of the peak, by cmd/nettrain's TestMemoryEstimateBoundsThePeak.
	copies := 8 + 8 + 2*t + 2 + slots*(t+20)
	if slots > 0 {
		copies += 8
	}
	if c.KeepBest {
		copies += 56
	}
	if c.folded() {
		copies += 32
	}
	// The loader holds every image of the data, whatever the splits take:
	// 60,000 of CIFAR-10's; the runtime, the binary and the loader's
	// buffers about 60 MB.
	data := float64((cifar.TrainBatches+1)*cifar.RecordsPerBatch)*d + 60e6
	if c.Preprocess == preprocess.ZCA {
		data += float64(c.NumTrain)*d*4 + 8*d*d*8
	}
	return []Need{
		{"hidden", "the weights, their gradients and optimizer state", params * copies, false},
		{"batch", "a minibatch and its activations", b * (d*(8+t) + (3*h+2*cl)*t*2), false},
		{"iters", "the loss of every iteration", float64(c.Iters) * 16, false},
		{"num_train", "the data", data, true},
	}
}

// SweepNeeds is Needs for a sweep whose largest trial is c: each trial's
// needs (times the workers, in CheckMemory), the data once, and at the end
// the best trial's checkpoint read back and written to best.npz (measured:
// 16 bytes a parameter more than the trials' peak).
func SweepNeeds(c Config) []Need {
	if c.Arch != "" {
		net, err := ConvNet(c.Arch)
		if err != nil {
			return c.Needs()
		}
		_, params := net.Floats()
		return append(c.Needs(), Need{"arch", "the best model, read back and saved", float64(params) * 16, true})
	}
	return append(c.Needs(), Need{"hidden", "the best model, read back and saved", c.Hidden.Params(cifar.D, cifar.Classes) * 16, true})
}

// CheckMemory refuses a run that cannot fit: what needs add up to, times
// runs at once (a sweep's workers), against what the machine (or its
// cgroup) has available, naming the largest part's setting, with note(key)
// after it (where the value came from). Where the machine cannot tell, it
// lets the run try.
func CheckMemory(needs []Need, times int, note func(key string) string) error {
	avail, ok := sysmem.Available()
	if !ok {
		return nil
	}
	return checkMemory(needs, times, note, avail)
}

// LimitMemory tells the Go runtime to keep the process within a tenth over
// what needs add up to (times runs at once), by collecting garbage sooner
// as the heap nears that: the runtime's own pacing lets the heap grow to
// twice what is live, and how much of that slack a run uses depends on
// when its collections happen to fall, so without the limit the same run
// peaked 15% higher on one machine than on another. The heap is a few
// large arrays without pointers, so the extra collections cost little. A
// GOMEMLIMIT in the environment is the user's and is left as it is.
func LimitMemory(needs []Need, times int) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	total, _ := sum(needs, times)
	debug.SetMemoryLimit(int64(1.1 * total))
}

// Total is what needs add up to for one run.
func Total(needs []Need) float64 {
	total, _ := sum(needs, 1)
	return total
}

// sum is what needs add up to for times runs at once, and the largest part.
func sum(needs []Need, times int) (total float64, big Need) {
	big = needs[0]
	for _, n := range needs {
		if !n.Shared {
			n.Bytes *= float64(times)
		}
		total += n.Bytes
		if n.Bytes > big.Bytes {
			big = n
		}
	}
	return total, big
}

func checkMemory(needs []Need, times int, note func(key string) string, avail uint64) error {
	total, big := sum(needs, times)
	// Leave a tenth for the runtime, the page cache and the rest.
	if total <= 0.9*float64(avail) {
		return nil
	}
	also, fewer := "", ""
	if times > 1 {
		also = fmt.Sprintf(" for %d trials at once ({workers})", times)
		fewer = " or fewer {workers}"
	}
	return fmt.Errorf("not enough memory: this needs about %s%s, %s of it for %s ({%s}%s), and this machine has %s available; choose a smaller {%s}%s",
		sysmem.Format(uint64(total)), also, sysmem.Format(uint64(big.Bytes)), big.What, big.Key, note(big.Key), sysmem.Format(avail), big.Key, fewer)
}

// convNeeds is Needs for a convolutional net: the data as the MLP's, the
// parameters in float64 and in the training precision with their
// gradients and optimizer slots, and each example's activations, patches
// and gradients (layers.Net.Floats) for a minibatch and for a chunk of
// scoring; checked against measured peaks by cmd/nettrain's
// TestMemoryEstimateBoundsThePeak, as the MLP's.
func (c Config) convNeeds() []Need {
	net, err := ConvNet(c.Arch)
	if err != nil {
		return nil // Validate reports it
	}
	perExample, params := net.Floats()
	scoring, blocks := net.ScoreFloats()
	t := 8.0
	if c.Precision == model.Float32 {
		t = 4
	}
	slots := float64(optimizerSlots(c.Optimizer))
	data := float64((cifar.TrainBatches+1)*cifar.RecordsPerBatch)*float64(cifar.D) + 60e6
	copies := 8 + 8 + 2*t + slots*(t+8)
	if c.KeepBest {
		copies += 32 // the best and the last weights, and their arrays in the checkpoint
	}
	return []Need{
		{"arch", "the weights, their gradients and optimizer state", float64(params) * copies, false},
		// The training net's buffers for a minibatch, the scoring net's for a
		// chunk (no patches, but a block of them per thread:
		// layers.ScoreFloats), and the training net's blocks of the patches'
		// gradients; half again for what the loop and the collector hold
		// besides. Measured peaks (VmHWM) of cs231n-convnet and airbench
		// runs on a 2-core AMD EPYC came to 0.64 to 1.07 of the estimate
		// with it (TestMemoryEstimateBoundsThePeak).
		{"batch", "a minibatch's activations and patches", 1.5 * (float64(c.Batch*perExample+layers.ScoreChunk*scoring+3*blocks) * t), false},
		{"iters", "the loss of every iteration", float64(c.Iters) * 16, false},
		{"num_train", "the data", data, true},
	}
}
