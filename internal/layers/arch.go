package layers

import (
	"fmt"
	"strconv"
	"strings"
)

// Spec is one layer of an Arch.
type Spec struct {
	Kind string // conv, maxpool, avgpool, gmaxpool, gavgpool, bn, relu, gelu, fc, dropout, scale, flatten
	N    int    // conv: output channels; fc: units
	K, S int    // conv, pools: kernel (window) and stride
	Pad  int    // conv: zero padding on each side
	Bias bool   // conv, fc
	// NoScale: batch norm's gamma stays 1, untrained (bnnoscale, airbench's).
	NoScale bool
	X       float64
	Text    string // as written, for errors and String
}

// Arch is a net as --arch describes it: its layers in order, ending in
// the class scores.
type Arch struct {
	Name   string // the preset's name, or "" for a written one
	Layers []Spec
}

// Presets are the nets --arch knows by name.
var Presets = map[string]string{
	// cs231n assignment 2's ThreeLayerConvNet at its defaults: 32 filters
	// of 7x7 (padding 3), ReLU, 2x2 max pool, affine 100, ReLU, affine 10.
	"cs231n-convnet": "conv32k7-relu-maxpool2-fc100-relu-fc10",
	// airbench94's net: a 2x2 convolution 3->24 without padding, GELU,
	// three blocks of conv3x3 - maxpool2 - batchnorm - GELU - conv3x3 -
	// batchnorm - GELU (64, 256, 256 channels), a 3x3 max pool, a linear
	// layer 256->10 without bias, times 1/9. Its batch norms learn no
	// scale (bnnoscale), as airbench's.
	"airbench": "conv24k2-gelu" +
		"-conv64k3nobias-maxpool2-bnnoscale-gelu-conv64k3nobias-bnnoscale-gelu" +
		"-conv256k3nobias-maxpool2-bnnoscale-gelu-conv256k3nobias-bnnoscale-gelu" +
		"-conv256k3nobias-maxpool2-bnnoscale-gelu-conv256k3nobias-bnnoscale-gelu" +
		"-maxpool3-fc10nobias-scale1/9",
	// airbench at half width (32, 128, 128 channels): a quarter of its
	// arithmetic, for the 10-minute run.
	"airbench-half": "conv24k2-gelu" +
		"-conv32k3nobias-maxpool2-bnnoscale-gelu-conv32k3nobias-bnnoscale-gelu" +
		"-conv128k3nobias-maxpool2-bnnoscale-gelu-conv128k3nobias-bnnoscale-gelu" +
		"-conv128k3nobias-maxpool2-bnnoscale-gelu-conv128k3nobias-bnnoscale-gelu" +
		"-maxpool3-fc10nobias-scale1/9",
}

// ArchSyntax is the grammar, for help and errors.
const ArchSyntax = `layers joined by "-": convFkK (F filters of KxK, stride 1, padding (K-1)/2; add sS, pP, nobias), ` +
	`maxpoolK and avgpoolK (KxK windows, stride K; add sS), gmaxpool, gavgpool (global), bn (bnnoscale: gamma fixed at 1), relu, gelu, ` +
	`fcM (M units; add nobias), dropoutP, scaleX (X or a fraction 1/9), flatten; or a preset: cs231n-convnet, airbench, airbench-half`

// kinds are the layer kinds, longest first where one is a prefix of another.
var kinds = []string{"gmaxpool", "gavgpool", "maxpool", "avgpool", "flatten", "dropout", "scale", "conv", "relu", "gelu", "bn", "fc"}

// ParseArch reads an --arch string (or a preset's name). An error names
// the layer by its position and text.
func ParseArch(s string) (Arch, error) {
	a := Arch{}
	if p, ok := Presets[s]; ok {
		a.Name, s = s, p
	}
	if strings.TrimSpace(s) == "" {
		return a, fmt.Errorf("is empty; want %s", ArchSyntax)
	}
	pos := 1
	for i, tok := range strings.Split(s, "-") {
		sp, err := parseSpec(tok)
		if err != nil {
			return a, fmt.Errorf("layer %d %q (character %d): %v", i+1, tok, pos, err)
		}
		a.Layers = append(a.Layers, sp)
		pos += len(tok) + 1
	}
	return a, nil
}

