package sweep

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/fsutil"
	"github.com/nettrain/nettrain/internal/model"
	trainrun "github.com/nettrain/nettrain/internal/run"
	"github.com/nettrain/nettrain/internal/setting"
)

// Param is the values one hyperparameter may take: a list, or a range
// [Lo, Hi] sampled log-uniformly (Log) or uniformly, optionally with N
// evenly spaced points for grid search. Hidden, whose choices may be nets
// of several hidden layers, keeps a list with any such choice in Layers
// (Values nil); a list of one-layer choices stays in Values, as sweep
// files have always recorded it.
type Param struct {
	Values []float64 `json:"values,omitempty"`
	Layers [][]int   `json:"layers,omitempty"`
	Lo     float64   `json:"lo,omitempty"`
	Hi     float64   `json:"hi,omitempty"`
	N      int       `json:"n,omitempty"`
	Log    bool      `json:"log,omitempty"`
}

// IsRange reports whether p is a range rather than a list.
func (p Param) IsRange() bool { return p.Values == nil && p.Layers == nil }

// String is p in the flag syntax: "a,b,c" or "lo:hi" or "lo:hi:n", and for
// choices of layers "a,b-c" (b-c: two hidden layers).
func (p Param) String() string {
	if p.Layers != nil {
		s := make([]string, len(p.Layers))
		for i, h := range p.Layers {
			s[i] = trainrun.Hidden(h).Dashed()
		}
		return strings.Join(s, ",")
	}
	if !p.IsRange() {
		s := make([]string, len(p.Values))
		for i, v := range p.Values {
			s[i] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		return strings.Join(s, ",")
	}
	s := strconv.FormatFloat(p.Lo, 'g', -1, 64) + ":" + strconv.FormatFloat(p.Hi, 'g', -1, 64)
	if p.N > 0 {
		s += ":" + strconv.Itoa(p.N)
	}
	return s
}

// ParseParam parses "a,b,c" (a list), "lo:hi" (a range) or "lo:hi:n" (a
// range with n grid points). Ranges of lr and reg are log-uniform, others
// uniform; integer hyperparameters are rounded when drawn. A choice of
// hidden may be several layers joined by dashes: "500,1000-500" is one
// layer of 500 or two of 1000 and 500.
func ParseParam(name, s string) (Param, error) {
	s = strings.TrimSpace(s)
	if name == "hidden" && strings.Contains(s, "-") && !strings.Contains(s, ":") {
		return parseLayers(s)
	}
	bad := func(why string) (Param, error) {
		key := strings.ReplaceAll(name, "-", "_")
		return Param{}, setting.Errorf(key, "{%s} %q: %s; want a list such as 50,100,200 or a range lo:hi (or lo:hi:n for a grid)", key, s, why)
	}
	if s == "" {
		return bad("empty")
	}
	num := func(t string) (float64, error) {
		v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("%q is not a number", t)
		}
		return v, nil
	}
	if strings.Contains(s, ":") {
		parts := strings.Split(s, ":")
		if len(parts) > 3 {
			return bad("too many colons")
		}
		lo, err := num(parts[0])
		if err != nil {
			return bad(err.Error())
		}
		hi, err := num(parts[1])
		if err != nil {
			return bad(err.Error())
		}
		if !(lo < hi) {
			return bad("the range is empty (lo must be below hi)")
		}
		p := Param{Lo: lo, Hi: hi, Log: name == "lr" || name == "reg"}
		if p.Log && lo <= 0 {
			return bad("a log-uniform range needs lo > 0")
		}
		if len(parts) == 3 {
			n, err := strconv.Atoi(parts[2])
			if err != nil || n < 2 {
				return bad("n must be an integer >= 2")
			}
			p.N = n
		}
		return p, nil
	}
	var p Param
	for _, t := range strings.Split(s, ",") {
		v, err := num(t)
		if err != nil {
			return bad(err.Error())
		}
		p.Values = append(p.Values, v)
	}
	return p, nil
}

// parseLayers parses hidden's choices with at least one of several layers.
func parseLayers(s string) (Param, error) {
	var p Param
	deep := false
	for _, t := range strings.Split(s, ",") {
		h, err := trainrun.ParseHidden(strings.TrimSpace(t))
		if err != nil {
			return Param{}, setting.Errorf("hidden", "{hidden} %q: choice %q: %v; want choices such as 500,1000-500 (1000-500: two hidden layers)",
				s, t, strings.TrimPrefix(err.Error(), "{hidden} "))
		}
		deep = deep || len(h) > 1
		p.Layers = append(p.Layers, h)
	}
	if !deep { // "-" only as a sign: one-layer choices, as before
		for _, h := range p.Layers {
			p.Values = append(p.Values, float64(h[0]))
		}
		p.Layers = nil
	}
	return p, nil
}

