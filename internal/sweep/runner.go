package sweep

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/fsutil"
	"github.com/nettrain/nettrain/internal/preprocess"
	trainrun "github.com/nettrain/nettrain/internal/run"
	"github.com/nettrain/nettrain/internal/setting"
	"github.com/nettrain/nettrain/internal/sgd"
)

// Statuses of a finished trial.
const (
	StatusOK       = "ok"
	StatusDiverged = "diverged"
	StatusFailed   = "failed"
)

// Result is one finished trial at one rung (rung 0 without halving).
type Result struct {
	Trial      int      `json:"trial"`
	Rung       int      `json:"rung"`
	Config     Trial    `json:"config"`
	Iters      int      `json:"iters"` // iterations trained in all
	Status     string   `json:"status"`
	Error      string   `json:"error,omitempty"`
	ValAcc     float64  `json:"val_acc"`
	TrainAcc   *float64 `json:"train_acc,omitempty"` // nil with skip_train_score
	FinalLoss  float64  `json:"final_loss"`
	Seconds    float64  `json:"seconds"`
	Checkpoint string   `json:"checkpoint,omitempty"` // relative to the sweep directory
	// Set when the results are read back, for reports over many files.
	Dir  string `json:"-"`
	Line int    `json:"-"` // in its results file
}

// Runner runs the trials of one shard of a space.
type Runner struct {
	Space   Space
	Dir     string
	Data    preprocess.Data // shared by every trial, read-only
	Workers int             // trials in parallel; 0 means 1
	Shard   int             // this shard, 0-based
	Shards  int             // shards in all; 0 means 1
	Force   bool
	NumTest int // recorded in checkpoints for eval; 0 means cifar.DefaultNumTest
	// Version and Classes are recorded in each trial's checkpoint, as train
	// records them: the program's version and the dataset's class names.
	Version string
	Classes []string

	// Warn, if set, hears of each results line that was skipped.
	Warn func(string)

	// Progress, if set, is called after each result with the results done
	// and expected so far (the total grows as halving promotes trials).
	Progress func(r Result, done, total int)
}

// ResultsFile returns the name of the results file of shard i of n.
func ResultsFile(i, n int) string {
	if n <= 1 {
		return "results.jsonl"
	}
	return fmt.Sprintf("results-shard-%d-of-%d.jsonl", i, n)
}

type task struct {
	trial  Trial
	rung   int
	budget int    // iterations the trial has trained when this task ends
	from   string // checkpoint to resume from, or ""
	done   int    // iterations in that checkpoint
}

// Run runs every trial of the shard that results file does not already
// hold, and returns all of the shard's results, old and new. A cancelled
// ctx stops the trials in flight (they are not recorded) and returns its
// error with the results so far.
func (r *Runner) Run(ctx context.Context) ([]Result, error) {
	if err := r.Space.Check(); err != nil {
		return nil, err
	}
	shards := max(r.Shards, 1)
	if r.Shard < 0 || r.Shard >= shards {
		return nil, fmt.Errorf("shard %d of %d does not exist", r.Shard, shards)
	}
	if err := os.MkdirAll(filepath.Join(r.Dir, "trials"), 0o755); err != nil {
		return nil, err
	}
	resultsPath := filepath.Join(r.Dir, ResultsFile(r.Shard, shards))
	lock, err := acquireLock(resultsPath + ".lock")
	if err != nil {
		return nil, err
	}
	defer lock.release()
	if err := r.checkSpace(resultsPath); err != nil {
		return nil, err
	}
	results, skipped, err := ReadResults(resultsPath)
	if err != nil {
		return nil, err
	}
	results, untrusted := r.Space.Vouched(results, filepath.Base(resultsPath))
	skipped = append(skipped, untrusted...)
	kept := results[:0]
	for _, res := range results {
		if res.Trial%shards != r.Shard {
			skipped = append(skipped, fmt.Sprintf("%s:%d: trial %d is not one of this shard's (%d of %d)",
				filepath.Base(resultsPath), res.Line, res.Trial, r.Shard, shards))
			continue
		}
		kept = append(kept, res)
	}
	results = kept
	for _, s := range skipped {
		if r.Warn != nil {
			r.Warn("skipped " + s)
		}
	}
	out, err := openAppend(resultsPath)
	if err != nil {
		return nil, err
	}
	defer out.Close()

	have := map[[2]int]Result{}
	for _, res := range results {
		have[[2]int{res.Trial, res.Rung}] = res
	}
	var trials []Trial
	for i := r.Shard; i < r.Space.NumTrials(); i += shards {
		trials = append(trials, r.Space.Trial(i))
	}

	var mu sync.Mutex // guards results, out, done
	done := 0
	total := len(trials)
	record := func(res Result) error {
		mu.Lock()
		defer mu.Unlock()
		b, _ := json.Marshal(res)
		if _, err := out.Write(append(b, '\n')); err != nil {
			return err
		}
		if err := out.Sync(); err != nil {
			return err
		}
		results = append(results, res)
		done++
		if r.Progress != nil {
			r.Progress(res, done, total)
		}
		return nil
	}

	// Rung by rung: all of a rung's trials finish before the next is chosen.
	alive := trials
	for rung := 0; len(alive) > 0; rung++ {
		var tasks []task
		for _, t := range alive {
			budget := r.budget(t, rung)
			if _, ok := have[[2]int{t.Index, rung}]; ok {
				done++ // finished in an earlier run
				continue
			}
			tk := task{trial: t, rung: rung, budget: budget}
			if rung > 0 {
				prev := have[[2]int{t.Index, rung - 1}]
				tk.from, tk.done = prev.Checkpoint, prev.Iters
			}
			tasks = append(tasks, tk)
		}
		if r.Progress != nil && done > 0 && rung == 0 {
			r.Progress(Result{Trial: -1}, done, total)
		}
		if err := r.runTasks(ctx, tasks, record); err != nil {
			return results, err
		}
		for _, res := range results {
			have[[2]int{res.Trial, res.Rung}] = res
		}
		alive = r.promote(alive, rung, have)
		total += len(alive)
	}
	return results, nil
}

