package main

import (
	"encoding/json"
	"io"
	"strings"

	"github.com/nettrain/nettrain/internal/fsutil"
)

// Helpers the commands share: output checks, quoting, JSON.

// checkOutputs makes sure, before any training, that every output of a run
// can be created and reaches neither an input nor another output.
func checkOutputs(o trainOptions) error {
	outs := []fsutil.Output{{Name: "--out", Path: o.out}}
	if o.metrics != "" {
		m := fsutil.Output{Name: "--metrics", Path: o.metrics}
		if o.resume != "" {
			m.Also = []fsutil.Input{{Path: o.resume, What: "the checkpoint --resume reads"}}
		}
		outs = append(outs, m)
	}
	if o.plots != "" {
		outs = append(outs, fsutil.Output{Name: "--plots", Path: o.plots, Dir: true})
	}
	return fsutil.CheckOutputs(outs, fsutil.ProtectData(o.Data, "--data"))
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
