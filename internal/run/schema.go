package run

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/preprocess"
	"github.com/nettrain/nettrain/internal/setting"
	"github.com/nettrain/nettrain/internal/sgd"
)

// Kind is the type of a setting's value.
type Kind int

// Kinds.
const (
	Float  Kind = iota // a finite float64 in [Min, Max] (or open at an end)
	Int                // an int in [Min, Max]
	Uint               // a uint64 (a seed): every value is valid
	Bool               // true or false
	Choice             // one of Choices
	Layers             // hidden layer widths: Hidden
	Path               // a file or directory name
	Arch               // a net as layers.ParseArch reads it, or "" for the MLP of hidden
)

// Setting describes one setting of a run, once: from this description come
// the flags of train and sweep (cmd/nettrain binds them from Schema), the
// keys of sweep files and of the checkpoint's config (Config's JSON tags,
// which Schema is checked against), a sweep's choices, and Validate, which
// every path goes through before any work starts. Adding a setting is a
// field of Config, an entry here, and the code that uses it.
type Setting struct {
	Key     string // as config files and checkpoints name it; the flag is --key with dashes
	Kind    Kind
	Default string // as a flag would take it
	Help    string

	Min, Max         float64 // Float and Int
	MinOpen, MaxOpen bool    // Float: the end itself is out of range
	Choices          []string
	Hint             string // added to an out-of-range error: what to do instead

	// Search: a sweep searches it, with a list or a range of values; the
	// other settings of a sweep are one value for every trial, or (Own)
	// the sweep's own meaning of the name (its seed, its data).
	Search bool
	Own    bool
}

// Flag returns the command-line name of the setting: "lr-decay".
func (s Setting) Flag() string { return strings.ReplaceAll(s.Key, "_", "-") }

// maxIters bounds every count of iterations: at a microsecond an iteration
// it is more than ten days, and it keeps every product of counts in an int.
const maxIters = 1_000_000_000

