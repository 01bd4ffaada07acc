package main

import (
	trainrun "github.com/nettrain/nettrain/internal/run"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/sysmem"
)

// Sizes no machine holds are refused before anything is allocated, with
// one line naming the flag, the need and what the machine has; the
// default run and big but possible ones pass.
func TestCheckMemory(t *testing.T) {
	avail, ok := sysmem.Available()
	if !ok {
		t.Skip("this machine cannot tell its available memory")
	}
	none := func(string) string { return "" }
	base := runShape{hidden: trainrun.Hidden{50}, batch: 200, iters: 1000, numTrain: 49000, float32: true}
	if err := checkMemory(trainNeeds(base), 1, none); err != nil {
		t.Errorf("the default run: %v", err)
	}
	for _, tc := range []struct {
		edit func(*runShape)
		flag string
	}{
		{func(r *runShape) { r.hidden = trainrun.Hidden{100_000_000} }, "--hidden"},
		{func(r *runShape) { r.hidden = trainrun.Hidden{50, 100_000, 100_000} }, "--hidden"}, // 1e10 weights in the middle
		{func(r *runShape) { r.batch = 100_000_000 }, "--batch"},
		{func(r *runShape) { r.iters = 9_999_999_999_999 }, "--iters"},
	} {
		r := base
		tc.edit(&r)
		err := checkMemory(trainNeeds(r), 1, none)
		if err == nil || !strings.Contains(err.Error(), "choose a smaller "+tc.flag) || !strings.Contains(err.Error(), sysmem.Format(avail)[:2]) {
			t.Errorf("%+v: err %v, want a refusal naming %s", r, err, tc.flag)
		}
	}
	// The estimate scales: a run that needs about a third of what is
	// available passes, three times more fails.
	r := base
	for r.hidden = (trainrun.Hidden{1000}); trainNeeds(r)[0].bytes < float64(avail)/3; r.hidden[0] *= 2 {
	}
	if err := checkMemory(trainNeeds(r), 1, none); err != nil {
		t.Errorf("hidden %v (%s of weights): %v", r.hidden, sysmem.Format(uint64(trainNeeds(r)[0].bytes)), err)
	}
	if err := checkMemory(trainNeeds(r), 3, none); err == nil || !strings.Contains(err.Error(), "3 trials at once") {
		t.Errorf("hidden %v three times at once: err %v", r.hidden, err)
	}
}
