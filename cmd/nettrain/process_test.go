package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nettrain/nettrain/internal/blasimpl"
	"github.com/nettrain/nettrain/internal/blasimpl/blastrap"
	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
	"github.com/nettrain/nettrain/internal/gemm"
	"github.com/nettrain/nettrain/internal/model"
)

// Process tests run the real nettrain binary, built once, on a dataset of
// official size (10,000 records a batch) written once.
var (
	shared     string // temporary directory for both, removed by TestMain
	binOnce    sync.Once
	binPath    string
	binErr     error
	fullOnce   sync.Once
	fullDir    string
	fullDirErr error
)

func TestMain(m *testing.M) {
	if v := os.Getenv("NETTRAIN_TEST_SAVE_LOOP"); v != "" {
		saveLoop(v) // helper process of TestKillDuringSave; never returns
	}
	dir, err := os.MkdirTemp("", "nettrain-test-")
	if err != nil {
		panic(err)
	}
	shared = dir
	// Every command test runs with a BLAS behind gonum's blas64 and blas32
	// that fails on any call: training, scoring, sweeps and resumes use
	// nettrain's own arithmetic, whatever BLAS a build links (issue 21).
	blasimpl.Use()
	blastrap.Install()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func nettrainBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(shared, "nettrain")
		out, err := exec.Command("go", "build", "-tags", testTags, "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = errors.New(string(out))
		}
	})
	if binErr != nil {
		t.Fatalf("building nettrain: %v", binErr)
	}
	return binPath
}

func fullSizeData(t *testing.T) string {
	t.Helper()
	fullOnce.Do(func() {
		fullDir = filepath.Join(shared, "cifar-full")
		os.Mkdir(fullDir, 0o755)
		rng := rand.New(rand.NewPCG(21, 21))
		for _, name := range []string{cifar.TrainFile(1), cifar.TrainFile(2), cifar.TrainFile(3), cifar.TrainFile(4), cifar.TrainFile(5), cifar.TestFile} {
			s := cifartest.RandomSet(cifar.RecordsPerBatch, rng)
			if err := os.WriteFile(filepath.Join(fullDir, name), cifartest.Records(s), 0o644); err != nil {
				fullDirErr = err
			}
		}
	})
	if fullDirErr != nil {
		t.Fatal(fullDirErr)
	}
	return fullDir
}

// waitForIter waits until the metrics file shows iteration n or more.
func waitForIter(t *testing.T, metrics string, n int, done <-chan struct{}) bool {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return false
		default:
		}
		b, _ := os.ReadFile(metrics)
		lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
		var ev struct {
			Event string
			Iter  int
		}
		if json.Unmarshal(lines[len(lines)-1], &ev) == nil && ev.Event == "iter" && ev.Iter >= n {
			return true
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("training made no progress in 60 s")
	return false
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// A signal during train stops it after the current iteration, saves a
// checkpoint and the metrics so far, and exits 130; --resume then ends bit
// for bit where an uninterrupted run ends.
func TestSignalThenResume(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping process tests")
	}
	bin, data := nettrainBinary(t), fullSizeData(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			tmp := t.TempDir()
			args := func(out string) []string {
				return []string{"train", "--data", data, "--hidden", "64", "--batch", "100", "--iters", "600", "--num-train", "5000",
					"--num-val", "200", "--lr", "1e-4", "--seed", "4", "--quiet", "--out", out, "--metrics", out + ".jsonl"}
			}
			a := filepath.Join(tmp, "a.npz")
			cmd := exec.Command(bin, args(a)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			var waitErr error
			go func() { waitErr = cmd.Wait(); close(done) }()
			if !waitForIter(t, a+".jsonl", 20, done) {
				t.Fatalf("the run ended before it could be signalled: %v\n%s", waitErr, stderr.String())
			}
			cmd.Process.Signal(sig)
			<-done
			if code := exitCode(waitErr); code != 130 {
				t.Fatalf("exit %d after %v, want 130\n%s", code, sig, stderr.String())
			}
			if !strings.Contains(stderr.String(), "resume with: nettrain train --resume "+a) {
				t.Errorf("stderr does not say how to resume:\n%s", stderr.String())
			}
			ck, err := checkpoint.Load(a)
			if err != nil {
				t.Fatalf("checkpoint after %v: %v", sig, err)
			}
			var meta runMeta
			json.Unmarshal(ck.Meta, &meta)
			if !meta.State.Interrupted || meta.State.Iter < 20 || meta.State.Iter >= 600 {
				t.Fatalf("state %+v", meta.State)
			}
			t.Logf("%v stopped the run after iteration %d", sig, meta.State.Iter)

			// Resume to the end, and compare with a run that never stopped.
			b := filepath.Join(tmp, "b.npz")
			ra, rb := resumeAndCompare(t, bin, a, b, args(b), "--data", data, "--quiet", "--metrics", a+".jsonl")
			var ma, mb runMeta
			json.Unmarshal(ra.Meta, &ma)
			json.Unmarshal(rb.Meta, &mb)
			if ma.Results.ValAcc != mb.Results.ValAcc || ma.Results.FinalLoss != mb.Results.FinalLoss || len(ma.Epochs) != len(mb.Epochs) || !ma.State.Complete {
				t.Errorf("resumed results %+v %+v, uninterrupted %+v", ma.Results, ma.State, mb.Results)
			}
			// The metrics file holds every iteration once, in order.
			raw, _ := os.ReadFile(a + ".jsonl")
			next := 1
			for line := range strings.Lines(string(raw)) {
				var ev struct {
					Event string
					Iter  int
				}
				json.Unmarshal([]byte(line), &ev)
				if ev.Event == "iter" {
					if ev.Iter != next {
						t.Fatalf("metrics: iteration %d where %d was due", ev.Iter, next)
					}
					next++
				}
			}
			if next != 601 {
				t.Errorf("metrics hold iterations 1..%d, want 1..600", next-1)
			}
		})
	}
}

