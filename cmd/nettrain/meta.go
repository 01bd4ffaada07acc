package main

import (
	"encoding/json"
	"os"

	"github.com/nettrain/nettrain/internal/sgd"
)

// runConfig is a training run's configuration, as the flags gave it. It is
// stored in checkpoints and printed by --json.
type runConfig struct {
	Data     string  `json:"data"`
	Hidden   int     `json:"hidden"`
	LR       float64 `json:"lr"`
	LRDecay  float64 `json:"lr_decay"`
	Reg      float64 `json:"reg"`
	Iters    int     `json:"iters"`
	Batch    int     `json:"batch"`
	Std      float64 `json:"std"`
	Seed     uint64  `json:"seed"`
	NumTrain int     `json:"num_train"`
	NumVal   int     `json:"num_val"`
	NumTest  int     `json:"num_test"`
	// Precision of training and scoring: float32 or float64. Checkpoints
	// from before it existed, or from numpy, are scored in float64.
	Precision string `json:"precision"`

	// Beyond cs231n (zero values: its behaviour).
	Optimizer  string  `json:"optimizer,omitempty"`
	Momentum   float64 `json:"momentum,omitempty"`
	Schedule   string  `json:"schedule,omitempty"`
	Dropout    float64 `json:"dropout,omitempty"`
	Flip       bool    `json:"flip,omitempty"`
	Preprocess string  `json:"preprocess,omitempty"`
	ZCAEps     float64 `json:"zca_eps,omitempty"`
	KeepBest   bool    `json:"keep_best,omitempty"`
	Patience   int     `json:"patience,omitempty"`
}

// runResults are a finished run's numbers.
type runResults struct {
	FinalLoss float64  `json:"final_loss"`
	TrainAcc  float64  `json:"train_acc"` // on the whole train split
	ValAcc    float64  `json:"val_acc"`
	TestAcc   *float64 `json:"test_acc,omitempty"`
	Iters     int      `json:"iters"`
	Seconds   float64  `json:"seconds"`
}

// runMeta is the JSON text stored in a checkpoint next to the weights.
type runMeta struct {
	Nettrain string      `json:"nettrain"` // version that wrote it
	Config   runConfig   `json:"config"`
	State    runState    `json:"state"`
	Results  *runResults `json:"results,omitempty"` // of a finished run
	Classes  []string    `json:"classes"`
	Epochs   []sgd.Epoch `json:"epochs"`
}

// runState is how far a run got: what train --resume needs besides the
// weights and the config.
type runState struct {
	Iter        int     `json:"iter"`        // iterations done
	Complete    bool    `json:"complete"`    // Iter == Config.Iters, or stopped early
	Interrupted bool    `json:"interrupted"` // stopped by a signal
	Stopped     bool    `json:"stopped_early,omitempty"`
	BestValAcc  float64 `json:"best_val_acc,omitempty"`
	BestEpoch   int     `json:"best_epoch,omitempty"`
	SinceBest   int     `json:"since_best,omitempty"`
}

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
		st, err := f.Stat()
		if err == nil {
			j.good = st.Size()
			var last [1]byte
			if j.good > 0 {
				if _, err = f.ReadAt(last[:], j.good-1); err == nil && last[0] != '\n' {
					_, err = f.WriteAt([]byte{'\n'}, j.good)
					j.good++
				}
			}
		}
		if err != nil {
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