// grid returns the points of p for grid search: for choices of layers,
// their indices.
func (p Param) grid() ([]float64, error) {
	if p.Layers != nil {
		idx := make([]float64, len(p.Layers))
		for i := range idx {
			idx[i] = float64(i)
		}
		return idx, nil
	}
	if !p.IsRange() {
		return p.Values, nil
	}
	if p.N == 0 {
		return nil, errors.New("a range needs a number of points (lo:hi:n) in grid mode")
	}
	out := make([]float64, p.N)
	for i := range out {
		t := float64(i) / float64(p.N-1)
		if p.Log {
			out[i] = math.Exp(math.Log(p.Lo) + t*(math.Log(p.Hi)-math.Log(p.Lo)))
		} else {
			out[i] = p.Lo + t*(p.Hi-p.Lo)
		}
	}
	out[0], out[p.N-1] = p.Lo, p.Hi // exactly the ends the user wrote
	return out, nil
}

// draw returns a random value of p: for choices of layers, an index.
func (p Param) draw(rng *rand.Rand) float64 {
	if p.Layers != nil {
		return float64(rng.IntN(len(p.Layers)))
	}
	if !p.IsRange() {
		return p.Values[rng.IntN(len(p.Values))]
	}
	u := rng.Float64()
	if p.Log {
		return math.Exp(math.Log(p.Lo) + u*(math.Log(p.Hi)-math.Log(p.Lo)))
	}
	return p.Lo + u*(p.Hi-p.Lo)
}

// Names are the searched hyperparameters, in the order trials draw them.
var Names = []string{"hidden", "lr", "reg", "iters", "batch", "lr_decay"}

// Space is what a sweep searches.
type Space struct {
	Mode   string           `json:"mode"`   // "grid" or "random"
	Trials int              `json:"trials"` // random mode
	Seed   uint64           `json:"seed"`
	Params map[string]Param `json:"params"` // by Names
	// Archs are the conv nets the trials choose from (--arch A,B), none
	// for the MLP of hidden. Options.Arch is empty in a checked space.
	Archs   []string `json:"archs,omitempty"`
	Halving *Halving `json:"halving,omitempty"`
	// Fixed for every trial.
	Std       float64         `json:"std"`
	NumTrain  int             `json:"num_train"`
	NumVal    int             `json:"num_val"`
	Precision model.Precision `json:"precision"`
	Options   Options         `json:"options"`
}

// Options are the training options beyond cs231n's SGD that every trial
// of a sweep shares: a run's.
type Options = trainrun.Options

// Halving is successive halving: every trial runs MinIters iterations;
// the best 1/Eta (by validation accuracy) go on to Eta times as many, and
// so on up to the iters of their config.
type Halving struct {
	Eta      int `json:"eta" yaml:"eta"`
	MinIters int `json:"min_iters" yaml:"min_iters"`
}

// Trial is one configuration drawn from a space.
type Trial struct {
	Index   int             `json:"trial"`
	Hidden  trainrun.Hidden `json:"hidden"` // one layer: a number, as before deeper nets
	LR      float64         `json:"lr"`
	Reg     float64         `json:"reg"`
	Iters   int             `json:"iters"`
	Batch   int             `json:"batch"`
	LRDecay float64         `json:"lr_decay"`
	Seed    uint64          `json:"seed"`           // of the trial's weights and minibatches
	Arch    string          `json:"arch,omitempty"` // the trial's conv net, one of the space's Archs
}

// Fixed returns the settings s gives every trial, with the searched ones
// at their defaults: a run's config to validate, and to build trials on.
func (s Space) Fixed() trainrun.Config {
	c := trainrun.Defaults()
	c.Std, c.NumTrain, c.NumVal, c.Precision, c.Options = s.Std, s.NumTrain, s.NumVal, s.Precision, s.Options
	return c
}

// SetFixed sets the settings s gives every trial from c.
func (s *Space) SetFixed(c trainrun.Config) {
	s.Std, s.NumTrain, s.NumVal, s.Precision, s.Options = c.Std, c.NumTrain, c.NumVal, c.Precision, c.Options
}

