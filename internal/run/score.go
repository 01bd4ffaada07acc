package run

import (
	"fmt"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/model"
)

// ClassScore is one class's part of an Evaluation.
type ClassScore struct {
	Class    string  `json:"class"`
	N        int     `json:"n"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"`
}

// Evaluation is a model scored on one split, as eval --json prints it.
type Evaluation struct {
	Model     string       `json:"model"`
	Split     string       `json:"split"`
	N         int          `json:"n"`
	Accuracy  float64      `json:"accuracy"`
	PerClass  []ClassScore `json:"per_class"`
	Confusion [][]int      `json:"confusion"`     // [true][predicted]
	TTA       bool         `json:"tta,omitempty"` // scores averaged over the TTAViews
}

// Evaluate scores the checkpoint ck on set in precision ("" or float64:
// float64), with its accuracy per class (named by classes) and its
// confusion matrix; with tta (conv nets) over the TTAViews. Scores that
// are not finite are an error.
func Evaluate(ck *checkpoint.Checkpoint, set cifar.Set, classes []string, precision model.Precision, tta bool) (Evaluation, error) {
	c := ck.Classes()
	if len(classes) != c {
		return Evaluation{}, fmt.Errorf("the model has %d classes, the data %d", c, len(classes))
	}
	if tta && ck.Conv == nil {
		return Evaluation{}, fmt.Errorf("test-time augmentation ({tta}) is for convolutional nets so far; this model is the fully connected net")
	}
	pred := Predict(ck, set, precision, tta)
	if err := model.CheckFinite(pred); err != nil {
		return Evaluation{}, err
	}
	ev := Evaluation{N: set.N(), Accuracy: model.Accuracy(pred, set.Y), Confusion: make([][]int, c), TTA: tta}
	for i := range ev.Confusion {
		ev.Confusion[i] = make([]int, c)
	}
	for i, y := range set.Y {
		ev.Confusion[y][pred[i]]++
	}
	for k, name := range classes {
		cs := ClassScore{Class: name, Correct: ev.Confusion[k][k]}
		for _, v := range ev.Confusion[k] {
			cs.N += v
		}
		if cs.N > 0 {
			cs.Accuracy = float64(cs.Correct) / float64(cs.N)
		}
		ev.PerClass = append(ev.PerClass, cs)
	}
	return ev, nil
}
