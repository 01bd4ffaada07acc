package layers

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// torchPython returns a python3 that imports torch, or skips.
func torchPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if p, err := exec.LookPath(py); err == nil && exec.Command(p, "-c", "import torch, numpy").Run() == nil {
			return p
		}
	}
	t.Skip("no python3 with torch and numpy (apt-get install python3-torch): the PyTorch comparison is skipped")
	return ""
}

func writeF64(t *testing.T, path string, v []float64) {
	t.Helper()
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// PyTorch computes the same loss and gradients, in float64, for the
// presets and a net of every layer kind PyTorch has a module for: the
// layers mean what PyTorch's modules mean (Conv2d, MaxPool2d, AvgPool2d,
// BatchNorm2d in training, GELU, Linear with its weight transposed,
// Flatten in (C, H, W) order).
func TestTorchAgrees(t *testing.T) {
	py := torchPython(t)
	for _, c := range []struct {
		arch  string
		shape Shape
		n     int
	}{
		{"cs231n-convnet", Shape{3, 32, 32}, 4},
		{"airbench", Shape{3, 32, 32}, 4},
		{"conv5k3s2p2-bn-gelu-avgpool2-conv4k3nobias-relu-gmaxpool-fc7-relu-fc3-scale1/9", Shape{2, 11, 9}, 3},
		{"conv6k3-gavgpool-bn-fc3nobias", Shape{3, 6, 6}, 5},
	} {
		t.Run(c.arch, func(t *testing.T) {
			a, err := ParseArch(c.arch)
			if err != nil {
				t.Fatal(err)
			}
			classes := 10
			if c.shape.H != 32 {
				classes = 3
			}
			rng := rand.New(rand.NewPCG(9, 9))
			net, err := Build[float64](a, c.shape, classes, rng)
			if err != nil {
				t.Fatal(err)
			}
			net.Init(0.1, rng)
			for _, p := range net.Params() {
				if !p.Decay {
					for i := range p.V {
						p.V[i] += 0.1 * rng.NormFloat64()
					}
				}
			}
			x := randSlice(rng, c.n*c.shape.Size(), 1)
			y := make([]uint8, c.n)
			yf := make([]float64, c.n)
			for i := range y {
				y[i] = uint8(rng.IntN(classes))
				yf[i] = float64(y[i])
			}
			const reg = 0.01
			loss := net.Loss(x, y, reg)

			dir := t.TempDir()
			type array struct {
				Name  string `json:"name"`
				Shape []int  `json:"shape"`
			}
			man := struct {
				Arch   string  `json:"arch"`
				Shape  []int   `json:"shape"`
				Reg    float64 `json:"reg"`
				Arrays []array `json:"arrays"`
			}{Arch: a.String(), Shape: []int{c.shape.C, c.shape.H, c.shape.W}, Reg: reg}
			if a.Name != "" {
				man.Arch = Presets[a.Name]
			}
			man.Arrays = append(man.Arrays, array{"x", []int{c.n, c.shape.C, c.shape.H, c.shape.W}}, array{"y", []int{c.n}})
			writeF64(t, filepath.Join(dir, "x.f64"), x)
			writeF64(t, filepath.Join(dir, "y.f64"), yf)
			for _, p := range net.Params() {
				man.Arrays = append(man.Arrays, array{p.Name, p.Shape})
				writeF64(t, filepath.Join(dir, p.Name+".f64"), p.V)
			}
			b, _ := json.Marshal(man)
			os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o644)
			cmd := exec.Command(py, filepath.Join("testdata", "torch_net.py"), dir)
			cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("torch: %v\n%s", err, out)
			}
			var res struct {
				Loss  float64              `json:"loss"`
				Grads map[string][]float64 `json:"grads"`
			}
			b, err = os.ReadFile(filepath.Join(dir, "out.json"))
			if err != nil || json.Unmarshal(b, &res) != nil {
				t.Fatalf("torch's output: %v", err)
			}
			if relErr(loss, res.Loss) > 1e-12 {
				t.Errorf("loss %.15g, PyTorch's %.15g", loss, res.Loss)
			}
			for _, p := range net.Params() {
				g, ok := res.Grads[p.Name]
				if !ok {
					t.Fatalf("PyTorch has no gradient of %s", p.Name)
				}
				// Within 1e-10 of the array's largest gradient; a conv's bias
				// before batch norm has a gradient of exactly 0 in exact
				// arithmetic, where both sides give round-off under 1e-14.
				scale := 0.0
				for _, v := range g {
					scale = max(scale, math.Abs(v))
				}
				for i := range g {
					if d := math.Abs(p.G[i] - g[i]); d > 1e-10*scale && d > 1e-14 {
						t.Fatalf("%s[%d]: gradient %.12g, PyTorch's %.12g", p.Name, i, p.G[i], g[i])
					}
				}
			}
		})
	}
}
