package layers

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// The presets build to the nets the issue names, with the parameters
// numbered as a checkpoint names them.
func TestPresets(t *testing.T) {
	in := Shape{3, 32, 32}
	for name, want := range map[string]string{
		"cs231n-convnet": "W1[32 3 7 7] b1[32] W2[8192 100] b2[100] W3[100 10] b3[10]",
		"airbench": "W1[24 3 2 2] b1[24] W2[64 24 3 3] gamma2[64] beta2[64] W3[64 64 3 3] gamma3[64] beta3[64] " +
			"W4[256 64 3 3] gamma4[256] beta4[256] W5[256 256 3 3] gamma5[256] beta5[256] " +
			"W6[256 256 3 3] gamma6[256] beta6[256] W7[256 256 3 3] gamma7[256] beta7[256] W8[256 10]",
		"airbench-half": "W1[24 3 2 2] b1[24] W2[32 24 3 3] gamma2[32] beta2[32] W3[32 32 3 3] gamma3[32] beta3[32] " +
			"W4[128 32 3 3] gamma4[128] beta4[128] W5[128 128 3 3] gamma5[128] beta5[128] " +
			"W6[128 128 3 3] gamma6[128] beta6[128] W7[128 128 3 3] gamma7[128] beta7[128] W8[128 10]",
	} {
		a, err := ParseArch(name)
		if err != nil {
			t.Fatal(err)
		}
		net, err := Build[float32](a, in, 10, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []string
		for _, p := range net.Params() {
			got = append(got, fmt.Sprint(p.Name, p.Shape))
		}
		if g := strings.Join(got, " "); g != want {
			t.Errorf("%s: parameters\n%s\nwant\n%s", name, g, want)
		}
		if a.String() != name {
			t.Errorf("%s: String %q", name, a.String())
		}
	}
}

// Nonsense is refused with one line naming the layer's position.
func TestParseArchRefuses(t *testing.T) {
	for s, want := range map[string]string{
		"":                       "is empty",
		"conv32k3-relu-maxpoo2":  `layer 3 "maxpoo2" (character 15): unknown layer`,
		"conv32-relu-fc10":       `layer 1 "conv32" (character 1): conv needs a kernel size`,
		"conv32k3x-fc10":         `layer 1 "conv32k3x" (character 1): "x" is not an option of conv`,
		"fc10-relu2":             `layer 2 "relu2" (character 6): relu takes no options`,
		"conv0k3-fc10":           `layer 1 "conv0k3" (character 1): conv needs a size`,
		"fc100-dropout1.5-fc10":  `layer 2 "dropout1.5" (character 7): dropout 1.5`,
		"fc100-scale1/0-fc10":    `layer 2 "scale1/0" (character 7): scale needs a number`,
		"fc10--fc10":             `layer 2 "" (character 6): unknown layer`,
		"conv8k3s0-fc10":         `a stride of 0`,
		"maxpool2p1-fc10":        `"p1" is not an option of maxpool`,
		"conv99999999999k3-fc10": "conv needs a size",
	} {
		_, err := ParseArch(s)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line with %q", s, err, want)
		}
	}
	for s, want := range map[string]string{
		"conv8k3-fc20":           "ends in 20x1x1 outputs, not 10 class scores",
		"conv8k40p0-fc10":        `layer 1 "conv8k40p0" on 3x32x32 inputs: a 40x40 kernel does not fit 32x32 inputs padded by 0`,
		"bn-fc10":                `layer 1 "bn" on 3x32x32 inputs: batch norm needs a convolution or affine layer before it`,
		"conv8k3-maxpool64-fc10": `layer 2 "maxpool64" on 8x32x32 inputs: pool: a 64x64 kernel does not fit`,
		"fc10-conv8k3-fc10":      `layer 2 "conv8k3" on 10x1x1 inputs: a convolution after an affine layer`,
	} {
		a, err := ParseArch(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		_, err = Build[float64](a, Shape{3, 32, 32}, 10, rand.New(rand.NewPCG(1, 1)))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", s, err, want)
		}
	}
}
