package main

import (
	"encoding/json"
	"github.com/nettrain/nettrain/internal/fsutil"
	"os"

	trainrun "github.com/nettrain/nettrain/internal/run"
)

// The run's configuration, state, results and checkpoint metadata live in
// internal/run; these are their names here.
type (
	runConfig  = trainrun.Config
	runResults = trainrun.Results
	runMeta    = trainrun.Meta
)

// jsonLines writes JSON Lines to a file, each line in one write. A write
// that fails (a full disk) is cut off again, so that the file ends with a
// whole line: the run up to the failure.
type jsonLines struct {
	f    *os.File
	good int64 // size of the file after the last whole line
}

// openJSONLines creates path, or with appendTo opens it to append. A torn
// last line left by a crash is completed with a newline first, so that the
// next line starts on its own.
func openJSONLines(path string, appendTo bool) (*jsonLines, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendTo {
		flags = os.O_RDWR | os.O_CREATE
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, err
	}
	j := &jsonLines{f: f}
	if appendTo {
		if j.good, err = fsutil.EndLine(f); err != nil {
			f.Close()
			return nil, err
		}
	}
	return j, nil
}

func (j *jsonLines) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err := j.f.WriteAt(b, j.good); err != nil {
		j.f.Truncate(j.good) // no torn line
		return err
	}
	j.good += int64(len(b))
	return nil
}

func (j *jsonLines) close() error {
	return j.f.Close()
}
