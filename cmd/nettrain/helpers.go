package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nettrain/nettrain/internal/fsutil"
)

// Helpers the commands share: output checks, quoting, JSON.

// checkOutputs makes sure, before any training, that every output of a run
// can be created, is not a directory, and is neither an input (the data)
// nor another output: a collision there loses the dataset or the metrics.
func checkOutputs(o trainOptions) error {
	type output struct{ flag, path string }
	outs := []output{{"--out", o.out}}
	if o.metrics != "" {
		outs = append(outs, output{"--metrics", o.metrics})
	}
	data := dataProtected(o.Data)
	for i, a := range outs {
		if st, err := os.Stat(a.path); err == nil && st.IsDir() {
			return fmt.Errorf("%s %s is a directory; give a file name", a.flag, a.path)
		}
		dir := filepath.Dir(a.path)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("%s %s: directory %s does not exist", a.flag, a.path, dir)
		}
		if err := probeWrite(dir); err != nil {
			return fmt.Errorf("%s %s: cannot write in %s (%v)", a.flag, a.path, dir, err)
		}
		prot := data
		if o.resume != "" && a.flag != "--out" {
			prot.Files = append(slices.Clip(prot.Files), fsutil.Input{Path: o.resume, What: "the checkpoint --resume reads"})
		}
		if err := fsutil.CheckOutput(a.path, prot); err != nil {
			return fmt.Errorf("%s %s %v", a.flag, a.path, err)
		}
		for _, b := range outs[:i] {
			if samePath(a.path, b.path) {
				return fmt.Errorf("%s and %s are both %s; give them different files", b.flag, a.flag, a.path)
			}
		}
	}
	if o.plots != "" {
		if err := fsutil.CheckOutputDir(o.plots, data); err != nil {
			return fmt.Errorf("--plots %s %v", o.plots, err)
		}
		if err := os.MkdirAll(o.plots, 0o755); err != nil {
			return fmt.Errorf("--plots: %w", err)
		}
		if err := probeWrite(o.plots); err != nil {
			return fmt.Errorf("--plots %s: cannot write there (%v)", o.plots, err)
		}
	}
	return nil
}

// shellQuote quotes s for a shell command line when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:@+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// samePath reports whether a and b name the same file: the same existing
// file (through links), or the same cleaned absolute path.
func samePath(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	sa, ea := os.Stat(a)
	sb, eb := os.Stat(b)
	if ea == nil && eb == nil {
		return os.SameFile(sa, sb)
	}
	aa, _ := filepath.Abs(a)
	ab, _ := filepath.Abs(b)
	return aa == ab
}

// probeWrite makes sure a file can be created in dir, and leaves none.
func probeWrite(dir string) error {
	probe, err := os.CreateTemp(dir, ".nettrain-probe-*")
	if err != nil {
		return unwrapPath(err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// unwrapPath drops the *PathError's own naming of a path we name already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// dataProtected is what outputs must not reach of the data --data names: a
// directory of batches, or one archive.
func dataProtected(data string) fsutil.Protected {
	if st, err := os.Stat(data); err == nil && !st.IsDir() {
		return fsutil.Protected{Files: []fsutil.Input{{Path: data, What: "the training data, --data"}}}
	}
	return fsutil.Protected{Dirs: []string{data}}
}