// budget returns the iterations trial t has trained at the end of rung.
func (r *Runner) budget(t Trial, rung int) int {
	h := r.Space.Halving
	if h == nil {
		return t.Iters
	}
	b := float64(h.MinIters) * math.Pow(float64(h.Eta), float64(rung))
	return int(min(b, float64(t.Iters)))
}

// promote returns the trials that go on from rung: none without halving;
// with it, the best ceil(n/eta) of the rung's ok trials by validation
// accuracy (ties to the lower index), leaving out those already complete.
func (r *Runner) promote(alive []Trial, rung int, have map[[2]int]Result) []Trial {
	h := r.Space.Halving
	if h == nil {
		return nil
	}
	var ok []Result
	for _, t := range alive {
		if res, found := have[[2]int{t.Index, rung}]; found && res.Status == StatusOK {
			ok = append(ok, res)
		}
	}
	sort.SliceStable(ok, func(i, j int) bool {
		if ok[i].ValAcc != ok[j].ValAcc {
			return ok[i].ValAcc > ok[j].ValAcc
		}
		return ok[i].Trial < ok[j].Trial
	})
	keep := (len(alive) + h.Eta - 1) / h.Eta
	var next []Trial
	for _, res := range ok[:min(keep, len(ok))] {
		if res.Iters < res.Config.Iters {
			next = append(next, res.Config)
		}
	}
	sort.Slice(next, func(i, j int) bool { return next[i].Index < next[j].Index })
	return next
}

func (r *Runner) runTasks(ctx context.Context, tasks []task, record func(Result) error) error {
	workers := max(r.Workers, 1)
	next := make(chan task)
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	for range min(workers, len(tasks)) {
		wg.Go(func() {
			for t := range next {
				res, err := r.runTask(ctx, t)
				if err == nil {
					err = record(res)
				}
				if err == nil && t.from != "" && t.from != res.Checkpoint {
					// The previous rung's checkpoint is no longer needed once
					// this rung's result is on disk.
					os.Remove(filepath.Join(r.Dir, t.from))
				}
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
				}
			}
		})
	}
	for _, t := range tasks {
		if ctx.Err() != nil {
			break
		}
		next <- t
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return firstErr
}

