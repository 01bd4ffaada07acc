package run

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/preprocess"
	"github.com/nettrain/nettrain/internal/sgd"
)

func testJob(t *testing.T, out string) Job {
	s := cifartest.RandomSet(200, rand.New(rand.NewPCG(1, 2)))
	c := Defaults()
	c.Hidden, c.LR, c.Reg, c.Iters, c.Batch, c.Std, c.Seed = Hidden{12, 8}, 1e-3, 0.1, 30, 10, 1e-2, 4
	c.NumTrain, c.NumVal, c.NumTest = 150, 30, 20
	c.Optimizer, c.Preprocess = sgd.Adam, preprocess.Channel
	return Job{
		Config: c,
		Splits: cifar.Splits{Train: s.Slice(0, 150), Val: s.Slice(150, 180), Test: s.Slice(180, 200)},
		Out:    out, Test: true, Version: "test",
	}
}

// A run from start to end: the checkpoint holds the saved net, the
// metadata and what a resume needs; what Execute reports is what the
// checkpoint scores. Stopped at 17 by its context and carried on, it ends
// on the same weights bit for bit, and a sweep's rung (Budget) in two
// parts too.
func TestExecute(t *testing.T) {
	dir := t.TempDir()
	whole := testJob(t, filepath.Join(dir, "whole.npz"))
	starts := 0
	whole.Hooks.Start = func(it int) error { starts++; return nil }
	out, err := Execute(context.Background(), whole)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := checkpoint.Load(whole.Out)
	if err != nil {
		t.Fatal(err)
	}
	meta, ok := ReadMeta(ck.Meta)
	if !ok || !meta.State.Complete || meta.State.Iter != 30 || meta.Results == nil || *meta.Results.TestAcc != *out.Results.TestAcc || starts != 1 {
		t.Errorf("metadata %s, starts %d", ck.Meta, starts)
	}
	if acc := model.Accuracy(ck.Net.PredictIn(model.Float32, whole.Splits.Val, ck.Mean), whole.Splits.Val.Y); acc != out.Results.ValAcc {
		t.Errorf("the checkpoint scores %v on val, Execute said %v", acc, out.Results.ValAcc)
	}
	if len(out.Loss) != 30 || len(out.Epochs) != 2 || !slices.Equal(ck.Net.Sizes(), []int{cifar.D, 12, 8, cifar.Classes}) {
		t.Errorf("%d losses, %d epochs, sizes %v", len(out.Loss), len(out.Epochs), ck.Net.Sizes())
	}

	// Interrupted at iteration 17, then resumed.
	part := testJob(t, filepath.Join(dir, "part.npz"))
	ctx, cancel := context.WithCancel(context.Background())
	part.Hooks.Iter = func(it int, _ float64) {
		if it == 17 {
			cancel()
		}
	}
	_, err = Execute(ctx, part)
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.Iter != 17 || ie.Iters != 30 || !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	assertResumesTo(t, part.Out, whole, ck)

	// A rung of 12 iterations of the 30, then the rest.
	rung := testJob(t, filepath.Join(dir, "rung.npz"))
	rung.Budget, rung.Trial = 12, &Trial{Trial: 3}
	if _, err := Execute(context.Background(), rung); err != nil {
		t.Fatal(err)
	}
	rck, _ := checkpoint.Load(rung.Out)
	if m, _ := ReadMeta(rck.Meta); m.State.Complete || m.State.Iter != 12 || m.Sweep == nil || m.Sweep.Trial != 3 {
		t.Errorf("rung metadata %s", rck.Meta)
	}
	assertResumesTo(t, rung.Out, whole, ck)

	// A Start hook's error stops the run before any step, and nothing is saved.
	bad := testJob(t, filepath.Join(dir, "bad.npz"))
	bad.Hooks.Start = func(int) error { return errors.New("no metrics") }
	if _, err := Execute(context.Background(), bad); err == nil || err.Error() != "no metrics" {
		t.Errorf("Start's error: %v", err)
	}
	if _, err := checkpoint.Load(bad.Out); err == nil {
		t.Error("a run stopped by Start saved a checkpoint")
	}
}

