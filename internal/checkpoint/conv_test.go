package checkpoint_test

import (
	"archive/zip"
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/layers"
)

func convCheckpoint(t *testing.T, arch string) *checkpoint.Checkpoint {
	t.Helper()
	a, err := layers.ParseArch(arch)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	net, err := layers.Build[float64](a, layers.Shape{C: 3, H: 32, W: 32}, 10, rng)
	if err != nil {
		t.Fatal(err)
	}
	net.Init(0.1, rng)
	for _, st := range net.Stats() {
		for i := range st.V {
			st.V[i] = 0.5 + rng.Float64()
		}
	}
	mean := make([]float64, 3072)
	for i := range mean {
		mean[i] = rng.Float64() * 255
	}
	return &checkpoint.Checkpoint{Conv: net, Mean: mean, Meta: []byte(`{"config":{"arch":"` + arch + `"}}`), Extra: map[string][]float64{"opt.v.W1": {1, 2}}}
}

// A conv net's checkpoint round-trips: the arch, every parameter with its
// shape, the running statistics, the mean, meta and extra arrays.
func TestConvCheckpointRoundTrip(t *testing.T) {
	for _, arch := range []string{"cs231n-convnet", "conv8k3-maxpool2-bn-gelu-conv4k3nobias-bn-relu-gavgpool-fc10nobias-scale1/9"} {
		ck := convCheckpoint(t, arch)
		path := filepath.Join(t.TempDir(), "m.npz")
		if err := checkpoint.Save(path, ck); err != nil {
			t.Fatal(err)
		}
		got, err := checkpoint.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if got.Net != nil || got.Conv == nil || got.Conv.Arch.String() != arch {
			t.Fatalf("%s: loaded net %v, conv %v", arch, got.Net, got.Conv)
		}
		want := append(ck.Conv.Params(), nil)
		for i, p := range got.Conv.Params() {
			if p.Name != want[i].Name || !slices.Equal(p.V, want[i].V) {
				t.Errorf("%s: %s differs", arch, p.Name)
			}
		}
		for i, st := range got.Conv.Stats() {
			if !slices.Equal(st.V, ck.Conv.Stats()[i].V) {
				t.Errorf("%s: %s differs", arch, st.Name)
			}
		}
		if !slices.Equal(got.Mean, ck.Mean) || string(got.Meta) != string(ck.Meta) || !slices.Equal(got.Extra["opt.v.W1"], []float64{1, 2}) {
			t.Errorf("%s: mean, meta or extra differ", arch)
		}
	}
}

// rewriteNpz returns the npz at path with the arrays in change replaced
// (or removed, for a nil value).
func rewriteNpz(t *testing.T, path string, change map[string]any) []byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		v, ok := change[name]
		if ok && v == nil {
			continue
		}
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		if ok {
			if err := npy.Write(w, v); err != nil {
				t.Fatal(err)
			}
			continue
		}
		r, _ := f.Open()
		b := new(bytes.Buffer)
		b.ReadFrom(r)
		r.Close()
		w.Write(b.Bytes())
	}
	zw.Close()
	return buf.Bytes()
}

// Malformed conv arrays are refused by name: wrong rank, a shape that does
// not chain, a missing running variance, a non-positive one, a NaN, an
// unknown arch, a mean of the wrong length.
func TestConvCheckpointRefuses(t *testing.T) {
	ck := convCheckpoint(t, "conv8k3-maxpool2-bn-gelu-fc10")
	dir := t.TempDir()
	path := filepath.Join(dir, "m.npz")
	if err := checkpoint.Save(path, ck); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		change map[string]any
		want   string
	}{
		"rank":        {map[string]any{"W1": make([]float64, 8*27)}, `array "W1" has shape [216], want 4 dimensions`},
		"chain":       {map[string]any{"W1": [8][3][2][2]float64{}}, `array "W1" has shape [8 3 2 2], want [8 3 3 3]`},
		"fc shape":    {map[string]any{"W2": [10][10]float64{}}, `array "W2" has shape [10 10], want [2048 10]`},
		"no var":      {map[string]any{"running_var1": nil}, `no array "running_var1"`},
		"var <= 0":    {map[string]any{"running_var1": []float64{1, 1, 0, 1, 1, 1, 1, 1}}, `array "running_var1" has 0 at 2: a running variance must be positive`},
		"nan":         {map[string]any{"b1": []float64{0, 0, 0, nan(), 0, 0, 0, 0}}, `array "b1" has NaN at flat index 3`},
		"arch":        {map[string]any{"arch": "conv8k3-maxpoo2-fc10"}, `its arch "conv8k3-maxpoo2-fc10" layer 2 "maxpoo2"`},
		"arch shapes": {map[string]any{"arch": "conv8k3-fc20"}, `array "W2" has shape [2048 10], want [8192 20] for the arch conv8k3-fc20`},
		"mean":        {map[string]any{"mean": make([]float64, 10)}, `mean has length 10, want 3072`},
	} {
		bad := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".npz")
		os.WriteFile(bad, rewriteNpz(t, path, c.change), 0o644)
		_, err := checkpoint.Load(bad)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line with %q", name, err, c.want)
		}
	}
}

func nan() float64 { var z float64; return z / z }

// numpy opens a conv checkpoint: W1 (32, 3, 7, 7), the arch string.
func TestNumpyLoadsConvCheckpoint(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-c", "import numpy").Run() != nil {
		if py, err = exec.LookPath("/usr/bin/python3"); err != nil || exec.Command(py, "-c", "import numpy").Run() != nil {
			t.Skip("no python3 with numpy here; install python3-numpy to run this check")
		}
	}
	ck := convCheckpoint(t, "cs231n-convnet")
	path := filepath.Join(t.TempDir(), "m.npz")
	if err := checkpoint.Save(path, ck); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", `
import sys, numpy as np
f = np.load(sys.argv[1])
print(f["W1"].shape, f["W2"].shape, str(f["arch"]), repr(float(f["W1"][1, 2, 3, 4])))
`, path).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	want := "(32, 3, 7, 7) (8192, 100) cs231n-convnet " + reprFloat(ck.Conv.Params()[0].V[((1*3+2)*7+3)*7+4])
	if strings.TrimSpace(string(out)) != want {
		t.Errorf("numpy read %q, want %q", out, want)
	}
}