// Schema is every setting of a run, in the order of Config.
var Schema = []Setting{
	{Key: "data", Kind: Path, Help: "CIFAR-10: binary or Python directory, or its .tar.gz (default $NETTRAIN_DATA, else ./data/cifar-10-batches-bin)", Own: true},
	{Key: "hidden", Kind: Layers, Default: "50", Search: true,
		Help: "hidden layer widths: 50 is cs231n's two-layer net, 1000,500 a net of two hidden layers"},
	{Key: "lr", Kind: Float, Default: "1e-4", Min: 0, MinOpen: true, Max: 1e6, Search: true, Help: "learning rate"},
	{Key: "lr_decay", Kind: Float, Default: "0.95", Min: 0, MinOpen: true, Max: 1, Search: true, Help: "learning-rate factor after each epoch, in (0, 1]"},
	{Key: "reg", Kind: Float, Default: "0.25", Min: 0, Max: 1e6, Search: true, Help: "L2 regularisation strength"},
	{Key: "iters", Kind: Int, Default: "1000", Min: 1, Max: maxIters, Search: true, Help: "iterations (minibatches)"},
	{Key: "batch", Kind: Int, Default: "200", Min: 1, Max: 1 << 24, Search: true, Help: "minibatch size"},
	{Key: "std", Kind: Float, Default: "1e-4", Min: 0, MinOpen: true, Max: 1e6, Help: "standard deviation of the initial weights"},
	{Key: "seed", Kind: Uint, Default: "0", Own: true, Help: "random seed (weights and minibatches)"},
	{Key: "num_train", Kind: Int, Default: strconv.Itoa(cifar.DefaultNumTrain), Min: 1, Max: cifar.TrainBatches * cifar.RecordsPerBatch,
		Help: "training images: the first N of the training batches"},
	{Key: "num_val", Kind: Int, Default: strconv.Itoa(cifar.DefaultNumVal), Min: 1, Max: cifar.TrainBatches * cifar.RecordsPerBatch,
		Help: "validation images: the next N after the training images"},
	{Key: "num_test", Kind: Int, Default: strconv.Itoa(cifar.DefaultNumTest), Min: 1, Max: cifar.RecordsPerBatch, Own: true,
		Help: "test images: the first N of test_batch.bin (10000 is all)"},
	{Key: "precision", Kind: Choice, Default: string(model.Float32), Choices: []string{string(model.Float32), string(model.Float64)},
		Help: "arithmetic of training and scoring: float32 (fast) or float64 (reference)"},

	{Key: "optimizer", Kind: Choice, Default: string(sgd.SGD), Choices: []string{string(sgd.SGD), string(sgd.Momentum), string(sgd.Nesterov), string(sgd.Adam), string(sgd.Muon)},
		Help: "update rule: sgd, momentum, nesterov or adam (cs231n's optim.py), or muon ({arch}: the filters step along their orthogonalised momentum, renormalised; the rest as nesterov)"},
	{Key: "momentum", Kind: Float, Default: "0.9", Min: 0, MinOpen: true, Max: 1, MaxOpen: true,
		Help: "momentum of {optimizer} momentum and nesterov, and of muon's other parameters, in (0, 1) (momentum 0 is {optimizer} sgd)", Hint: "momentum 0 is {optimizer} sgd"},
	{Key: "schedule", Kind: Choice, Default: string(sgd.Step), Choices: []string{string(sgd.Step), string(sgd.Cosine), string(sgd.Triangle), string(sgd.Linear)},
		Help: "learning-rate schedule: step (times {lr_decay} each epoch), cosine (to 0 over {iters}), triangle (airbench's: 0.2 {lr} up to {lr} at 23% of {iters}, down to 0.07 {lr}) or linear ({lr} down to 0 over {iters})"},
	{Key: "dropout", Kind: Float, Default: "0", Min: 0, Max: 1, MaxOpen: true, Help: "probability of dropping a hidden unit in training (inverted dropout), in [0, 1)"},
	{Key: "flip", Kind: Bool, Default: "false", Help: "mirror training images left to right at random"},
	{Key: "preprocess", Kind: Choice, Default: string(preprocess.Mean), Choices: []string{string(preprocess.Mean), string(preprocess.Channel), string(preprocess.ZCA)},
		Help: "input preprocessing: mean (subtract the mean image), channel (per-channel standardisation) or zca (whitening fitted on the train split)"},
	{Key: "zca_eps", Kind: Float, Default: "0.1", Min: 0, MinOpen: true, Max: 100, Help: "ZCA regulariser, in units of pixels scaled to [0, 1]"},
	{Key: "keep_best", Kind: Bool, Default: "false", Help: "keep the weights of the epoch with the best validation accuracy"},
	{Key: "patience", Kind: Int, Default: "0", Min: 0, Max: maxIters, Help: "stop after this many epochs without a better validation accuracy (0: never)"},
	{Key: "weight_decay", Kind: Float, Default: "0", Min: 0, Max: 1e6, Help: "decoupled weight decay (AdamW, SGDW): each step also shrinks every W by lr times this"},
	{Key: "translate", Kind: Int, Default: "0", Min: 0, Max: cifar.Width - 1, Help: "shift each training image by up to this many pixels each way, at random (0: never)"},
	{Key: "translate_pad", Kind: Choice, Default: string(sgd.PadZero), Choices: []string{string(sgd.PadZero), string(sgd.PadReflect)},
		Help: "what {translate} brings in at the border: zero (the mean image) or reflect"},
	{Key: "warmup", Kind: Int, Default: "0", Min: 0, Max: maxIters, Help: "raise the learning rate linearly over this many first iterations (0: no warm-up)"},
	{Key: "label_smoothing", Kind: Float, Default: "0", Min: 0, Max: 1, MaxOpen: true, Help: "train on targets (1-e) onehot + e/10 instead of onehot, e in [0, 1)"},
	{Key: "norm", Kind: Choice, Default: string(model.NoNorm), Choices: []string{string(model.NoNorm), string(model.BatchNorm), string(model.LayerNorm)},
		Help: "normalise after each hidden affine layer: batch or layer (cs231n's; default none)"},
	{Key: "norm_track", Kind: Float, Default: "0.1", Min: 0, MinOpen: true, Max: 1,
		Help: "{norm} batch: weight of each batch's mean and variance in the running ones that evaluation uses, in (0, 1]: running = (1-m) running + m batch (PyTorch's momentum; cs231n's momentum is 1 minus it)"},
	{Key: "arch", Kind: Arch,
		Help: "a convolutional net instead of the MLP of {hidden}: a preset (cs231n-convnet, airbench, airbench-half) or layers such as conv32k7-relu-maxpool2-fc100-relu-fc10 (see the README); a sweep takes choices A,B"},

	{Key: "init", Kind: Choice, Default: InitNormal, Choices: []string{InitNormal, InitUniform, InitDirac},
		Help: "{arch}'s initial weights: normal ({std} N(0,1)), uniform (PyTorch's default, +-1/sqrt(fan-in)) or dirac (uniform, with each convolution's first filters the identity, as airbench)"},
	{Key: "whiten", Kind: Bool, Default: "false",
		Help: "{arch}'s first convolution whitens the 2x2 patches of 5,000 training images (airbench's; conv24k2), untrained"},
	{Key: "whiten_bias_epochs", Kind: Int, Default: "3", Min: 0, Max: maxIters, Help: "{whiten}: epochs that train the whitening layer's bias, then it is frozen"},
	{Key: "bias_lr", Kind: Float, Default: "1", Min: 0, MinOpen: true, Max: 1e6, Help: "multiplies the learning rate of {arch}'s batch norm betas (airbench: 64)"},
	{Key: "shuffle", Kind: Bool, Default: "false", Help: "each epoch, every training image once, in a new order (default: minibatches drawn with replacement)"},
	{Key: "alternate_flip", Kind: Bool, Default: "false", Help: "{flip} each image in every other epoch, its first flip drawn, instead of drawing each time (airbench's)"},
	{Key: "lookahead", Kind: Int, Default: "0", Min: 0, Max: maxIters,
		Help: "{arch}: every this many iterations after 30% of the run, move the weights to their moving average (airbench: 5; 0: off)"},
	{Key: "tta", Kind: Bool, Default: "false", Help: "score the final model on the mirror image and 1-pixel translations too, averaging the scores (airbench's test-time augmentation)"},
	{Key: "muon_lr", Kind: Float, Default: "0.24", Min: 0, MinOpen: true, Max: 1e6,
		Help: "{optimizer} muon: the filters' learning rate, scheduled as {lr} (airbench94_muon: 0.24 at batch 2000)"},
	{Key: "muon_momentum", Kind: Float, Default: "0.6", Min: 0, Max: 1, MaxOpen: true,
		Help: "{optimizer} muon: the filters' Nesterov momentum, in [0, 1) ({momentum} is the other parameters')"},
	{Key: "skip_train_score", Kind: Bool, Default: "false",
		Help: "do not score the final model on the whole training split (train_acc is left out; for a conv net it costs a third of an epoch)"},
	{Key: "matmul", Kind: Choice, Default: MatmulFloat32, Choices: []string{MatmulFloat32, MatmulBF16},
		Help: "{arch}: the arithmetic of the convolutions' products in training: float32, or bf16 (inputs rounded to bfloat16, sums in float32, as airbench's GPU runs them; faster on a CPU with AVX512_BF16, the same bits at float32's speed without); scoring stays float32"},
}