// assertResumesTo resumes the checkpoint at path to the end of job and
// checks it ends on want's weights.
func assertResumesTo(t *testing.T, path string, job Job, want *checkpoint.Checkpoint) {
	t.Helper()
	ck, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := ReadMeta(ck.Meta)
	job.Out = path + ".resumed.npz"
	job.Resume, job.ResumePath, job.Prev = ck, path, meta
	if _, err := Execute(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	got, err := checkpoint.Load(job.Out)
	if err != nil {
		t.Fatal(err)
	}
	for k, p := range want.Net.Params() {
		if !equalBits(p, got.Net.Params()[k]) {
			t.Fatalf("resumed from %s: %s differs from the uninterrupted run", filepath.Base(path), want.Net.ParamNames()[k])
		}
	}
}

// A normalisation a file names that nettrain does not know, or a batch-
// normalised checkpoint without the unfolded state it resumes from (its
// saved W and b have the statistics folded in), is an error, not a panic
// or a wrong net.
func TestExecuteNormErrors(t *testing.T) {
	dir := t.TempDir()
	bad := testJob(t, filepath.Join(dir, "bad.npz"))
	bad.Config.Norm = "group"
	if _, err := Execute(context.Background(), bad); err == nil || err.Error() != `{norm} is "group", want batch or layer (or none)` {
		t.Errorf("norm group: %v", err)
	}

	j := testJob(t, filepath.Join(dir, "bn.npz"))
	j.Config.Norm = model.BatchNorm
	j.Config.Iters = 20
	if _, err := Execute(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	ck, err := checkpoint.Load(j.Out)
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := ReadMeta(ck.Meta)
	if _, ok := ck.Extra["train.running_var1"]; !ok {
		t.Fatal("the checkpoint has no train.running_var1")
	}
	if _, _, err := Resume(ck, meta.State, meta.Config); err != nil {
		t.Fatal(err)
	}
	delete(ck.Extra, "train.running_var1")
	if _, _, err := Resume(ck, meta.State, meta.Config); err == nil {
		t.Error("resumed a batch-normalised net without its running variance")
	}
}

// airbench's recipe, stopped mid-epoch after its lookahead started and
// carried on, ends on the uninterrupted run's bits: the average, the
// permutations and alternating flips, the whitening layer's frozen
// filters and bias.
func TestExecuteRecipeResumes(t *testing.T) {
	for _, optimizer := range []sgd.Optimizer{sgd.Nesterov, sgd.Muon} {
		t.Run(string(optimizer), func(t *testing.T) { testRecipeResumes(t, optimizer, MatmulFloat32) })
	}
	t.Run("muon-bf16", func(t *testing.T) { testRecipeResumes(t, sgd.Muon, MatmulBF16) })
}

func testRecipeResumes(t *testing.T, optimizer sgd.Optimizer, matmul string) {
	dir := t.TempDir()
	recipe := func(out string) Job {
		j := testJob(t, out)
		c := &j.Config
		c.Arch = "conv24k2-gelu-conv8k3nobias-maxpool2-bnnoscale-gelu-gmaxpool-fc10nobias-scale1/9"
		c.Preprocess, c.Optimizer, c.Momentum, c.LR, c.Reg, c.Iters = preprocess.Mean, sgd.Nesterov, 0.85, 0.05, 5e-4, 40
		c.Whiten, c.WhitenBiasEpochs, c.Init, c.BiasLR, c.Schedule, c.LabelSmoothing = true, 2, InitDirac, 64, sgd.Triangle, 0.2
		c.Shuffle, c.Flip, c.AlternateFlip, c.Translate, c.TranslatePad, c.Lookahead, c.NormTrack, c.TTA = true, true, true, 2, sgd.PadReflect, 3, 0.4, true
		if optimizer == sgd.Muon { // airbench94_muon's
			c.Optimizer, c.MuonLR, c.MuonMomentum, c.Schedule = sgd.Muon, 0.05, 0.7, sgd.Linear
		}
		c.Matmul = matmul
		return j
	}
	whole := recipe(filepath.Join(dir, "whole.npz"))
	if _, err := Execute(context.Background(), whole); err != nil {
		t.Fatal(err)
	}
	want, err := checkpoint.Load(whole.Out)
	if err != nil {
		t.Fatal(err)
	}
	part := recipe(filepath.Join(dir, "part.npz"))
	ctx, cancel := context.WithCancel(context.Background())
	part.Hooks.Iter = func(it int, _ float64) {
		if it == 23 {
			cancel()
		}
	}
	if _, err := Execute(ctx, part); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	ck, err := checkpoint.Load(part.Out)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ck.Extra["opt.avg.W2"]; !ok {
		t.Fatal("the checkpoint holds no lookahead average")
	}
	if _, ok := ck.Extra["opt.v.W2"]; !ok {
		t.Fatal("the checkpoint holds no momentum of the filters")
	}
	meta, _ := ReadMeta(ck.Meta)
	whole.Out = part.Out + ".resumed.npz"
	whole.Resume, whole.ResumePath, whole.Prev = ck, part.Out, meta
	if _, err := Execute(context.Background(), whole); err != nil {
		t.Fatal(err)
	}
	got, err := checkpoint.Load(whole.Out)
	if err != nil {
		t.Fatal(err)
	}
	for k, a := range want.Conv.Arrays() {
		if !equalBits(a.V, got.Conv.Arrays()[k].V) {
			t.Fatalf("resumed: %s differs from the uninterrupted run", a.Name)
		}
	}
}