// Config returns trial t's run as train would record it, scored on numTest
// test images: the space's fixed settings and the trial's own.
func (s Space) Config(t Trial, numTest int) trainrun.Config {
	c := s.Fixed()
	c.Hidden, c.LR, c.LRDecay, c.Reg, c.Iters, c.Batch, c.Seed = t.Hidden, t.LR, t.LRDecay, t.Reg, t.Iters, t.Batch, t.Seed
	c.Arch = t.Arch
	c.NumTest = numTest
	return c
}

// Check validates s: its fixed settings as any run's (trainrun's Validate),
// each searched value and the ends of each range as that setting's.
func (s Space) Check() error {
	if s.Mode != "grid" && s.Mode != "random" {
		return setting.Errorf("mode", "{mode} is %q, want grid or random", s.Mode)
	}
	if s.Mode == "random" && (s.Trials < 1 || s.Trials > MaxTrials) {
		return setting.Errorf("trials", "{trials} is %d, want 1..%d (each trial is a training run)", s.Trials, MaxTrials)
	}
	if s.Options.Arch != "" {
		return fmt.Errorf("sweep: a space's arch %q is not split into its choices (SplitArchs)", s.Options.Arch)
	}
	if err := s.Fixed().Validate(); err != nil {
		return err
	}
	if len(s.Archs) > maxArchs {
		return setting.Errorf("arch", "{arch} has %d choices, want at most %d", len(s.Archs), maxArchs)
	}
	for i, a := range s.Archs {
		if a == "" {
			return setting.Errorf("arch", "{arch} %s has an empty choice", strings.Join(s.Archs, ","))
		}
		c := s.Fixed()
		c.Arch = a
		if err := c.Validate(); err != nil {
			return err
		}
		if slices.Contains(s.Archs[:i], a) {
			return setting.Errorf("arch", "{arch} names %s twice", a)
		}
	}
	if p := s.Params["hidden"]; s.Archs != nil && (p.IsRange() || len(p.Values)+len(p.Layers) != 1) {
		return setting.Errorf("hidden", "{hidden} is the fully connected net's; a sweep of {arch} %s searches the rest (drop {hidden})", strings.Join(s.Archs, ","))
	}
	for _, name := range Names {
		p, ok := s.Params[name]
		if !ok {
			return fmt.Errorf("no values for %s", name)
		}
		vals := p.Values
		if p.IsRange() {
			vals = []float64{p.Lo, p.Hi}
		}
		for _, v := range vals {
			if err := trainrun.CheckValue(name, v); err != nil {
				return err
			}
		}
		if p.Layers != nil && name != "hidden" {
			return setting.Errorf(name, "{%s} takes layers, which only hidden has", name)
		}
		for _, h := range p.Layers {
			if err := trainrun.Hidden(h).Check(); err != nil {
				return err
			}
		}
		if s.Mode == "grid" {
			if p.IsRange() && p.N > MaxTrials {
				return setting.Errorf(name, "{%s} %s: %d points, want at most %d", name, p, p.N, MaxTrials)
			}
			if _, err := p.grid(); err != nil {
				return setting.Errorf(name, "{%s} %s: %v", name, p, err)
			}
		}
	}
	if s.Mode == "grid" {
		n := 1
		for _, name := range Names {
			g, _ := s.Params[name].grid()
			if n > MaxTrials/len(g) {
				return fmt.Errorf("the grid has more than %d trials (each a training run); give fewer values", MaxTrials)
			}
			n *= len(g)
		}
	}
	if h := s.Halving; h != nil {
		if h.Eta < 2 || h.Eta > 1000 {
			return setting.Errorf("halving_eta", "{halving_eta} is %d, want 2 to 1000", h.Eta)
		}
		if top := int(s.Max("iters")); h.MinIters < 1 || h.MinIters > top {
			return setting.Errorf("halving_min_iters", "{halving_min_iters} is %d, want 1 to the largest {iters}, %d", h.MinIters, top)
		}
	}
	return nil
}

// maxArchs bounds the choices of arch: each is a net built to check it.
const maxArchs = 64

// SplitArchs moves the choices of arch in Options.Arch ("A,B", as --arch
// and a sweep file's arch give them) into Archs.
func (s *Space) SplitArchs() {
	if s.Options.Arch == "" {
		return
	}
	s.Archs = nil
	for _, a := range strings.Split(s.Options.Arch, ",") {
		s.Archs = append(s.Archs, strings.TrimSpace(a))
	}
	s.Options.Arch = ""
}

// MaxTrials bounds a sweep: a million training runs is more than any
// machine or cluster here runs, and more would only fill memory with
// their plans.
const MaxTrials = 1_000_000