// The arithmetic of a conv net's training products (matmul).
const (
	MatmulFloat32 = "float32"
	MatmulBF16    = "bf16"
)

// Initialisations of a conv net (init).
const (
	InitNormal  = "normal"
	InitUniform = "uniform"
	InitDirac   = "dirac"
)

// Lookup returns the setting of key.
func Lookup(key string) (Setting, bool) {
	i := slices.IndexFunc(Schema, func(s Setting) bool { return s.Key == key })
	if i < 0 {
		return Setting{}, false
	}
	return Schema[i], true
}

// Defaults returns the config of every setting at its default: cs231n's
// notebook run.
func Defaults() Config {
	var c Config
	for _, s := range Schema {
		if s.Kind == Path {
			continue
		}
		if err := c.Set(s.Key, s.Default); err != nil {
			panic(fmt.Sprintf("run: the default of %s: %v", s.Key, err)) // the table is wrong
		}
	}
	return c
}

// Field returns the addressable field of c that holds setting key.
func (c *Config) Field(key string) (reflect.Value, bool) {
	var field reflect.Value
	found := eachField(reflect.ValueOf(c).Elem(), func(k string, v reflect.Value) bool {
		if k == key {
			field = v
		}
		return k == key
	})
	return field, found
}

// Take sets setting key of c to its value in from: a flag given over a
// file's or a checkpoint's value.
func (c *Config) Take(key string, from Config) {
	dst, ok := c.Field(key)
	src, _ := from.Field(key)
	if !ok {
		panic(fmt.Sprintf("run: no setting %q", key))
	}
	dst.Set(src)
}

