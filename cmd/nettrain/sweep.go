package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/fsutil"
	"github.com/nettrain/nettrain/internal/preprocess"
	trainrun "github.com/nettrain/nettrain/internal/run"
	"github.com/nettrain/nettrain/internal/setting"
	"github.com/nettrain/nettrain/internal/sweep"
)

type sweepOptions struct {
	data     string
	params   map[string]*string // flag text per hyperparameter
	mode     string
	trials   int
	seed     uint64
	halving  bool
	eta      int
	minIters int
	numTest  int
	fixed    trainrun.Config // the settings every trial shares (run.Schema's neither searched nor the sweep's own)
	config   string
	workers  int
	threads  int // shared by the workers
	out      string
	shard    string
	force    bool
	test     bool
	quiet    bool
	json     bool
	changed  func(string) bool
}

func newSweepCmd(e env) *cobra.Command {
	o := sweepOptions{params: map[string]*string{}}
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Search hidden size, learning rate, regularisation and training length",
		Long: `Search the hyperparameters in parallel, by grid or at random, optionally
with successive halving, and keep the best model.

Each hyperparameter takes a list (--hidden 100,200,500) or a range
(--lr 1e-4:1e-2, log-uniform for lr and reg, uniform otherwise; lo:hi:n gives
n points for --mode grid). Trial i is drawn from the sweep seed and i alone,
so a sweep is the same whatever --workers is.

Every finished trial is appended to DIR/results.jsonl (and synced) at once;
running the same command again resumes: finished trials are skipped, so a
killed sweep loses only the trials in flight. A diverged trial is marked and
stops early; it never fails the sweep. At the end: the top 10 by validation
accuracy, the best model in DIR/best.npz, and with --test its test accuracy.

--halving starts every trial on --halving-min-iters iterations and promotes
the best 1/--halving-eta to eta times as many, up to --iters, each promoted
trial carrying on from its checkpoint.

--shard i/n runs trials i, i+n, ...; without it, a Slurm job array
(SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job
(JOB_COMPLETION_INDEX with NETTRAIN_SHARDS) chooses the shard. Shards write
their own results files; 'nettrain sweep report DIR' merges them.`,
		Example: `  nettrain sweep --hidden 100,200,500 --lr 1e-4:3e-3 --reg 1e-3:1 --trials 30
  nettrain sweep --mode grid --hidden 100,200 --lr 1e-4:1e-2:5 --reg 0.01,0.1 --iters 2000
  nettrain sweep --config sweep.yaml --halving --test --json
  nettrain sweep report sweep/`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.changed = cmd.Flags().Changed
			return runSweep(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr(), e)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", "", dataFlagHelp)
	for _, p := range []struct{ name, def, help string }{
		{"hidden", "100,200,500", "hidden units: list or range; a choice of several hidden layers joins their widths with dashes (500,1000-500)"},
		{"lr", "1e-4:3e-3", "learning rate: list or range (log-uniform)"},
		{"reg", "1e-3:1", "L2 strength: list or range (log-uniform)"},
		{"iters", "4000", "iterations: list or range"},
		{"batch", "200", "minibatch size: list or range"},
		{"lr-decay", "0.95", "learning-rate factor per epoch: list or range"},
	} {
		o.params[strings.ReplaceAll(p.name, "-", "_")] = f.String(p.name, p.def, p.help)
	}
	f.StringVar(&o.mode, "mode", "random", "grid (every combination of the lists) or random")
	f.IntVar(&o.trials, "trials", 20, "trials in random mode")
	f.Uint64Var(&o.seed, "seed", 0, "sweep seed: draws the trials and their own seeds")
	f.BoolVar(&o.halving, "halving", false, "successive halving: promote the best trials to longer budgets")
	f.IntVar(&o.eta, "halving-eta", 3, "halving: keep the best 1/eta at each rung; budgets grow eta-fold")
	f.IntVar(&o.minIters, "halving-min-iters", 0, "halving: iterations of the first rung (default the largest --iters / eta^2)")
	f.IntVar(&o.numTest, "num-test", cifar.DefaultNumTest, "test images for --test (10000 is all)")
	o.fixed = trainrun.Defaults()
	bindSettings(f, &o.fixed, func(s trainrun.Setting) bool { return !s.Search && !s.Own })
	f.StringVar(&o.config, "config", "", "read the search space from a YAML or JSON file (flags set on the command line win)")
	f.IntVar(&o.workers, "workers", runtime.NumCPU(), "trials run in parallel")
	addThreadsFlag(f, &o.threads)
	f.StringVarP(&o.out, "out", "o", "sweep", "sweep directory")
	f.StringVar(&o.shard, "shard", "", "run shard i of n (i/n, 0-based)")
	f.BoolVar(&o.force, "force", false, "start over in --out even if it holds a sweep over another space")
	f.BoolVar(&o.test, "test", false, "evaluate the best model on the test split, once")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress or log output on stderr")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	cmd.AddCommand(newSweepReportCmd(e))
	return cmd
}