// Max returns the largest value hyperparameter name takes in s.
func (s Space) Max(name string) float64 {
	p := s.Params[name]
	if p.IsRange() {
		return p.Hi
	}
	m := math.Inf(-1)
	for _, v := range p.Values {
		m = max(m, v)
	}
	return m
}

// Widest returns hidden layers at least as wide, layer by layer, as those
// of any trial of s: a bound for what a trial holds in memory.
func (s Space) Widest() trainrun.Hidden {
	p := s.Params["hidden"]
	if p.Layers == nil {
		return trainrun.Hidden{int(math.Round(s.Max("hidden")))}
	}
	var w trainrun.Hidden
	for _, h := range p.Layers {
		for i, v := range h {
			if i == len(w) {
				w = append(w, 0)
			}
			w[i] = max(w[i], v)
		}
	}
	return w
}

// NumTrials returns the number of trials: the grid's size, or Trials.
func (s Space) NumTrials() int {
	if s.Mode == "random" {
		return s.Trials
	}
	n := max(1, len(s.Archs))
	for _, name := range Names {
		g, _ := s.Params[name].grid()
		n *= len(g)
	}
	return n
}

// Trial returns trial i: in grid mode the i-th combination (the last
// hyperparameter varying fastest), in random mode a draw from a generator
// seeded by the sweep seed and i alone.
func (s Space) Trial(i int) Trial {
	v := map[string]float64{}
	arch := 0 // the index of the trial's arch, varying slowest in a grid
	if s.Mode == "grid" {
		k := i
		for j := len(Names) - 1; j >= 0; j-- {
			g, _ := s.Params[Names[j]].grid()
			v[Names[j]] = g[k%len(g)]
			k /= len(g)
		}
		arch = k
	} else {
		rng := rand.New(rand.NewPCG(s.Seed, uint64(i)))
		for _, name := range Names {
			v[name] = s.Params[name].draw(rng)
		}
		if len(s.Archs) > 1 { // drawn last: a sweep without choices draws as before
			arch = rng.IntN(len(s.Archs))
		}
	}
	hidden := trainrun.Hidden{int(math.Round(v["hidden"]))}
	if layers := s.Params["hidden"].Layers; layers != nil {
		hidden = slices.Clone(trainrun.Hidden(layers[int(v["hidden"])]))
	}
	t := Trial{
		Index: i, Hidden: hidden, LR: v["lr"], Reg: v["reg"],
		Iters: int(math.Round(v["iters"])), Batch: int(math.Round(v["batch"])), LRDecay: v["lr_decay"],
		Seed: s.Seed ^ (uint64(i)+1)*0x9e3779b97f4a7c15,
	}
	if s.Archs != nil {
		t.Arch = s.Archs[arch]
	}
	return t
}

// fileSpace is a --config file: each hyperparameter a number, a list or a
// range string, the rest as the flags.
type fileSpace struct {
	Mode      string          `yaml:"mode"`
	Trials    int             `yaml:"trials"`
	Seed      *uint64         `yaml:"seed"`
	Params    map[string]any  `yaml:",inline"`
	Halving   *Halving        `yaml:"halving"`
	Std       float64         `yaml:"std"`
	NumTrain  int             `yaml:"num_train"`
	NumVal    int             `yaml:"num_val"`
	Precision model.Precision `yaml:"precision"`
	Options   `yaml:",inline"`
}

