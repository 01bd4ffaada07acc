package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"path/filepath"
	"testing"

	"github.com/nettrain/nettrain/internal/checkpoint"
)

// weightsHash is the SHA-256 of a checkpoint's W1, b1, W2, b2 and mean as
// float64 bits, in that order.
func weightsHash(t *testing.T, path string) string {
	t.Helper()
	ck, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	var b [8]byte
	params := ck.Net.Params()
	for _, p := range append(params[:], ck.Mean) {
		for _, v := range p {
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
			h.Write(b[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Results that must not change: short runs' weights, pinned by hash before
// the redesign of the run and the net into layers (issue 12), so that the
// redesign can be checked bit for bit: the default recipe (float32 SGD),
// one with every option that carries state (float64, Nesterov, cosine,
// dropout, flips, ZCA, keep-best), a resume, a sweep's best trial, and
// (pinned before --norm-track existed) a batch-norm net. The
// kernels give the same bits on every CPU (TestSameWeightsAnyKernelAndThreads),
// so the hashes hold on any machine. If a change is meant to alter results,
// say so in its commit and update them.
func TestPinnedWeights(t *testing.T) {
	data := fixtureDir(t)
	tmp := t.TempDir()
	train := func(name string, extra ...string) string {
		out := filepath.Join(tmp, name+".npz")
		args := append(append([]string{"train", "--data", data, "--iters", "40", "--batch", "10", "--hidden", "12", "-q", "--out", out}, small...), extra...)
		if r := runCmd(t, testEnv(), args...); r.code != 0 {
			t.Fatalf("%s: exit %d %s", name, r.code, r.stderr)
		}
		return out
	}
	runs := map[string]string{
		"default": train("default", "--lr", "1e-3"),
		"everything": train("everything", "--precision", "float64", "--optimizer", "nesterov", "--schedule", "cosine", "--lr", "1e-2",
			"--dropout", "0.3", "--flip", "--preprocess", "zca", "--keep-best", "--std", "1e-2"),
		"batch norm": train("batch norm", "--hidden", "12,8", "--norm", "batch", "--lr", "1e-2", "--std", "1e-2"),
	}
	half := train("half", "--optimizer", "adam", "--lr", "1e-3", "--iters", "20")
	if r := runCmd(t, testEnv(), "train", "--resume", half, "--data", data, "--iters", "40", "-q"); r.code != 0 {
		t.Fatalf("resume: exit %d %s", r.code, r.stderr)
	}
	runs["adam resumed"] = half
	sw := filepath.Join(tmp, "sw")
	if r := runCmd(t, testEnv(), append([]string{"sweep", "--data", data, "--out", sw, "-q"}, smallSweep...)...); r.code != 0 {
		t.Fatalf("sweep: exit %d %s", r.code, r.stderr)
	}
	runs["sweep best"] = filepath.Join(sw, "best.npz")
	want := map[string]string{
		"default":      "d8de942c69e42bf8",
		"everything":   "c6446e7534759abf",
		"batch norm":   "54ed6b3d03225903",
		"adam resumed": "2d3fb4c1cc9bf3e4",
		"sweep best":   "d3bfd7461584f774",
	}
	for name, path := range runs {
		if got := weightsHash(t, path); got != want[name] {
			t.Errorf("%s: weights hash %s, pinned %s", name, got, want[name])
		}
	}
}