// space builds the search space: the defaults, then --config, then the
// flags set on the command line.
func (o sweepOptions) space() (sweep.Space, error) {
	s := sweep.Space{Mode: o.mode, Trials: o.trials, Seed: o.seed, Params: map[string]sweep.Param{}}
	s.SetFixed(o.fixed)
	for _, name := range sweep.Names {
		p, err := sweep.ParseParam(strings.ReplaceAll(name, "_", "-"), *o.params[name])
		if err != nil {
			return s, err
		}
		s.Params[name] = p
	}
	if o.config != "" {
		if err := sweep.ReadConfig(o.config, &s); err != nil {
			return s, err
		}
		// Flags given on the command line win over the file.
		for _, name := range sweep.Names {
			if o.changed(strings.ReplaceAll(name, "_", "-")) {
				p, _ := sweep.ParseParam(name, *o.params[name])
				s.Params[name] = p
			}
		}
		for flag, set := range map[string]func(){
			"mode": func() { s.Mode = o.mode }, "trials": func() { s.Trials = o.trials }, "seed": func() { s.Seed = o.seed },
		} {
			if o.changed(flag) {
				set()
			}
		}
		fixed := s.Fixed()
		for _, st := range trainrun.Schema {
			if !st.Search && !st.Own && o.changed(st.Flag()) {
				fixed.Take(st.Key, o.fixed)
			}
		}
		s.SetFixed(fixed)
	}
	// A conv net's sweep searches the rest: --hidden's default list is the
	// MLP's (one value stands for it, as the trials' record has a field).
	s.SplitArchs()
	if s.Archs != nil && !o.changed("hidden") {
		if def, _ := sweep.ParseParam("hidden", "100,200,500"); reflect.DeepEqual(s.Params["hidden"], def) {
			s.Params["hidden"], _ = sweep.ParseParam("hidden", "50")
		}
	}
	if o.halving || o.changed("halving-eta") || o.changed("halving-min-iters") {
		h := sweep.Halving{Eta: o.eta, MinIters: o.minIters}
		if s.Halving != nil && !o.changed("halving-eta") {
			h.Eta = s.Halving.Eta
		}
		if s.Halving != nil && !o.changed("halving-min-iters") {
			h.MinIters = s.Halving.MinIters
		}
		s.Halving = &h
	}
	if h := s.Halving; h != nil && h.MinIters == 0 && h.Eta >= 2 {
		it := s.Params["iters"]
		top := it.Hi
		for _, v := range it.Values {
			top = max(top, v)
		}
		h.MinIters = max(1, int(top)/(h.Eta*h.Eta))
	}
	return s, s.Check()
}