// Set parses text as the value of setting key, as a flag takes it, and
// stores it in c. It checks the syntax, not the range: Validate does.
func (c *Config) Set(key, text string) error {
	s, ok := Lookup(key)
	f, ok2 := c.Field(key)
	if !ok || !ok2 {
		return fmt.Errorf("run: no setting %q", key)
	}
	text = strings.TrimSpace(text)
	switch s.Kind {
	case Float:
		v, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return setting.Errorf(key, "{%s} %q is not a number", key, text)
		}
		f.SetFloat(v)
	case Int:
		v, err := strconv.ParseInt(text, 10, 64)
		if err != nil || v != int64(int(v)) {
			return setting.Errorf(key, "{%s} %q is not a whole number that fits", key, text)
		}
		f.SetInt(v)
	case Uint:
		v, err := strconv.ParseUint(text, 10, 64)
		if err != nil {
			return setting.Errorf(key, "{%s} %q is not a whole number from 0 to %d", key, text, uint64(math.MaxUint64))
		}
		f.SetUint(v)
	case Bool:
		v, err := strconv.ParseBool(text)
		if err != nil {
			return setting.Errorf(key, "{%s} %q is not true or false", key, text)
		}
		f.SetBool(v)
	case Layers:
		h, err := ParseHidden(text)
		if err != nil {
			return err
		}
		f.Set(reflect.ValueOf(h))
	case Choice, Path, Arch:
		f.SetString(text)
	}
	return nil
}

// Value returns the value of setting key in c as text, as Set takes it.
func (c Config) Value(key string) string {
	f, ok := c.Field(key)
	if !ok {
		return ""
	}
	switch v := f.Interface().(type) {
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case Hidden:
		return v.String()
	}
	return fmt.Sprint(f.Interface())
}

// Validate returns an error naming the first setting of c that is out of
// range, an *setting.Error, or nil: every float finite and in range, every
// count bounded, every choice one of its choices, the splits within the
// dataset. Train, a sweep (its fixed settings, each searched value, and each
// trial it draws), a resumed checkpoint's config and gradcheck all go
// through it before any work starts. Zero values stand for nothing: a
// config read from an older checkpoint is Normalized first.
func (c Config) Validate() error {
	for _, s := range Schema {
		f, _ := c.Field(s.Key)
		if err := s.check(f); err != nil {
			return err
		}
	}
	if err := (cifar.Sizes{Train: c.NumTrain, Val: c.NumVal, Test: c.NumTest}).Check(cifar.TrainBatches*cifar.RecordsPerBatch, cifar.RecordsPerBatch); err != nil {
		return err
	}
	if d := Defaults(); c.Optimizer != sgd.Muon && (c.MuonLR != d.MuonLR || c.MuonMomentum != d.MuonMomentum) {
		key := "muon_lr"
		if c.MuonLR == d.MuonLR {
			key = "muon_momentum"
		}
		return setting.Errorf(key, "{%s} is {optimizer} muon's: add {optimizer} muon, or leave it out", key)
	}
	if c.Arch != "" {
		return c.checkConv()
	}
	return c.checkMLP()
}

