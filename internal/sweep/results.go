package sweep

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/fsutil"
)

// CheckpointName is the checkpoint of trial i at rung r, relative to the
// sweep directory: the only name a result may give, so that a results file
// written by someone else cannot point a report at another file.
func CheckpointName(trial, rung int) string {
	return filepath.Join("trials", fmt.Sprintf("%04d-rung%d.npz", trial, rung))
}

// Limits on what a results file may claim.
const (
	maxTrial   = 1 << 30
	maxRung    = 64
	maxLine    = 1 << 20 // bytes of one results line; ours are ~400
	maxResults = 1 << 22 // lines of one results file
)

// ReadResults reads a results file; a missing file is no results. Lines
// that are not a whole, valid result (the torn last line of a kill in the
// middle of a write, or lines that someone else wrote) are skipped, each
// with a reason in skipped ("results.jsonl:3: ..."), so their trials run
// again.
func ReadResults(path string) (results []Result, skipped []string, err error) {
	f, err := fsutil.OpenRegularNoFollow(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	for line := 1; ; line++ {
		b, long, err := readLine(br, maxLine)
		if err == io.EOF && len(b) == 0 && !long {
			break
		}
		if err != nil && err != io.EOF {
			return results, skipped, fmt.Errorf("%s: %w", path, err)
		}
		if line > maxResults {
			return results, skipped, fmt.Errorf("%s has more than %d lines; not a sweep's results file", path, maxResults)
		}
		var reason string
		var res Result
		switch {
		case long:
			reason = fmt.Sprintf("longer than %d bytes", maxLine)
		case len(bytes.TrimSpace(b)) == 0:
			continue
		default:
			res, reason = parseResult(b)
		}
		if reason != "" {
			skipped = append(skipped, fmt.Sprintf("%s:%d: %s", filepath.Base(path), line, reason))
			continue
		}
		res.Dir, res.Line = filepath.Dir(path), line
		results = append(results, res)
	}
	return results, skipped, nil
}

// readLine returns the next line of br without its newline, or, if it is
// longer than max, long = true after reading past it.
func readLine(br *bufio.Reader, max int) (line []byte, long bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > max+1 {
			long = true
			line = line[:0]
		} else {
			line = append(line, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimSuffix(line, []byte("\n")), long, err
	}
}

// parseResult decodes one results line and says what is wrong with it, if
// anything.
func parseResult(b []byte) (Result, string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil || fields == nil {
		return Result{}, "not a JSON object (a write torn by a kill?)"
	}
	for _, k := range []string{"trial", "rung", "config", "iters", "status"} {
		if _, ok := fields[k]; !ok {
			return Result{}, fmt.Sprintf("no %q", k)
		}
	}
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		return Result{}, fmt.Sprintf("a field of the wrong type (%v)", err)
	}
	finite01 := func(v float64) bool { return v >= 0 && v <= 1 }
	switch {
	case res.Trial < 0 || res.Trial >= maxTrial:
		return res, fmt.Sprintf("trial %d out of range", res.Trial)
	case res.Rung < 0 || res.Rung >= maxRung:
		return res, fmt.Sprintf("rung %d out of range", res.Rung)
	case res.Config.Index != res.Trial:
		return res, fmt.Sprintf("trial %d with the config of trial %d", res.Trial, res.Config.Index)
	case res.Iters < 0:
		return res, fmt.Sprintf("iters %d", res.Iters)
	case res.Status != StatusOK && res.Status != StatusDiverged && res.Status != StatusFailed:
		return res, fmt.Sprintf("status %q, want ok, diverged or failed", res.Status)
	case res.Status != StatusOK:
		return res, ""
	case res.Checkpoint != CheckpointName(res.Trial, res.Rung):
		return res, fmt.Sprintf("checkpoint %q, want %q", res.Checkpoint, CheckpointName(res.Trial, res.Rung))
	case !finite01(res.ValAcc):
		return res, fmt.Sprintf("val_acc %v outside 0..1", res.ValAcc)
	case res.TrainAcc != nil && !finite01(*res.TrainAcc):
		return res, fmt.Sprintf("train_acc %v outside 0..1", *res.TrainAcc)
	case math.IsNaN(res.FinalLoss) || math.IsInf(res.FinalLoss, 0) || res.Iters < 1:
		return res, fmt.Sprintf("final loss %v after %d iterations", res.FinalLoss, res.Iters)
	}
	return res, ""
}

// maxCheckpoint bounds the bytes of a trial's checkpoint: hidden 10,000 in
// float64 with optimizer state is under 1 GiB.
const maxCheckpoint = 2 << 30

// ReadCheckpoint reads the checkpoint of a result from its sweep directory
// and returns it parsed, with its bytes. It opens only the name the result
// must have (CheckpointName), refuses symlinks (the trials directory and the
// file) and anything not a regular file, and parses the whole file before
// anyone copies it: a sweep directory may be shared, and a file planted
// there must not be read or copied as a model.
func ReadCheckpoint(res Result) (*checkpoint.Checkpoint, []byte, error) {
	trials := filepath.Join(res.Dir, "trials")
	if st, err := os.Lstat(trials); err != nil || !st.IsDir() {
		if err == nil {
			err = fmt.Errorf("%s is not a directory (a symbolic link?)", trials)
		}
		return nil, nil, err
	}
	path := filepath.Join(res.Dir, CheckpointName(res.Trial, res.Rung))
	f, err := fsutil.OpenRegularNoFollow(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCheckpoint+1))
	if err != nil {
		return nil, nil, err
	}
	if len(b) > maxCheckpoint {
		return nil, nil, fmt.Errorf("%s is more than %d bytes, not a trial's checkpoint", path, maxCheckpoint)
	}
	ck, err := checkpoint.Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return ck, b, nil
}

// SaveBest writes the checkpoint of the first result in ranked whose
// checkpoint reads as one (ReadCheckpoint) to dst, atomically, and returns
// that result and checkpoint; warn hears of each one passed over.
func SaveBest(dst string, ranked []Result, warn func(string)) (Result, *checkpoint.Checkpoint, error) {
	for _, res := range ranked {
		ck, b, err := ReadCheckpoint(res)
		if err != nil {
			if warn != nil {
				warn(fmt.Sprintf("trial %d's checkpoint is unusable, taking the next best: %v", res.Trial, err))
			}
			continue
		}
		if dst != "" {
			if err := fsutil.WriteAtomic(dst, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
				return res, nil, err
			}
		}
		return res, ck, nil
	}
	return Result{}, nil, errors.New("no trial has a usable checkpoint")
}