func runSweep(ctx context.Context, o sweepOptions, stdout, stderr io.Writer, e env) error {
	space, err := o.space()
	if err != nil {
		return o.fromFile(err)
	}
	shard, shards, err := sweep.ParseShard(o.shard, e.getenv)
	if err != nil {
		return usageError{err}
	}
	if err := checkThreads(o.threads); err != nil {
		return err
	}
	if err := space.CheckRun(o.workers, o.numTest); err != nil {
		if _, ok := setting.Key(err); ok {
			return usageError{err}
		}
		return err
	}
	e.holdMemory(space.Needs(o.workers))
	dataPath := dataDir(o.data, e)
	if err := fsutil.CheckOutputs([]fsutil.Output{{Name: "--out", Path: o.out, Dir: true}}, fsutil.ProtectData(dataPath, "--data")); err != nil {
		return err
	}
	useThreads(o.threads, 1) // for the preprocessing, before the workers start
	ds, sp, data, err := o.prepare(e, dataPath, space, stderr)
	if err != nil {
		return err
	}
	useThreads(o.threads, o.workers)
	o.logf(stderr, "sweep: %d trials (%s), shard %d of %d, %d workers, results in %s\n", space.NumTrials(), space.Mode, shard, shards, o.workers, o.out)
	r := &sweep.Runner{Space: space, Dir: o.out, Data: data,
		Workers: o.workers, Shard: shard, Shards: shards, Force: o.force, NumTest: o.numTest, Version: version(), Classes: ds.Classes}
	r.Warn = func(msg string) { fmt.Fprintf(stderr, "nettrain: warning: %s\n", msg) }
	progress := sweepProgress{o: o, stderr: stderr, terminal: !o.quiet && e.isTerminal(stderr), best: -1}
	r.Progress = progress.update
	start := time.Now()
	e.stopCleanly() // trials stop at their next iteration; results so far are kept
	results, err := r.Run(ctx)
	progress.close()
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %d results saved in %s; run the same command again to resume", errInterrupted, len(results), o.out)
	}
	if err != nil {
		return err
	}
	o.logf(stderr, "sweep: done in %.1fs\n", time.Since(start).Seconds())
	if err := writeSweepPlot(o.out, results); err != nil {
		return err
	}
	out := ""
	if shards == 1 {
		out = filepath.Join(o.out, "best.npz")
	}
	return report(results, out, o.test, sp.Test, o.json, stdout, stderr, shards > 1)
}

func (o sweepOptions) logf(stderr io.Writer, format string, args ...any) {
	if !o.quiet {
		fmt.Fprintf(stderr, format, args...)
	}
}

// prepare loads the data, splits it and preprocesses it as the space says
// (a ZCA fit is shared by every trial).
func (o sweepOptions) prepare(e env, dataPath string, space sweep.Space, stderr io.Writer) (*cifar.Dataset, cifar.Splits, preprocess.Data, error) {
	ds, err := e.loader.Load(dataPath)
	if err != nil {
		return nil, cifar.Splits{}, preprocess.Data{}, err
	}
	sp, err := ds.Split(cifar.Sizes{Train: space.NumTrain, Val: space.NumVal, Test: o.numTest})
	if err != nil {
		return nil, sp, preprocess.Data{}, usageError{err}
	}
	t0 := time.Now()
	data, err := preprocess.Prepare(sp.Train, sp.Val, space.Options.Preprocess, space.Options.ZCAEps, space.Precision)
	if err == nil && data.Whiten != nil {
		o.logf(stderr, "sweep: fitted ZCA whitening on %d images (%.1fs)\n", sp.Train.N(), time.Since(t0).Seconds())
	}
	return ds, sp, data, err
}

// sweepProgress shows a sweep's progress: a bar on a terminal, else a line
// per result.
type sweepProgress struct {
	o        sweepOptions
	stderr   io.Writer
	terminal bool
	bar      *progressbar.ProgressBar
	best     float64
}

func (p *sweepProgress) update(res sweep.Result, done, total int) {
	if res.Status == sweep.StatusOK {
		p.best = max(p.best, res.ValAcc)
	}
	if p.terminal {
		if p.bar == nil {
			p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(p.stderr), progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond))
		}
		p.bar.ChangeMax(total)
		p.bar.Describe(fmt.Sprintf("best val_acc %.4f", p.best))
		p.bar.Set(done)
		return
	}
	if res.Trial >= 0 {
		what := fmt.Sprintf("val_acc %.4f", res.ValAcc)
		if res.Status != sweep.StatusOK {
			what = res.Status
		}
		p.o.logf(p.stderr, "trial %d rung %d (%d iters): %s  [%s]  %.1fs  (%d/%d done, best %.4f)\n",
			res.Trial, res.Rung, res.Iters, what, res.Config.Describe(), res.Seconds, done, total, p.best)
	}
}

func (p *sweepProgress) close() {
	if p.bar != nil {
		p.bar.Exit()
		fmt.Fprintln(p.stderr)
	}
}

