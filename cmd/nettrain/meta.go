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
	Results  runResults  `json:"results"`
	Classes  []string    `json:"classes"`
	Epochs   []sgd.Epoch `json:"epochs"`
}

// jsonLines writes JSON Lines to a file, flushing each line as it is written.
type jsonLines struct {
	f *os.File
	w *bufio.Writer
}

func createJSONLines(path string) (*jsonLines, error) {
	f, err := os.Create(path)
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
