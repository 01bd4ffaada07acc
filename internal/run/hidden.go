package run

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/nettrain/nettrain/internal/setting"
)

// Hidden is the widths of a net's hidden layers, input side first: {50} is
// cs231n's two-layer net, {1000, 500} a net of three affine layers. In JSON
// one layer is a number, as checkpoints have always stored it ("hidden":
// 50), and more are a list ("hidden": [1000, 500]).
type Hidden []int

// MaxHiddenLayers bounds the depth of a net: far past what trains on CIFAR-10
// without normalisation, and a bound on what a file can ask for.
const MaxHiddenLayers = 64

// MaxWidth bounds a hidden layer's width: a net of one such layer holds
// 3.2 GB of float32 weights in W1 alone, and every product of widths stays
// far inside an int.
const MaxWidth = 1 << 20

// ParseHidden parses layer widths separated by commas or dashes: "50",
// "1000,500" or "1000-500" (the literature's 3072-1000-500-10 without its
// ends). It checks the syntax only; Check the values.
func ParseHidden(s string) (Hidden, error) {
	var h Hidden
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if v, err := strconv.Atoi(f); err == nil { // "-5" too, for Check to refuse
			h = append(h, v)
			continue
		}
		for _, g := range strings.Split(f, "-") {
			v, err := strconv.Atoi(strings.TrimSpace(g))
			if err != nil {
				return nil, setting.Errorf("hidden", "{hidden} %q: %q is not a whole number; want layer widths such as 50 or 1000,500", s, g)
			}
			h = append(h, v)
		}
		if len(h) > MaxHiddenLayers {
			break
		}
	}
	return h, nil
}

// Check returns an error unless h has 1 to MaxHiddenLayers layers of at
// least one unit each.
func (h Hidden) Check() error {
	if len(h) == 0 || len(h) > MaxHiddenLayers {
		return setting.Errorf("hidden", "{hidden} has %d layers, want 1 to %d", len(h), MaxHiddenLayers)
	}
	for i, v := range h {
		switch {
		case v > MaxWidth:
			return setting.Errorf("hidden", "{hidden} %s: layer %d has %d units, want at most %d", h, i+1, v, MaxWidth)
		case v >= 1:
		case len(h) == 1:
			return setting.Errorf("hidden", "{hidden} is %d, want at least 1", v)
		default:
			return setting.Errorf("hidden", "{hidden} %s: layer %d has %d units, want at least 1", h, i+1, v)
		}
	}
	return nil
}

// String is h as the flag takes it: "50" or "1000,500".
func (h Hidden) String() string { return h.join(",") }

// Dashed is h as the literature writes a net's shape, and as a sweep takes
// one choice of layers: "50" or "1000-500".
func (h Hidden) Dashed() string { return h.join("-") }

func (h Hidden) join(sep string) string {
	s := make([]string, len(h))
	for i, v := range h {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, sep)
}

// Sizes returns the layer sizes of a net with d inputs, h's hidden layers
// and c classes.
func (h Hidden) Sizes(d, c int) []int {
	return append(append([]int{d}, h...), c)
}

// Params returns the number of weights and biases of a net with d inputs,
// h's hidden layers and c classes, as a float64 (a count for the memory
// estimate, which may be of nets too large to hold).
func (h Hidden) Params(d, c int) float64 {
	var n float64
	sizes := h.Sizes(d, c)
	for l := range len(sizes) - 1 {
		n += float64(sizes[l]+1) * float64(sizes[l+1])
	}
	return n
}

// Max returns the widest layer of h.
func (h Hidden) Max() int {
	m := 0
	for _, v := range h {
		m = max(m, v)
	}
	return m
}

// Units returns the hidden units of all the layers together.
func (h Hidden) Units() int {
	n := 0
	for _, v := range h {
		n += v
	}
	return n
}

// Equal reports whether h and g are the same layers.
func (h Hidden) Equal(g Hidden) bool {
	if len(h) != len(g) {
		return false
	}
	for i := range h {
		if h[i] != g[i] {
			return false
		}
	}
	return true
}

// MarshalJSON writes one layer as a number and more as a list.
func (h Hidden) MarshalJSON() ([]byte, error) {
	if len(h) == 1 {
		return json.Marshal(h[0])
	}
	return json.Marshal([]int(h))
}

// UnmarshalJSON reads a number or a list of numbers.
func (h *Hidden) UnmarshalJSON(b []byte) error {
	var one int
	if err := json.Unmarshal(b, &one); err == nil {
		*h = Hidden{one}
		return nil
	}
	var many []int
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("hidden is neither a number nor a list of numbers")
	}
	*h = many
	return nil
}