// A second signal quits at once, even while the first one's save is under
// way, and never leaves a corrupt checkpoint at --out.
func TestSecondSignalQuits(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping process tests")
	}
	bin, data := nettrainBinary(t), fullSizeData(t)
	out := filepath.Join(t.TempDir(), "big.npz")
	// A big net (W1 is 3072 x 6000, 147 MB) so that saving takes a while.
	cmd := exec.Command(bin, "train", "--data", data, "--hidden", "6000", "--batch", "8", "--iters", "100000", "--num-train", "2000", "--num-val", "10", "--quiet", "--out", out, "--metrics", out+".jsonl")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	var stderr bytes.Buffer
	first := make(chan struct{}) // the first signal was taken
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			stderr.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "stopping after this iteration") {
				close(first)
			}
		}
	}()
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); <-copied; close(done) }()
	waitForIter(t, out+".jsonl", 3, done)
	cmd.Process.Signal(syscall.SIGINT)
	// The second signal as soon as the first is taken: during the last
	// iteration or the save (147 MB), not merged with the first.
	select {
	case <-first:
	case <-time.After(30 * time.Second):
		t.Fatal("no word of the first signal in 30 s")
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("still running 30 s after two signals")
	}
	if code := exitCode(waitErr); code != 130 {
		t.Errorf("exit %d, want 130\n%s", code, stderr.String())
	}
	t.Logf("stderr:\n%s", stderr.String())
	if !strings.Contains(stderr.String(), "quitting now") {
		t.Errorf("stderr does not say it quit at once:\n%s", stderr.String())
	}
	if _, err := os.Stat(out); err == nil {
		if _, err := checkpoint.Load(out); err != nil {
			t.Errorf("checkpoint left at --out is corrupt: %v", err)
		}
	}
}

// saveLoop is the helper process of TestKillDuringSave: it saves two
// different checkpoints over path, turn about, until it is killed.
func saveLoop(path string) {
	var cks [2]*checkpoint.Checkpoint
	for i := range cks {
		net := model.New([]int{cifar.D, 300, cifar.Classes}, 1, rand.New(rand.NewPCG(uint64(i), 0)))
		for j := range net.Layers[1].B {
			net.Layers[1].B[j] = float64(i) // tells the two apart
		}
		cks[i] = &checkpoint.Checkpoint{Net: net, Mean: make([]float64, cifar.D), Meta: json.RawMessage(`{"which":` + string(rune('0'+i)) + `}`)}
	}
	for i := 0; ; i++ {
		if err := checkpoint.Save(path, cks[i%2]); err != nil {
			os.Exit(3)
		}
	}
}

// SIGKILL at any moment during a save leaves the destination either absent
// or a whole, loadable checkpoint: the old one or the new one.
func TestKillDuringSave(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping process tests")
	}
	path := filepath.Join(t.TempDir(), "m.npz")
	rng := rand.New(rand.NewPCG(5, 5))
	loads := 0
	for i := range 12 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "NETTRAIN_TEST_SAVE_LOOP="+path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if _, err := os.Stat(path); err != nil {
			continue // killed before the first rename
		}
		ck, err := checkpoint.Load(path)
		if err != nil {
			t.Fatalf("kill %d: checkpoint corrupt: %v", i, err)
		}
		if b := ck.Net.Layers[1].B[0]; b != 0 && b != 1 {
			t.Fatalf("kill %d: b2 = %v", i, ck.Net.Layers[1].B)
		}
		loads++
	}
	if loads == 0 {
		t.Error("no kill landed after a completed save; nothing was checked")
	}
	t.Logf("%d of 12 kills checked a checkpoint", loads)
}