// ReadConfig reads a space from a YAML or JSON file into s: what the file
// sets replaces s's values, and a key it does not know is an error.
func ReadConfig(path string, s *Space) error {
	b, err := fsutil.ReadFileLimit(path, 1<<20, "a sweep config")
	if err != nil {
		return fmt.Errorf("{config}: %w", err)
	}
	// The file's keys replace s's values, and only those: a key it sets to
	// 0 is 0 (and Check says whether that is in range), not a default.
	seed := s.Seed
	f := fileSpace{Mode: s.Mode, Trials: s.Trials, Seed: &seed, Halving: s.Halving, Std: s.Std, NumTrain: s.NumTrain,
		NumVal: s.NumVal, Precision: s.Precision, Options: s.Options}
	if err := yaml.Unmarshal(archList(b), &f); err != nil {
		if key := yamlKeyAt(b, err); key != "" {
			return fmt.Errorf("{config} %s: %s: %s", path, key, oneLine(err.Error()))
		}
		return fmt.Errorf("{config} %s: %s", path, oneLine(err.Error()))
	}
	if f.Seed == nil {
		return fmt.Errorf("{config} %s: seed is empty, want a whole number", path)
	}
	s.Mode, s.Trials, s.Seed, s.Halving = f.Mode, f.Trials, *f.Seed, f.Halving
	s.Std, s.NumTrain, s.NumVal, s.Precision, s.Options = f.Std, f.NumTrain, f.NumVal, f.Precision, f.Options
	known := map[string]bool{}
	for _, n := range Names {
		known[n] = true
	}
	for key, raw := range f.Params {
		name := strings.ReplaceAll(key, "-", "_")
		if !known[name] {
			return fmt.Errorf("{config} %s: unknown key %q (hyperparameters are %s)", path, key, strings.Join(Names, ", "))
		}
		var text string
		switch v := raw.(type) {
		case string:
			text = v
		case int, int64, uint64, float64:
			text = fmt.Sprint(v)
		case []any:
			parts := make([]string, len(v))
			for i, x := range v {
				if layers, ok := x.([]any); ok && name == "hidden" { // [[1000, 500], [500]]
					ls := make([]string, len(layers))
					for j, l := range layers {
						ls[j] = fmt.Sprint(l)
					}
					x = strings.Join(ls, "-")
				}
				parts[i] = fmt.Sprint(x)
			}
			text = strings.Join(parts, ",")
		default:
			return fmt.Errorf("{config} %s: %s is a %T, want a number, a list or a range string", path, key, raw)
		}
		p, err := ParseParam(name, text)
		if err != nil {
			return fmt.Errorf("{config} %s: %v", path, err)
		}
		s.Params[name] = p
	}
	return nil
}

// archList returns the YAML text b with a list of archs ("arch: [a, b]")
// written as the flag's "a,b", which Options holds until SplitArchs.
func archList(b []byte) []byte {
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return b
	}
	top := doc.Content[0].Content
	for i := 0; i+1 < len(top); i += 2 {
		v := top[i+1]
		if top[i].Value != "arch" || v.Kind != yaml.SequenceNode {
			continue
		}
		names := make([]string, len(v.Content))
		for j, a := range v.Content {
			if a.Kind != yaml.ScalarNode {
				return b // Unmarshal names the key
			}
			names[j] = a.Value
		}
		*v = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: strings.Join(names, ","), Line: v.Line, Column: v.Column}
		if out, err := yaml.Marshal(&doc); err == nil {
			return out
		}
	}
	return b
}

// oneLine joins the lines of a multi-line message (yaml's) into one.
func oneLine(msg string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", "; ")), " ")
}

// yamlKeyAt returns the top-level key of the YAML text b on the line that
// yaml's error err names, or "".
func yamlKeyAt(b []byte, err error) string {
	m := regexp.MustCompile(`line (\d+)`).FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	line, _ := strconv.Atoi(m[1])
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return ""
	}
	top := doc.Content[0].Content
	for i := 0; i+1 < len(top); i += 2 {
		if top[i].Line <= line && (i+2 >= len(top) || top[i+2].Line > line) {
			return top[i].Value
		}
	}
	return ""
}

// CheckRun refuses, before any work, a sweep of s that cannot run: splits
// that do not fit CIFAR-10, fewer than one worker, or the largest trial of
// the space, workers of them at once, over the memory there is.
func (s Space) CheckRun(workers, numTest int) error {
	sz := cifar.Sizes{Train: s.NumTrain, Val: s.NumVal, Test: numTest}
	if err := sz.Check(cifar.TrainBatches*cifar.RecordsPerBatch, cifar.RecordsPerBatch); err != nil {
		return err
	}
	if workers < 1 {
		return setting.Errorf("workers", "{workers} is %d, want at least 1", workers)
	}
	needs, times := s.Needs(workers)
	return trainrun.CheckMemory(needs, times, func(string) string { return ", the largest in the space" })
}

// Needs is what the largest trial of the space needs in memory
// (run.SweepNeeds), and how many trials run at once with workers.
func (s Space) Needs(workers int) ([]trainrun.Need, int) {
	largest := s.Fixed()
	largest.Hidden, largest.Batch, largest.Iters = s.Widest(), int(s.Max("batch")), int(s.Max("iters"))
	needs, most := trainrun.SweepNeeds(largest), 0.0
	for _, a := range s.Archs { // the arch that needs the most
		c := largest
		c.Arch = a
		n := trainrun.SweepNeeds(c)
		if total := trainrun.Total(n); total > most {
			needs, most = n, total
		}
	}
	return needs, min(workers, s.NumTrials())
}