// CheckValue checks one value of a numeric setting, as Validate would: a
// sweep's searched values and the ends of its ranges.
func CheckValue(key string, v float64) error {
	s, ok := Lookup(key)
	if !ok {
		return fmt.Errorf("run: no setting %q", key)
	}
	switch s.Kind {
	case Float:
		return s.check(reflect.ValueOf(v))
	case Int, Layers:
		if v != math.Trunc(v) && s.Kind == Layers {
			return setting.Errorf(key, "{%s} takes %v, want a whole number", key, v)
		}
		lo, hi := s.Min, s.Max
		if s.Kind == Layers {
			lo, hi = 1, MaxWidth
		}
		if !(v >= lo && v <= hi) {
			return setting.Errorf(key, "{%s} takes %v, want %s", key, v, span(lo, hi, false, false))
		}
		return nil
	}
	return setting.Errorf(key, "{%s} is not a number", key)
}

// check returns an error unless v, the value of s, is in range.
func (s Setting) check(v reflect.Value) error {
	err := s.checkRange(v)
	if err != nil && s.Hint != "" {
		return setting.Errorf(s.Key, "%s (%s)", err, s.Hint)
	}
	return err
}

func (s Setting) checkRange(v reflect.Value) error {
	switch s.Kind {
	case Float:
		x := v.Float()
		lo := x > s.Min || !s.MinOpen && x == s.Min
		hi := x < s.Max || !s.MaxOpen && x == s.Max
		if !(lo && hi) { // NaN fails both
			return setting.Errorf(s.Key, "{%s} is %v, want %s", s.Key, x, span(s.Min, s.Max, s.MinOpen, s.MaxOpen))
		}
		if x == 0 && math.Signbit(x) {
			return setting.Errorf(s.Key, "{%s} is -0, want %s", s.Key, span(s.Min, s.Max, s.MinOpen, s.MaxOpen))
		}
	case Int:
		if x := v.Int(); !(float64(x) >= s.Min && float64(x) <= s.Max) {
			return setting.Errorf(s.Key, "{%s} is %d, want %s", s.Key, x, span(s.Min, s.Max, false, false))
		}
	case Choice:
		if x := v.String(); !slices.Contains(s.Choices, x) {
			return setting.Errorf(s.Key, "{%s} is %q, want %s", s.Key, x, or(s.Choices))
		}
	case Layers:
		return v.Interface().(Hidden).Check()
	case Arch:
		if a := v.String(); strings.Contains(a, ",") {
			return setting.Errorf(s.Key, "{%s} %q is several nets: a run trains one (choices are a sweep's)", s.Key, a)
		} else if a != "" {
			if _, err := ConvNet(a); err != nil {
				return setting.Errorf(s.Key, "{%s} %v", s.Key, err)
			}
		}
	}
	return nil
}

// span describes a range: "a number in (0, 1]", "a number from 1 to 64".
func span(lo, hi float64, loOpen, hiOpen bool) string {
	if !loOpen && !hiOpen {
		return fmt.Sprintf("a number from %s to %s", num(lo), num(hi))
	}
	l, r := "[", "]"
	if loOpen {
		l = "("
	}
	if hiOpen {
		r = ")"
	}
	return fmt.Sprintf("a number in %s%s, %s%s", l, num(lo), num(hi), r)
}

// num writes v as a whole number when it is one (1048576, not 1.048576e+06).
func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// or joins choices as "a, b or c"; an empty choice is none.
func or(choices []string) string {
	var names []string
	none := ""
	for _, c := range choices {
		if c == "" {
			none = " (or none)"
			continue
		}
		names = append(names, c)
	}
	if len(names) == 1 {
		return names[0] + none
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1] + none
}