// NETTRAIN_GEMM picks the kernel for the whole process, and `version` says
// which one runs; a name this CPU cannot run is a one-line warning, and
// the best kernel runs instead.
func TestKernelFromEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping process tests")
	}
	bin := nettrainBinary(t)
	for _, name := range append(gemm.Kernels(), "gonum") {
		cmd := exec.Command(bin, "version")
		cmd.Env = append(os.Environ(), gemm.EnvKernel+"="+name)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s=%s nettrain version: %v\n%s", gemm.EnvKernel, name, err, out)
		}
		if !strings.Contains(string(out), "GEMM: "+name+" ") {
			t.Errorf("%s=%s: version says\n%s", gemm.EnvKernel, name, out)
		}
	}
	cmd := exec.Command(bin, "version")
	cmd.Env = append(os.Environ(), gemm.EnvKernel+"=vax")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `warning: NETTRAIN_GEMM=vax: gemm: no kernel "vax"`) ||
		!strings.Contains(string(out), "GEMM: "+gemm.Kernels()[0]+" kernel") {
		t.Errorf("NETTRAIN_GEMM=vax: %v\n%s", err, out)
	}
}

// A signal before there is anything to save (here a long gradient check;
// loading data and fitting ZCA are the same) quits at once with 130, where
// it used to promise to stop "after this iteration" and run on.
func TestSignalBeforeTrainingQuits(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping process tests")
	}
	bin := nettrainBinary(t)
	cmd := exec.Command(bin, "gradcheck", "--input-size", "3000", "--hidden", "3000", "--num-inputs", "50", "--classes", "10")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if code := exitCode(err); code != 130 || !strings.Contains(stderr.String(), "quitting (nothing to save yet)") {
			t.Errorf("exit %d after %v, stderr %q; want 130 at once", code, time.Since(start), stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 10 s after SIGTERM; stderr %q", stderr.String())
	}
}

// The --metrics file's disk fills in the middle of a run (here a file size
// limit, ulimit -f, which fails writes past it as a full disk does): one
// warning at the failure, training goes on, the model is saved, the exit
// status is 1 with both facts, and the metrics file ends in a whole line.
func TestMetricsFailureKeepsTheModel(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping process tests")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	bin, data := nettrainBinary(t), fullSizeData(t)
	dir := t.TempDir()
	out, metrics := filepath.Join(dir, "m.npz"), filepath.Join(dir, "run.jsonl")
	args := []string{"train", "--data", data, "--hidden", "1", "--iters", "3000", "--batch", "5", "--num-train", "2000", "--num-val", "10", "--out", out, "--metrics", metrics, "--json"}
	// 100 KiB: the metrics file reaches it near iteration 1900; the model
	// (hidden 1) is smaller.
	cmd := exec.Command(bash, append([]string{"-c", `ulimit -f 100 && exec "$@"`, "bash", bin}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if code := exitCode(err); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr.String())
	}
	if n := strings.Count(stderr.String(), "warning: --metrics"); n != 1 || !strings.Contains(stderr.String(), "training goes on") {
		t.Errorf("%d warnings, want one saying training goes on:\n%s", n, stderr.String())
	}
	last := strings.TrimSpace(stderr.String()[strings.LastIndex(strings.TrimSpace(stderr.String()), "\n")+1:])
	if !strings.Contains(last, "model saved to "+out) || !strings.Contains(last, "--metrics "+metrics+" failed") {
		t.Errorf("last line %q does not give both facts", last)
	}
	ck, err := checkpoint.Load(out)
	if err != nil {
		t.Fatalf("the model was not saved: %v", err)
	}
	var meta runMeta
	if json.Unmarshal(ck.Meta, &meta); meta.State.Iter != 3000 || !meta.State.Complete {
		t.Errorf("saved state %+v, want all 3000 iterations", meta.State)
	}
	if !strings.Contains(stdout.String(), `"val_acc"`) {
		t.Errorf("no results on stdout: %q", stdout.String())
	}
	b, _ := os.ReadFile(metrics)
	if len(b) == 0 || b[len(b)-1] != '\n' {
		t.Fatalf("metrics file of %d bytes does not end in a whole line", len(b))
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("metrics line %d of %d is torn: %q", i+1, len(lines), l)
		}
	}
	if len(lines) < 1000 || len(lines) >= 3000 {
		t.Errorf("metrics file has %d lines; the limit should have stopped it in the middle", len(lines))
	}
}