// runTask trains one trial up to the task's budget. Only a cancelled ctx or
// a failure to write is an error; a trial that fails is a Result.
func (r *Runner) runTask(ctx context.Context, t task) (Result, error) {
	start := time.Now()
	tr := t.trial
	res := Result{Trial: tr.Index, Rung: t.rung, Config: tr, Iters: t.budget, Status: StatusOK, Dir: r.Dir}
	fail := func(status string, err error) (Result, error) {
		res.Status, res.Error, res.Seconds = status, setting.Plain(err.Error()), time.Since(start).Seconds()
		if _, err := os.Lstat(filepath.Join(r.Dir, res.Checkpoint)); res.Checkpoint != "" && err != nil {
			res.Checkpoint = "" // never written: a trial that failed before saving
		}
		return res, nil
	}
	// The trial's run, recorded in its checkpoint as train records its own,
	// so that eval and train --resume take it as it is; checked as train
	// checks its flags.
	rc := r.Space.Config(tr, cmp.Or(r.NumTest, cifar.DefaultNumTest))
	if err := rc.Validate(); err != nil {
		return fail(StatusFailed, err)
	}
	// One file per rung, so that a kill between saving it and recording the
	// result leaves the previous rung's checkpoint for the rerun.
	res.Checkpoint = CheckpointName(tr.Index, t.rung)
	data := r.Data
	job := trainrun.Job{Config: rc, Data: &data, Budget: t.budget, Out: filepath.Join(r.Dir, res.Checkpoint),
		Trial: &trainrun.Trial{Trial: tr.Index, Rung: t.rung}, Version: r.Version, Classes: r.Classes}
	if t.from != "" {
		job.ResumePath = CheckpointName(tr.Index, t.rung-1)
		ck, _, err := ReadCheckpoint(Result{Dir: r.Dir, Trial: tr.Index, Rung: t.rung - 1})
		if err != nil {
			return fail(StatusFailed, err)
		}
		if arch := tr.Arch; arch != "" || ck.Conv != nil {
			if ck.Conv == nil || !trainrun.HoldsArch(ck.Conv, arch, true) {
				return fail(StatusFailed, fmt.Errorf("%s: not a net of the trial's arch %s", job.ResumePath, arch))
			}
		} else if want := tr.Hidden.Sizes(cifar.D, cifar.Classes); !slices.Equal(ck.Net.Sizes(), want) {
			return fail(StatusFailed, fmt.Errorf("%s: layers %v, the trial's are %v", job.ResumePath, ck.Net.Sizes(), want))
		}
		prev, ok := trainrun.ReadMeta(ck.Meta)
		if !ok || prev.State.Iter != t.done {
			return fail(StatusFailed, fmt.Errorf("%s does not record the %d iterations of rung %d", job.ResumePath, t.done, t.rung-1))
		}
		job.Resume, job.Prev = ck, prev
	}
	out, err := trainrun.Execute(ctx, job)
	var de *sgd.DivergedError
	var se *trainrun.SaveError
	switch {
	case ctx.Err() != nil:
		return res, ctx.Err()
	case errors.As(err, &se):
		return res, err
	case errors.As(err, &de):
		return fail(StatusDiverged, err)
	case err != nil:
		return fail(StatusFailed, err)
	}
	res.FinalLoss, res.ValAcc, res.TrainAcc = out.Results.FinalLoss, out.Results.ValAcc, out.Results.TrainAcc
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// checkSpace writes the space to sweep.json, or, if one is there, makes
// sure it is the same: resuming with another space is an error unless
// Force, which sets the old results aside.
func (r *Runner) checkSpace(resultsPath string) error {
	path := filepath.Join(r.Dir, "sweep.json")
	want, _ := json.MarshalIndent(r.Space, "", "  ")
	want = append(want, '\n')
	old, err := fsutil.ReadFileLimit(path, 1<<20, "a sweep.json")
	switch {
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return err
	case err == nil && string(old) == string(want):
		return nil
	case err == nil && sameSpace(old, r.Space):
		// Written before the defaults were explicit (momentum 0 for 0.9):
		// the same sweep; record it in today's form.
	case err == nil && !r.Force:
		return fmt.Errorf("%s holds a sweep over another search space (see its sweep.json); rerun with the same flags to resume it, pick another {out}, or pass {force} to start over", r.Dir)
	case err == nil:
		// Force sets aside every shard's results: none may be running (its
		// own lock is held by this sweep).
		locks, _ := filepath.Glob(filepath.Join(r.Dir, "results*.jsonl.lock"))
		host, _ := os.Hostname()
		for _, l := range locks {
			if l == resultsPath+".lock" {
				continue
			}
			if holder, age, stale := inspectLock(l, host); !stale {
				return fmt.Errorf("{force}: another sweep is writing %s (%s, last alive %s ago); {force} does not stop a running sweep: wait for it, or give this one another {out}",
					filepath.Base(strings.TrimSuffix(l, ".lock")), holder, age.Round(time.Second))
			}
		}
		stamp := time.Now().UTC().Format("20060102T150405")
		entries, _ := filepath.Glob(filepath.Join(r.Dir, "results*.jsonl"))
		for _, e := range entries {
			if err := os.Rename(e, e+".replaced-"+stamp); err != nil {
				return err
			}
		}
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	return fsutil.WriteAtomic(path, func(w io.Writer) error { _, err := w.Write(want); return err })
}

// openAppend opens path to append whole lines: if the file ends without a
// newline (a torn write), one is added first.
func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if _, err := fsutil.EndLine(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Latest returns each trial's last ok result (the one its checkpoint
// holds), best validation accuracy first, ties to the lower trial.
func Latest(results []Result) []Result {
	type key struct {
		dir   string
		trial int
	}
	last := map[key]Result{}
	for _, res := range results {
		k := key{res.Dir, res.Trial}
		if prev, ok := last[k]; !ok || res.Rung >= prev.Rung {
			last[k] = res
		}
	}
	var out []Result
	for _, res := range last {
		if res.Status == StatusOK {
			out = append(out, res)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ValAcc != out[j].ValAcc {
			return out[i].ValAcc > out[j].ValAcc
		}
		if out[i].Dir != out[j].Dir {
			return out[i].Dir < out[j].Dir
		}
		return out[i].Trial < out[j].Trial
	})
	return out
}

// Describe formats a trial's hyperparameters for a table. The iterations
// are left out: tables and progress lines show those a result was trained
// for (a rung of successive halving trains fewer than the trial's budget).
func (t Trial) Describe() string {
	net := "hidden " + t.Hidden.Dashed()
	if t.Arch != "" {
		net = "arch " + t.Arch
	}
	return strings.Join([]string{
		net, fmt.Sprintf("lr %.3g", t.LR), fmt.Sprintf("reg %.3g", t.Reg),
		fmt.Sprintf("batch %d", t.Batch), fmt.Sprintf("decay %.3g", t.LRDecay),
	}, "  ")
}

// sameSpace reports whether the sweep.json text old is s once the zero
// values that older versions wrote for defaults are read as those defaults.
func sameSpace(old []byte, s Space) bool {
	var o Space
	if json.Unmarshal(old, &o) != nil {
		return false
	}
	norm := func(s Space) string {
		s.SetFixed(s.Fixed().Normalized())
		b, _ := json.Marshal(s)
		return string(b)
	}
	return norm(o) == norm(s)
}

// Vouched returns the results read back from the results file named file
// that are s's, and why each other was skipped ("file:line: reason"): a result's trial
// must be one s has, and its config the one s draws for that trial, so that
// a line written by hand (or by a sweep over another space) cannot rank.
func (s Space) Vouched(results []Result, file string) (kept []Result, skipped []string) {
	n := s.NumTrials()
	for _, res := range results {
		why := ""
		if res.Trial < 0 || res.Trial >= n {
			why = fmt.Sprintf("trial %d is not one of the sweep's %d", res.Trial, n)
		} else if want := s.Trial(res.Trial); !reflect.DeepEqual(res.Config, want) {
			why = fmt.Sprintf("trial %d's config is not the one the sweep's space draws for it (%s)", res.Trial, want.Describe())
		}
		if why != "" {
			skipped = append(skipped, fmt.Sprintf("%s:%d: %s", file, res.Line, why))
			continue
		}
		kept = append(kept, res)
	}
	return kept, skipped
}

// ReadDir reads a sweep directory's results, every shard's, keeping the
// lines its sweep.json's space vouches for (Untrusted) and saying why it
// skipped the others.
func ReadDir(dir string) (results []Result, skipped []string, err error) {
	b, err := fsutil.ReadFileLimit(filepath.Join(dir, "sweep.json"), 1<<20, "a sweep.json")
	if err != nil {
		return nil, nil, fmt.Errorf("%s: no readable sweep.json (%v): not a sweep directory", dir, err)
	}
	var s Space
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, nil, fmt.Errorf("%s/sweep.json: %v", dir, err)
	}
	s.SplitArchs() // a sweep.json written before arch had choices
	if err := s.Check(); err != nil {
		return nil, nil, fmt.Errorf("%s/sweep.json: %v", dir, err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "results*.jsonl"))
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("%s holds no results*.jsonl: not a sweep directory", dir)
	}
	for _, f := range files {
		rs, sk, err := ReadResults(f)
		if err != nil {
			return nil, nil, err
		}
		rs, untrusted := s.Vouched(rs, filepath.Base(f))
		results, skipped = append(results, rs...), append(append(skipped, sk...), untrusted...)
	}
	return results, skipped, nil
}
