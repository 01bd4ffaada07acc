// Package run is what a training run is, apart from how it is started: its
// configuration (as a checkpoint and a sweep file record it), how far it
// got, its results, and the metadata stored beside the weights. nettrain
// train and each sweep trial write the same metadata, so eval, plot and
// train --resume take either.
package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/preprocess"
	"github.com/nettrain/nettrain/internal/setting"
	"github.com/nettrain/nettrain/internal/sgd"
)

// Config is a training run's configuration. It is stored in checkpoints
// and printed by train --json; its JSON keys are the settings' names.
type Config struct {
	Data     string  `json:"data"`
	Hidden   Hidden  `json:"hidden"`
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
	Precision model.Precision `json:"precision"`

	Options // beyond cs231n; its keys sit beside the others in JSON
}

// Options are the training options beyond cs231n's SGD (zero values: its
// behaviour): a run's, and every trial's of a sweep.
type Options struct {
	Optimizer      sgd.Optimizer     `json:"optimizer,omitempty" yaml:"optimizer"`
	Momentum       float64           `json:"momentum,omitempty" yaml:"momentum"`
	Schedule       sgd.Schedule      `json:"schedule,omitempty" yaml:"schedule"`
	Dropout        float64           `json:"dropout,omitempty" yaml:"dropout"`
	Flip           bool              `json:"flip,omitempty" yaml:"flip"`
	Preprocess     preprocess.Method `json:"preprocess,omitempty" yaml:"preprocess"`
	ZCAEps         float64           `json:"zca_eps,omitempty" yaml:"zca_eps"`
	KeepBest       bool              `json:"keep_best,omitempty" yaml:"keep_best"`
	Patience       int               `json:"patience,omitempty" yaml:"patience"`
	WeightDecay    float64           `json:"weight_decay,omitempty" yaml:"weight_decay"`
	Translate      int               `json:"translate,omitempty" yaml:"translate"`
	TranslatePad   sgd.Pad           `json:"translate_pad,omitempty" yaml:"translate_pad"`
	Warmup         int               `json:"warmup,omitempty" yaml:"warmup"`
	LabelSmoothing float64           `json:"label_smoothing,omitempty" yaml:"label_smoothing"`
	Norm           model.Norm        `json:"norm,omitempty" yaml:"norm"`
	NormTrack      float64           `json:"norm_track,omitempty" yaml:"norm_track"`
	Arch           string            `json:"arch,omitempty" yaml:"arch"`

	// airbench's recipe.
	Init             string  `json:"init,omitempty" yaml:"init"`
	Whiten           bool    `json:"whiten,omitempty" yaml:"whiten"`
	WhitenBiasEpochs int     `json:"whiten_bias_epochs,omitempty" yaml:"whiten_bias_epochs"`
	BiasLR           float64 `json:"bias_lr,omitempty" yaml:"bias_lr"`
	Shuffle          bool    `json:"shuffle,omitempty" yaml:"shuffle"`
	AlternateFlip    bool    `json:"alternate_flip,omitempty" yaml:"alternate_flip"`
	Lookahead        int     `json:"lookahead,omitempty" yaml:"lookahead"`
	TTA              bool    `json:"tta,omitempty" yaml:"tta"`
	MuonLR           float64 `json:"muon_lr,omitempty" yaml:"muon_lr"`
	MuonMomentum     float64 `json:"muon_momentum,omitempty" yaml:"muon_momentum"`
	SkipTrainScore   bool    `json:"skip_train_score,omitempty" yaml:"skip_train_score"`
	// Matmul is the arithmetic of a conv net's training products:
	// float32 (also "") or bf16 (sgd.Config.BF16).
	Matmul string `json:"matmul,omitempty" yaml:"matmul"`
}

// SGD returns the training loop's part of c.
func (c Config) SGD() sgd.Config {
	return sgd.Config{Iters: c.Iters, Batch: c.Batch, LR: c.LR, LRDecay: c.LRDecay, Reg: c.Reg, Seed: c.Seed, Precision: c.Precision,
		Optimizer: c.Optimizer, Momentum: c.Momentum, Schedule: c.Schedule, Dropout: c.Dropout, Flip: c.Flip,
		KeepBest: c.KeepBest, Patience: c.Patience, WeightDecay: c.WeightDecay,
		Translate: c.Translate, TranslatePad: c.TranslatePad, Warmup: c.Warmup, LabelSmoothing: c.LabelSmoothing, NormTrack: c.NormTrack,
		Shuffle: c.Shuffle, AlternateFlip: c.AlternateFlip, Lookahead: c.Lookahead, BiasLR: c.BiasLR, Whiten: c.Whiten, WhitenBiasEpochs: c.WhitenBiasEpochs,
		MuonLR: c.MuonLR, MuonMomentum: c.MuonMomentum, BF16: c.Matmul == MatmulBF16}
}

