package main

import (
	"fmt"

	"github.com/nettrain/nettrain/internal/cifar"
	trainrun "github.com/nettrain/nettrain/internal/run"
	"github.com/nettrain/nettrain/internal/sgd"
	"github.com/nettrain/nettrain/internal/sysmem"
)

// memNeed is one part of what a run holds in memory, and the flag that
// sizes it.
type memNeed struct {
	flag   string
	what   string
	bytes  float64
	shared bool // one copy for every trial at once (the data)
}

// runShape is what sizes a run's memory.
type runShape struct {
	hidden                 trainrun.Hidden
	batch, iters, numTrain int
	float32, zca, keepBest bool
	folded                 bool // the saved net differs from the trained one: preprocessing or batch norm folded
	slots                  int  // optimizer state: 0 sgd, 1 momentum, 2 adam
}

// optimizerSlots is how many parameter-sized arrays an optimizer keeps.
func optimizerSlots(name sgd.Optimizer) int {
	switch name {
	case sgd.Momentum, sgd.Nesterov:
		return 1
	case sgd.Adam:
		return 2
	}
	return 0
}

// trainNeeds estimates, from above, what one training run holds: the
// float64 weights and the folded copy that is saved, the weights and
// gradients in the training precision, the optimizer's state (and its
// float64 copy in the checkpoint), the best epoch's weights with
// --keep-best; a minibatch with its activations; the loss of every
// iteration; and the data (uint8 pixels, and a float32 whitened copy and
// the 3072x3072 matrices of the fit with ZCA).
func trainNeeds(r runShape) []memNeed {
	d, c := float64(cifar.D), float64(cifar.Classes)
	h, b := float64(r.hidden.Units()), float64(r.batch)
	var params float64
	sizes := r.hidden.Sizes(cifar.D, cifar.Classes)
	for l := range len(sizes) - 1 {
		params += float64(sizes[l]+1) * float64(sizes[l+1])
	}
	t := 8.0
	if r.float32 {
		t = 4
	}
	// Bytes a parameter, measured as the peak RSS (VmHWM) of 6-iteration
	// runs at hidden 2000 and 6000 on an AMD EPYC (Zen 4), slope between
	// the two: sgd float32 18-29 (counted 24: the float64 net and its
	// saved copy, weights and gradients in the training precision),
	// float64 34 (32); momentum 61 and adam 53 in float32, whose state is
	// also copied to float64 and encoded at each save (counted t+20 a slot,
	// and 8 for the copy); keep-best 127 with adam (counted +56: the best
	// net, the last one, and their float64 arrays in the checkpoint);
	// batch norm 45 (a folded net: the saved copy, the train.* arrays and
	// their encoding, +32). Then checked, to within 15% of the peak, by
	// TestMemoryEstimateBoundsThePeak.
	copies := 8 + 8 + 2*t + 2 + float64(r.slots)*(t+20) // +2: the allocator's slack, measured
	if r.slots > 0 {
		copies += 8
	}
	if r.keepBest {
		copies += 56
	}
	if r.folded {
		copies += 32
	}
	// The loader holds every image of the data, whatever the splits take:
	// 60,000 of CIFAR-10's; the runtime, the binary and the loader's
	// buffers about 60 MB.
	data := float64((cifar.TrainBatches+1)*cifar.RecordsPerBatch)*d + 60e6
	if r.zca {
		data += float64(r.numTrain)*d*4 + 8*d*d*8
	}
	return []memNeed{
		{"--hidden", "the weights, their gradients and optimizer state", params * copies, false},
		{"--batch", "a minibatch and its activations", b * (d*(8+t) + (3*h+2*c)*t*2), false},
		{"--iters", "the loss of every iteration", float64(r.iters) * 16, false},
		{"--num-train", "the data", data, true},
	}
}

// checkMemory refuses a run that cannot fit: what it needs against what
// the machine (or its cgroup) has available, naming the largest part's
// flag. Where the machine cannot tell, it lets the run try.
func checkMemory(needs []memNeed, times int, note func(flag string) string) error {
	avail, ok := sysmem.Available()
	if !ok {
		return nil
	}
	var total float64
	big := needs[0]
	for _, n := range needs {
		if !n.shared {
			n.bytes *= float64(times)
		}
		total += n.bytes
		if n.bytes > big.bytes {
			big = n
		}
	}
	// Leave a tenth for the runtime, the page cache and the rest.
	if total <= 0.9*float64(avail) {
		return nil
	}
	also, fewer := "", ""
	if times > 1 {
		also = fmt.Sprintf(" for %d trials at once (--workers)", times)
		fewer = " or fewer --workers"
	}
	return fmt.Errorf("not enough memory: this needs about %s%s, %s of it for %s (%s%s), and this machine has %s available; choose a smaller %s%s",
		sysmem.Format(uint64(total)), also, sysmem.Format(uint64(big.bytes)), big.what, big.flag, note(big.flag), sysmem.Format(avail), big.flag, fewer)
}
