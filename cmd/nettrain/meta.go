package main

import (
	"bufio"
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

// jsonLines writes JSON Lines to a file, flushing each line as it is written.
type jsonLines struct {
	f *os.File
	w *bufio.Writer
}

// openJSONLines creates path, or with appendTo opens it to append.
func openJSONLines(path string, appendTo bool) (*jsonLines, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendTo {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, err
	}
	return &jsonLines{f: f, w: bufio.NewWriter(f)}, nil
}

func (j *jsonLines) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	j.w.Write(b)
	j.w.WriteByte('\n')
	return j.w.Flush()
}

func (j *jsonLines) close() error {
	if err := j.w.Flush(); err != nil {
		j.f.Close()
		return err
	}
	return j.f.Close()
}