// State is how far a run got: what train --resume needs besides the
// weights and the config.
type State struct {
	Iter        int     `json:"iter"`        // iterations done
	Complete    bool    `json:"complete"`    // Iter == Config.Iters, or stopped early
	Interrupted bool    `json:"interrupted"` // stopped by a signal
	Stopped     bool    `json:"stopped_early,omitempty"`
	BestValAcc  float64 `json:"best_val_acc,omitempty"`
	BestEpoch   int     `json:"best_epoch,omitempty"`
	SinceBest   int     `json:"since_best,omitempty"`
}

// From sets the early-stopping part of s from the loop's state.
func (s *State) From(st sgd.State) {
	s.BestValAcc, s.BestEpoch, s.SinceBest = st.BestValAcc, st.BestEpoch, st.SinceBest
}

// Results are a finished run's numbers.
type Results struct {
	FinalLoss float64  `json:"final_loss"`
	TrainAcc  *float64 `json:"train_acc,omitempty"` // on the whole train split; nil with skip_train_score
	ValAcc    float64  `json:"val_acc"`
	TestAcc   *float64 `json:"test_acc,omitempty"`
	Iters     int      `json:"iters"`
	Seconds   float64  `json:"seconds"`
	// TTA: the validation and test accuracies average the scores of the
	// TTAViews (tta).
	TTA bool `json:"tta,omitempty"`
}

// Trial says which trial and rung of a sweep a checkpoint is.
type Trial struct {
	Trial int `json:"trial"`
	Rung  int `json:"rung"`
}

// Meta is the JSON text stored in a checkpoint next to the weights.
type Meta struct {
	Nettrain string      `json:"nettrain,omitempty"` // version that wrote it
	Config   Config      `json:"config"`
	State    State       `json:"state"`
	Results  *Results    `json:"results,omitempty"` // of a finished run
	Classes  []string    `json:"classes,omitempty"`
	Epochs   []sgd.Epoch `json:"epochs,omitempty"`
	Sweep    *Trial      `json:"sweep,omitempty"` // a sweep trial's
}

// Marshal returns m as the JSON a checkpoint stores.
func (m Meta) Marshal() []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("run: metadata does not marshal: %v", err)) // plain fields only
	}
	return b
}

// ReadMeta reads a checkpoint's metadata; ok is false when there is none
// or it is not nettrain's (a numpy checkpoint, another program's).
func ReadMeta(raw json.RawMessage) (m Meta, ok bool) {
	m, err := ParseMeta(raw)
	return m, err == nil
}

// ParseMeta is ReadMeta with the reason a checkpoint's metadata cannot be
// read: none, not JSON, or a setting that does not fit its type (a
// *setting.Error naming it). A key the config lacks has the value it stood
// for when older versions left it out (Normalized); a key it holds is taken
// as it is, for Validate to judge: "momentum": 0 is momentum 0.
func ParseMeta(raw json.RawMessage) (Meta, error) {
	if raw == nil {
		return Meta{}, errors.New("no metadata")
	}
	m := Meta{Config: Config{}.Normalized()}
	if err := json.Unmarshal(raw, &m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if strings.HasPrefix(te.Field, "config.") {
				key := te.Field[strings.LastIndex(te.Field, ".")+1:]
				return Meta{}, setting.Errorf(key, "{%s} is %s, which does not fit", key, te.Value)
			}
		}
		return Meta{}, err
	}
	if len(m.Config.Hidden) == 0 {
		return Meta{}, errors.New("no config")
	}
	return m, nil
}

// Checkpoint assembles what a run saves: saved, the weights as eval takes
// them (Saved of the trained net, which the caller has already scored; nil
// folds trained here), the mean image, the metadata, and the state that
// train --resume needs to carry on exactly (stateArrays). Train's final
// save, its saves at a signal and every --save-every, and each sweep
// trial's all come from here.
func Checkpoint(saved, trained *model.Net, data preprocess.Data, cfg sgd.Config, st sgd.State, meta Meta) *checkpoint.Checkpoint {
	if saved == nil {
		saved = Saved(trained, data)
	}
	return &checkpoint.Checkpoint{Net: saved, Mean: data.Mean, Meta: meta.Marshal(), Extra: stateArrays(trained, data, cfg, st)}
}

// Saved returns the net as a checkpoint holds it for eval: batch
// normalisation folded into the affine layers (model.FoldNorm), then the
// preprocessing into W1 (data.Fold), so that eval and numpy need nothing but
// the weights and the mean image; layer normalisation stays, as gamma and
// beta arrays.
func Saved(trained *model.Net, data preprocess.Data) *model.Net {
	return data.Fold(trained.FoldNorm())
}
