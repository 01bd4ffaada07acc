package run

import (
	"bufio"
	"encoding/json"
	"fmt"

	"github.com/nettrain/nettrain/internal/fsutil"
	"github.com/nettrain/nettrain/internal/sgd"
)

// A run's metrics file (train --metrics) is JSON Lines, one event a line,
// flushed as it happens (docs/DESIGN.md). These are its events, in the
// order of their fields on the line.
const (
	EventStart       = "start"       // StartEvent: a run begins
	EventResume      = "resume"      // StartEvent: a resumed run goes on
	EventIter        = "iter"        // IterEvent: each iteration
	EventEpoch       = "epoch"       // EpochEvent: each epoch's end
	EventCheckpoint  = "checkpoint"  // SavedEvent: a snapshot saved (--save-every)
	EventInterrupted = "interrupted" // SavedEvent: saved at a signal
	EventEnd         = "end"         // EndEvent: the results of a finished run
)

// StartEvent opens a run's (or a resumed run's) part of the file.
type StartEvent struct {
	Event  string `json:"event"`
	Iter   int    `json:"iter"` // iterations done before
	Config Config `json:"config"`
}

// IterEvent is one iteration's loss.
type IterEvent struct {
	Event string  `json:"event"`
	Iter  int     `json:"iter"`
	Loss  float64 `json:"loss"`
}

// EpochEvent is one epoch's record.
type EpochEvent struct {
	Event string `json:"event"`
	sgd.Epoch
}

// SavedEvent says the model was saved at iteration Iter.
type SavedEvent struct {
	Event string `json:"event"`
	Iter  int    `json:"iter"`
	Model string `json:"model"`
}

// EndEvent is a finished run's results.
type EndEvent struct {
	Event string `json:"event"`
	Results
	Model string `json:"model"`
}

// ReadMetrics reads the loss of every iteration and the epoch records from
// a metrics file (a resumed run's file holds the whole run: an iteration a
// resume redid replaces the one before). A last line that the file ends
// inside (a writer killed mid-line) is left out.
func ReadMetrics(path string) ([]float64, []sgd.Epoch, error) {
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	torn := false
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		var last [1]byte
		_, err := f.ReadAt(last[:], st.Size()-1)
		torn = err == nil && last[0] != '\n'
	}
	var losses []float64
	var epochs []sgd.Epoch
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20) // a metrics line is under 1 KB
	line := 0
	for sc.Scan() {
		line++
		var ev EpochEvent // every field the reader needs: iter, loss, and an epoch's
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			if torn && !sc.Scan() && sc.Err() == nil {
				break // the last line, torn: the run up to it
			}
			return nil, nil, fmt.Errorf("%s:%d: not a JSON object (%v); want the file train {metrics} writes", path, line, err)
		}
		switch ev.Event {
		case EventIter:
			if ev.Iter >= 1 && ev.Iter <= len(losses) {
				losses = losses[:ev.Iter-1]
			}
			losses = append(losses, ev.Loss)
		case EventEpoch:
			epochs = append(epochs, ev.Epoch)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s:%d: %v; want the file train {metrics} writes", path, line+1, err)
	}
	if len(losses) == 0 {
		return nil, nil, fmt.Errorf("%s has no iteration events; want the file train {metrics} writes", path)
	}
	return losses, epochs, nil
}
