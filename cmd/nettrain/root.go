package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/nettrain/nettrain/internal/blasimpl"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/gemm"
	trainrun "github.com/nettrain/nettrain/internal/run"
	"github.com/nettrain/nettrain/internal/setting"
)

// Exit codes, as docs/DESIGN.md.
const (
	exitOK          = 0
	exitFailure     = 1   // a run failed: bad data, diverged, failed check
	exitUsage       = 2   // the command line is wrong
	exitInterrupted = 130 // stopped by SIGINT or SIGTERM (128 + SIGINT)
)

// env is what the commands take from the process, so tests can swap it.
type env struct {
	getenv     func(string) string
	isTerminal func(w io.Writer) bool
	loader     cifar.Loader      // tests read tiny fixture batches
	sums       map[string]string // expected batch MD5s; nil means the official ones

	// graceful is set by a command (stopCleanly) from the moment it stops
	// cleanly on a cancelled context with something worth keeping:
	// training, a sweep, a download. Before that (loading data, fitting
	// ZCA, a gradient check) main's signal handler quits at once: there is
	// nothing to save, and those stages do not watch the context. Nil in
	// tests, which cancel the context themselves.
	graceful *atomic.Bool

	// limitMemory holds the process to what a run was checked to need
	// (run.LimitMemory). Tests, which run many commands in one process,
	// leave it nil.
	limitMemory func(needs []trainrun.Need, times int)
}

// holdMemory holds the process to needs times times, where e does.
func (e env) holdMemory(needs []trainrun.Need, times int) {
	if e.limitMemory != nil {
		e.limitMemory(needs, times)
	}
}

// stopCleanly says that from now on a signal should cancel the context
// and let the command save what it has, not quit at once.
func (e env) stopCleanly() {
	if e.graceful != nil {
		e.graceful.Store(true)
	}
}

func defaultEnv() env {
	return env{
		graceful:    new(atomic.Bool),
		limitMemory: trainrun.LimitMemory,
		getenv:      os.Getenv,
		isTerminal: func(w io.Writer) bool {
			f, ok := w.(*os.File)
			return ok && term.IsTerminal(int(f.Fd()))
		},
	}
}

// errInterrupted is wrapped by the error of a run stopped by a signal: exit 130.
var errInterrupted = errors.New("interrupted")

// usageError marks an error in the command line: exit 2, usage shown.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// usageArgs marks the errors of a positional-argument check as usage errors.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func newRootCmd(e env) *cobra.Command {
	root := &cobra.Command{
		Use:   "nettrain",
		Short: "Train and evaluate the cs231n two-layer network on CIFAR-10",
		Long: `nettrain trains the two-layer fully connected network of Stanford cs231n
assignment 1 (affine, ReLU, affine, softmax, L2), or a deeper one as in
assignment 2 (train --hidden 1000,500), on CIFAR-10 with minibatch SGD,
evaluates saved models, checks the gradients, searches hyperparameters (in
parallel, or on a cluster), fetches the data and draws the pictures.

Results go to stdout, progress and logs to stderr. Exit status: 0 success,
1 failed run, 2 usage error, 130 interrupted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
		Args:          usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newTrainCmd(e),
		newEvalCmd(e),
		newPredictCmd(e),
		newGradcheckCmd(e),
		newDataCmd(e),
		newSweepCmd(e),
		newPlotCmd(),
		newExportCmd(),
		newVersionCmd(),
	)
	return root
}

// run executes the root command with args and returns the exit code. It owns
// error printing: one "nettrain: <error>" line, and the usage text of the
// command only for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, e env) int {
	blasimpl.Use()
	if err := gemm.EnvError(); err != nil {
		fmt.Fprintf(stderr, "nettrain: warning: %v\n", err)
	}
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "nettrain: %s\n", flagText(err.Error()))
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	case errors.Is(err, errInterrupted) || errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitFailure
}

// dataDir resolves the dataset directory: --data, else $NETTRAIN_DATA, else
// ./data/cifar-10-batches-bin.
func dataDir(flag string, e env) string {
	if flag != "" {
		return flag
	}
	if v := e.getenv("NETTRAIN_DATA"); v != "" {
		return v
	}
	return "data/cifar-10-batches-bin"
}

// dataFlagHelp is --data's help in every command: the schema's.
var dataFlagHelp = func() string { s, _ := trainrun.Lookup("data"); return s.Help }()

// settingRef is how the packages below cmd name a setting in their errors
// ({lr_decay}; package setting).
var settingRef = setting.Ref

// flagText writes the settings named in msg as the flags that set them:
// {lr_decay} becomes --lr-decay.
func flagText(msg string) string {
	return settingRef.ReplaceAllStringFunc(msg, func(ref string) string {
		return "--" + strings.ReplaceAll(ref[1:len(ref)-1], "_", "-")
	})
}