// --save-every: SIGKILL (no chance to save) in the middle of a run with
// momentum, dropout, flips and --keep-best; --resume from the last periodic
// checkpoint ends bit for bit where an uninterrupted run ends, and the kill
// lost at most the iterations since that checkpoint.
func TestSaveEveryThenKill(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping process tests")
	}
	bin, data := nettrainBinary(t), fullSizeData(t)
	tmp := t.TempDir()
	args := func(out string, extra ...string) []string {
		return append([]string{"train", "--data", data, "--hidden", "32", "--batch", "50", "--iters", "800", "--num-train", "2000",
			"--num-val", "200", "--lr", "1e-3", "--optimizer", "momentum", "--dropout", "0.3", "--flip", "--keep-best", "--seed", "7",
			"--quiet", "--out", out}, extra...)
	}
	a := filepath.Join(tmp, "a.npz")
	cmd := exec.Command(bin, args(a, "--save-every", "50", "--metrics", a+".jsonl")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	if !waitForIter(t, a+".jsonl", 230, done) {
		t.Fatal("the run ended before it could be killed")
	}
	cmd.Process.Kill()
	<-done
	ck, err := checkpoint.Load(a)
	if err != nil {
		t.Fatalf("no periodic checkpoint after the kill: %v", err)
	}
	var meta runMeta
	json.Unmarshal(ck.Meta, &meta)
	if meta.State.Iter < 200 || meta.State.Iter%50 != 0 || meta.State.Complete {
		t.Fatalf("periodic checkpoint state %+v, want a multiple of 50 from 200 on", meta.State)
	}
	t.Logf("killed; the last periodic checkpoint is at iteration %d", meta.State.Iter)
	b := filepath.Join(tmp, "b.npz")
	ra, rb := resumeAndCompare(t, bin, a, b, args(b), "--data", data, "--quiet")
	for name, v := range rb.Extra {
		if !equalBits(v, ra.Extra[name]) {
			t.Errorf("state %s differs", name)
		}
	}
}

// resumeAndCompare resumes the checkpoint a to its end (with the flags in
// resume), trains b from scratch with the arguments uninterrupted, and
// fails unless both end with the same weights, bit for bit. It returns
// both checkpoints.
func resumeAndCompare(t *testing.T, bin, a, b string, uninterrupted []string, resume ...string) (ra, rb *checkpoint.Checkpoint) {
	t.Helper()
	if out, err := exec.Command(bin, append([]string{"train", "--resume", a}, resume...)...).CombinedOutput(); err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, uninterrupted...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	ra, erra := checkpoint.Load(a)
	rb, errb := checkpoint.Load(b)
	if erra != nil || errb != nil {
		t.Fatalf("loading the results: %v, %v", erra, errb)
	}
	for k, p := range ra.Net.Params() {
		if !equalBits(p, rb.Net.Params()[k]) {
			t.Fatalf("%s differs between the resumed and the uninterrupted run", model.ParamNames(2, "")[k])
		}
	}
	return ra, rb
}

// SIGINT during the ZCA fit (before the first iteration) exits 130 within a
// second and writes nothing: the --out already there is untouched, where it
// used to wait for the fit (15 s) and then save an iteration-0 checkpoint
// over it.
func TestSignalDuringZCAFitWritesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping process tests")
	}
	bin, data := nettrainBinary(t), fullSizeData(t)
	dir := t.TempDir()
	out, metrics := filepath.Join(dir, "m.npz"), filepath.Join(dir, "run.jsonl")
	os.WriteFile(out, []byte("an earlier model"), 0o644)
	cmd := exec.Command(bin, "train", "--data", data, "--preprocess", "zca", "--num-train", "49000", "--out", out, "--metrics", metrics)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Loaded, and so fitting: signal then.
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(stderr.String(), "loaded "); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("not loaded after 60 s: %q", stderr.String())
		}
	}
	time.Sleep(200 * time.Millisecond)
	if strings.Contains(stderr.String(), "fitted ZCA") {
		cmd.Process.Kill()
		<-done
		t.Skip("the ZCA fit ended before the signal; nothing to test on this machine")
	}
	start := time.Now()
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		if code := exitCode(err); code != 130 || time.Since(start) > time.Second {
			t.Errorf("exit %d after %v; want 130 within a second\n%s", code, time.Since(start), stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 10 s after SIGINT: %q", stderr.String())
	}
	if b, _ := os.ReadFile(out); string(b) != "an earlier model" {
		t.Error("--out was overwritten")
	}
	if _, err := os.Stat(metrics); err == nil {
		t.Error("--metrics was written")
	}
}

// syncBuffer is a bytes.Buffer that a process's output goroutine and the
// test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