// report ranks results, copies the best trial's checkpoint to out (if not
// empty), scores it on test once if asked, and prints the top 10.
func report(results []sweep.Result, out string, test bool, testSet cifar.Set, asJSON bool, stdout, stderr io.Writer, partial bool) error {
	var ts *cifar.Set
	if test {
		ts = &testSet
	}
	sum, err := sweep.Summarize(results, out, ts, func(msg string) { fmt.Fprintf(stderr, "nettrain: warning: %s\n", msg) })
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, sum)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "rank\ttrial\tval_acc\ttrain_acc\tloss\titers\thyperparameters\n")
	for i, res := range sum.Top {
		train := "-" // skip_train_score
		if res.TrainAcc != nil {
			train = fmt.Sprintf("%.4f", *res.TrainAcc)
		}
		fmt.Fprintf(tw, "%d\t%d\t%.4f\t%s\t%.4f\t%d\t%s\n", i+1, res.Trial, res.ValAcc, train, res.FinalLoss, res.Iters, res.Config.Describe())
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d trials, %d ok, %d diverged or failed\n", sum.Trials, sum.OK, sum.Failed)
	if sum.Best != nil {
		if sum.Model != "" {
			fmt.Fprintf(stdout, "best: trial %d, val_acc %.4f, saved to %s\n", sum.Best.Trial, sum.Best.ValAcc, sum.Model)
		}
		if sum.TestAcc != nil {
			fmt.Fprintf(stdout, "test_acc %.4f (%d images)\n", *sum.TestAcc, testSet.N())
		}
	}
	if partial {
		fmt.Fprintf(stdout, "this was one shard; 'nettrain sweep report DIR' merges every shard's results\n")
	}
	if sum.Trials > 0 && sum.OK == 0 {
		return fmt.Errorf("all %d trials diverged or failed (their errors are in the results file); try a smaller --lr or --std", sum.Trials)
	}
	return nil
}

func newSweepReportCmd(e env) *cobra.Command {
	var out, data string
	var test, asJSON bool
	var numTest int
	cmd := &cobra.Command{
		Use:   "report DIR...",
		Short: "Merge the results of sweep shards into one ranking and best model",
		Args:  usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, dirs []string) error {
			var all []sweep.Result
			for _, dir := range dirs {
				rs, skipped, err := sweep.ReadDir(dir)
				if err != nil {
					return err
				}
				for _, s := range skipped {
					fmt.Fprintf(cmd.ErrOrStderr(), "nettrain: warning: skipped %s\n", filepath.Join(dir, s))
				}
				all = append(all, rs...)
			}
			if out == "" {
				out = filepath.Join(dirs[0], "best.npz")
			}
			if err := writeSweepPlot(filepath.Dir(out), all); err != nil {
				return err
			}
			var testSet cifar.Set
			if test {
				ds, err := e.loader.Load(dataDir(data, e))
				if err != nil {
					return err
				}
				if numTest < 1 || numTest > ds.Test.N() {
					return usageErrorf("--num-test is %d, want 1..%d", numTest, ds.Test.N())
				}
				testSet = ds.Test.Slice(0, numTest)
			}
			return report(all, out, test, testSet, asJSON, cmd.OutOrStdout(), cmd.ErrOrStderr(), false)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "out", "o", "", "where to save the best model (default DIR/best.npz of the first DIR)")
	f.BoolVar(&test, "test", false, "evaluate the best model on the test split")
	f.StringVar(&data, "data", "", dataFlagHelp)
	f.IntVar(&numTest, "num-test", cifar.DefaultNumTest, "test images for --test")
	f.BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	return cmd
}

// fromFile turns an error about a setting that came from --config, not from
// a flag, into an error about the file (exit 1), naming the setting as the
// file does; others are usage errors.
func (o sweepOptions) fromFile(err error) error {
	msg := err.Error()
	if o.config == "" {
		return usageError{err}
	}
	if strings.HasPrefix(msg, "{config}:") { // cannot be read: the flag is wrong
		return usageError{err}
	}
	if rest, ok := strings.CutPrefix(msg, "{config}"); ok { // what the file says is wrong
		return errors.New("--config" + setting.Plain(rest))
	}
	key, ok := setting.Key(err)
	if !ok || o.changed(strings.ReplaceAll(key, "_", "-")) {
		return usageError{err}
	}
	return fmt.Errorf("--config %s: %s", o.config, setting.Plain(msg))
}
