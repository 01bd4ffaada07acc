package run

import (
	"fmt"
	"slices"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/setting"
)

// UsageError is an error of the command line rather than of a file: a
// setting given that contradicts the checkpoint, a resume with nothing to
// train.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error { return &UsageError{fmt.Errorf(format, args...)} }

// resumeFree are the settings a resumed run may change: where the data is,
// how long to train, how much of the test set to score.
var resumeFree = map[string]bool{"data": true, "iters": true, "num_test": true}

// MergeResume returns the config of a run resumed from the checkpoint ck
// read from path, and its metadata: the run's own settings, except that
// data, iters and num_test come from given when set there (set reports
// which keys were set). A set key that contradicts the checkpoint is a
// *UsageError naming both values, as are a run that patience stopped and a
// run with nothing left to train; a checkpoint without nettrain's training
// state, whose layers disagree with its config, or whose config does not
// validate is an error about the file. A setting the user set and gave an
// invalid value is a *UsageError wrapping the *setting.Error.
func MergeResume(ck *checkpoint.Checkpoint, path string, given Config, set func(key string) bool) (Config, Meta, error) {
	meta, err := ParseMeta(ck.Meta)
	if _, bad := setting.Key(err); bad {
		return Config{}, meta, fmt.Errorf("{resume} %s: its config is invalid: %s (a damaged checkpoint, or not written by nettrain train)", path, err)
	}
	if err != nil {
		return Config{}, meta, fmt.Errorf("{resume} %s: the checkpoint has no training state (not written by nettrain train?); nothing to resume", path)
	}
	c := meta.Config // the values older versions left out filled in (ParseMeta)
	if ck.Conv != nil {
		if got := ck.Conv.Arch.String(); !HoldsArch(ck.Conv, c.Arch, true) {
			return Config{}, meta, fmt.Errorf("{resume} %s: the weights are of the arch %s, its config says {arch} %q", path, got, c.Arch)
		}
	} else if c.Arch != "" {
		return Config{}, meta, fmt.Errorf("{resume} %s: its config says {arch} %s, but the weights are a fully connected net's", path, c.Arch)
	} else if got, want := ck.Net.Sizes(), c.Hidden.Sizes(cifar.D, cifar.Classes); !slices.Equal(got, want) {
		return Config{}, meta, fmt.Errorf("{resume} %s: the weights have layers %s, its config says %s ({hidden} %s)", path,
			Hidden(got).Dashed(), Hidden(want).Dashed(), c.Hidden)
	}
	// Every setting but the free ones must be the run's own.
	mine := given.Normalized()
	for _, key := range Keys() {
		if resumeFree[key] || !set(key) {
			continue
		}
		if got, want := mine.Value(key), c.Value(key); got != want {
			return Config{}, meta, usagef("{%s} %s contradicts {resume} %s, which was trained with {%s} %s (drop the flag, or train afresh)", key, got, path, key, want)
		}
	}
	for key := range resumeFree {
		if set(key) {
			c.Take(key, given)
		}
	}
	if err := c.Validate(); err != nil {
		if key, _ := setting.Key(err); set(key) {
			return Config{}, meta, &UsageError{err}
		}
		return Config{}, meta, fmt.Errorf("{resume} %s: its config is invalid: %s (a damaged checkpoint, or not written by nettrain train)", path, err)
	}
	if meta.State.Stopped {
		return Config{}, meta, usagef("{resume} %s stopped early at iteration %d ({patience} %d: no better validation accuracy since epoch %d): the run is finished, nothing to train",
			path, meta.State.Iter, c.Patience, meta.State.BestEpoch)
	}
	if meta.State.Iter >= c.Iters {
		return Config{}, meta, usagef("{resume} %s has done %d of %d iterations: nothing to train (pass a larger {iters})", path, meta.State.Iter, c.Iters)
	}
	return c, meta, nil
}