func parseSpec(tok string) (Spec, error) {
	sp := Spec{Text: tok, Bias: true}
	for _, k := range kinds {
		if strings.HasPrefix(tok, k) {
			sp.Kind = k
			break
		}
	}
	rest := strings.TrimPrefix(tok, sp.Kind)
	switch sp.Kind {
	case "":
		return sp, fmt.Errorf("unknown layer; want %s", ArchSyntax)
	case "bn":
		if rest == "noscale" {
			sp.NoScale = true
			return sp, nil
		}
		if rest != "" {
			return sp, fmt.Errorf("bn takes only the option noscale, not %q", rest)
		}
		return sp, nil
	case "relu", "gelu", "flatten", "gmaxpool", "gavgpool":
		if rest != "" {
			return sp, fmt.Errorf("%s takes no options, not %q", sp.Kind, rest)
		}
		return sp, nil
	case "dropout", "scale":
		x, err := parseNumber(rest)
		if err != nil {
			return sp, fmt.Errorf("%s needs a number (dropout0.5, scale1/9): %v", sp.Kind, err)
		}
		if sp.Kind == "dropout" && !(x >= 0 && x < 1) {
			return sp, fmt.Errorf("dropout %v: want a probability in [0, 1)", x)
		}
		sp.X = x
		return sp, nil
	}
	// conv, fc, maxpool, avgpool: a count, then options.
	n, rest := leadingInt(rest)
	if n < 1 || n > 1<<16 {
		return sp, fmt.Errorf("%s needs a size from 1 to 65536 right after it (%s)", sp.Kind, map[string]string{"conv": "conv32k3", "fc": "fc100", "maxpool": "maxpool2", "avgpool": "avgpool2"}[sp.Kind])
	}
	switch sp.Kind {
	case "fc":
		sp.N = n
	case "conv":
		sp.N, sp.S, sp.Pad = n, 1, -1
	default:
		sp.K, sp.S = n, n
	}
	for rest != "" {
		if rest == "nobias" && (sp.Kind == "conv" || sp.Kind == "fc") {
			sp.Bias, rest = false, ""
			continue
		}
		opt := rest[0]
		if !(opt == 's' && sp.Kind != "fc" || (opt == 'k' || opt == 'p') && sp.Kind == "conv") {
			return sp, fmt.Errorf("%q is not an option of %s", rest, sp.Kind)
		}
		var v int
		v, rest = leadingInt(rest[1:])
		if v < 0 || v > 1<<10 {
			return sp, fmt.Errorf("option %c of %s needs a number from 0 to 1024", opt, sp.Kind)
		}
		switch opt {
		case 'k':
			sp.K = v
		case 's':
			sp.S = v
		case 'p':
			sp.Pad = v
		}
	}
	if sp.Kind == "conv" {
		if sp.K < 1 {
			return sp, fmt.Errorf("conv needs a kernel size: conv%dk3", sp.N)
		}
		if sp.Pad < 0 {
			sp.Pad = (sp.K - 1) / 2
		}
	}
	if sp.S < 1 && sp.Kind != "fc" {
		return sp, fmt.Errorf("a stride of 0")
	}
	return sp, nil
}

// leadingInt splits s into the number it starts with (-1 if none) and the
// rest.
func leadingInt(s string) (int, string) {
	i := 0
	for i < len(s) && i < 9 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return -1, s
	}
	n, _ := strconv.Atoi(s[:i])
	return n, s[i:]
}

func parseNumber(s string) (float64, error) {
	if num, den, ok := strings.Cut(s, "/"); ok {
		a, err1 := strconv.ParseFloat(num, 64)
		b, err2 := strconv.ParseFloat(den, 64)
		if err1 != nil || err2 != nil || b == 0 {
			return 0, fmt.Errorf("%q is not a fraction", s)
		}
		return a / b, nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x != x || x > 1e6 || x < -1e6 {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return x, nil
}

// String returns the arch as --arch takes it: the preset's name, or the
// layers as written.
func (a Arch) String() string {
	if a.Name != "" {
		return a.Name
	}
	t := make([]string, len(a.Layers))
	for i, l := range a.Layers {
		t[i] = l.Text
	}
	return strings.Join(t, "-")
}
