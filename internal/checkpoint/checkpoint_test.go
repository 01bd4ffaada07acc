package checkpoint_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
	"github.com/nettrain/nettrain/internal/model"
)

func testCheckpoint(seed uint64, d, h, c int) *checkpoint.Checkpoint {
	rng := rand.New(rand.NewPCG(seed, seed))
	net := model.New([]int{d, h, c}, 1e-2, rng)
	for i := range net.Layers[0].B {
		net.Layers[0].B[i] = rng.NormFloat64()
	}
	for i := range net.Layers[1].B {
		net.Layers[1].B[i] = rng.NormFloat64()
	}
	mean := make([]float64, d)
	for i := range mean {
		mean[i] = 255 * rng.Float64()
	}
	return &checkpoint.Checkpoint{Net: net, Mean: mean, Meta: json.RawMessage(`{"config":{"hidden":7},"note":"héllo"}`)}
}

func bitsEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

func TestCheckpointRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.npz")
	ck := testCheckpoint(1, 3072, 7, 10)
	if err := checkpoint.Save(path, ck); err != nil {
		t.Fatal(err)
	}
	got, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for k, p := range ck.Net.Params() {
		if !bitsEqual(got.Net.Params()[k], p) {
			t.Errorf("%s differs after the round trip", model.ParamNames(2, "")[k])
		}
	}
	if !bitsEqual(got.Mean, ck.Mean) {
		t.Error("mean differs after the round trip")
	}
	if string(got.Meta) != string(ck.Meta) {
		t.Errorf("meta %s, want %s", got.Meta, ck.Meta)
	}
	if s := got.Net.Sizes(); !slices.Equal(s, []int{3072, 7, 10}) {
		t.Errorf("sizes %v", s)
	}
	// Saving again over the file replaces it and leaves no temporary behind.
	if err := checkpoint.Save(path, testCheckpoint(2, 3072, 7, 10)); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("directory holds %d entries after two saves, want 1", len(ents))
	}
}

// Checkpoints written by numpy (testdata/make_numpy_models.py): plain
// float64, and compressed with a Fortran-order W1 and float32 arrays.
func TestLoadNumpyCheckpoints(t *testing.T) {
	const d, h, c = 6, 4, 3
	want := model.Zeros(d, h, c)
	for i := range d {
		for j := range h {
			want.Layers[0].W.Set(i, j, float64(i-2*j)/8)
		}
	}
	for k := range h {
		for l := range c {
			want.Layers[1].W.Set(k, l, float64(3*k-l)/16)
		}
	}
	for j := range h {
		want.Layers[0].B[j] = float64(j)/4 - 0.5
	}
	for l := range c {
		want.Layers[1].B[l] = float64(-l) / 2 // numpy negates the integers: 0, not -0
	}
	for _, name := range []string{"numpy_f64.npz", "numpy_mixed.npz"} {
		ck, err := checkpoint.Load(filepath.Join("testdata", name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for k, p := range ck.Net.Params() {
			if !bitsEqual(p, want.Params()[k]) {
				t.Errorf("%s: %s = %v, want %v", name, model.ParamNames(2, "")[k], p, want.Params()[k])
			}
		}
		for i, m := range ck.Mean {
			if m != float64(i)*1.5 {
				t.Errorf("%s: mean[%d] = %v", name, i, m)
			}
		}
		if ck.Meta != nil {
			t.Errorf("%s: meta %s, want none", name, ck.Meta)
		}
	}
}

// Opt-in: numpy itself opens what Save writes.
func TestNumpyLoadsSavedCheckpoint(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-c", "import numpy").Run() != nil {
		if py, err = exec.LookPath("/usr/bin/python3"); err != nil || exec.Command(py, "-c", "import numpy").Run() != nil {
			t.Skip("no python3 with numpy here; install python3-numpy to run this check")
		}
	}
	path := filepath.Join(t.TempDir(), "m.npz")
	ck := testCheckpoint(3, 5, 4, 3)
	if err := checkpoint.Save(path, ck); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", `
import json, sys, numpy as np
f = np.load(sys.argv[1])
print(f["W1"].shape, f["b1"].shape, f["W2"].shape, f["b2"].shape, f["mean"].shape, f["W1"].dtype)
print(repr(float(f["W1"][1, 2])), repr(float(f["mean"][4])))
print(json.loads(str(f["meta"]))["note"])
`, path).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	want := strings.Join([]string{
		"(5, 4) (4,) (4, 3) (3,) (5,) float64",
		reprFloat(ck.Net.Layers[0].W.At(1, 2)) + " " + reprFloat(ck.Mean[4]),
		"héllo",
	}, "\n") + "\n"
	if string(out) != want {
		t.Errorf("numpy read\n%s\nwant\n%s", out, want)
	}
}

// reprFloat formats like Python's repr of a float: the shortest string that
// round-trips.
func reprFloat(v float64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.npz")
	if err := checkpoint.Save(good, testCheckpoint(4, 6, 4, 3)); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)

	// rewrite returns a copy of the good checkpoint with its entries changed by edit.
	rewrite := func(edit func(name string, ck *checkpoint.Checkpoint) (string, any)) []byte {
		ck := testCheckpoint(4, 6, 4, 3)
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, name := range []string{"W1", "b1", "W2", "b2", "mean"} {
			n, v := edit(name, ck)
			if n == "" {
				continue
			}
			w, _ := zw.Create(n + ".npy")
			if err := writeNpy(w, v); err != nil {
				t.Fatal(err)
			}
		}
		zw.Close()
		return buf.Bytes()
	}
	keep := func(name string, ck *checkpoint.Checkpoint) (string, any) {
		return name, map[string]any{"W1": ck.Net.Layers[0].W, "b1": ck.Net.Layers[0].B, "W2": ck.Net.Layers[1].W, "b2": ck.Net.Layers[1].B, "mean": ck.Mean}[name]
	}
	for _, tc := range []struct {
		name string
		data []byte // nil: make a directory
		want []string
	}{
		{"not an npz", []byte("W1,b1\n1,2\n"), []string{"not an .npz checkpoint"}},
		{"empty", []byte{}, []string{"not an .npz checkpoint"}},
		{"truncated", raw[:len(raw)/2], []string{"bad.npz"}},
		{"directory", nil, []string{"is a directory"}},
		{"missing W2", rewrite(func(name string, ck *checkpoint.Checkpoint) (string, any) {
			if name == "W2" {
				return "", nil
			}
			return keep(name, ck)
		}), []string{`no array "W2"`, "W1, b1, b2, mean"}},
		{"missing mean", rewrite(func(name string, ck *checkpoint.Checkpoint) (string, any) {
			if name == "mean" {
				return "", nil
			}
			return keep(name, ck)
		}), []string{`no array "mean"`}},
		{"W2 rows do not follow W1", rewrite(func(name string, ck *checkpoint.Checkpoint) (string, any) {
			if name == "W2" {
				return name, mat.NewDense(5, 3, nil)
			}
			return keep(name, ck)
		}), []string{"W2 has shape [5 3]"}},
		{"b1 wrong length", rewrite(func(name string, ck *checkpoint.Checkpoint) (string, any) {
			if name == "b1" {
				return name, []float64{1, 2}
			}
			return keep(name, ck)
		}), []string{"b1 has length 2, want 4"}},
		{"mean wrong length", rewrite(func(name string, ck *checkpoint.Checkpoint) (string, any) {
			if name == "mean" {
				return name, make([]float64, 5)
			}
			return keep(name, ck)
		}), []string{"mean has length 5, want 6"}},
		{"W1 one-dimensional", rewrite(func(name string, ck *checkpoint.Checkpoint) (string, any) {
			if name == "W1" {
				return name, make([]float64, 24)
			}
			return keep(name, ck)
		}), []string{`"W1" has shape [24], want 2 dimensions`}},
		{"NaN weight", rewrite(func(name string, ck *checkpoint.Checkpoint) (string, any) {
			if name == "W2" {
				ck.Net.Layers[1].W.Set(1, 1, math.NaN())
			}
			return keep(name, ck)
		}), []string{`"W2" has NaN`, "diverged"}},
		{"Inf mean", rewrite(func(name string, ck *checkpoint.Checkpoint) (string, any) {
			if name == "mean" {
				ck.Mean[2] = math.Inf(-1)
			}
			return keep(name, ck)
		}), []string{`"mean" has -Inf`}},
		{"int weights", rewrite(func(name string, ck *checkpoint.Checkpoint) (string, any) {
			if name == "b2" {
				return name, []int64{1, 2, 3}
			}
			return keep(name, ck)
		}), []string{`"b2" has dtype <i8`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.npz")
			if tc.data == nil {
				os.Mkdir(path, 0o755)
			} else if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := checkpoint.Load(path)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range append(tc.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := checkpoint.Load(filepath.Join(dir, "absent.npz")); err == nil || !strings.Contains(err.Error(), "nettrain train") {
		t.Errorf("missing file: err = %v, want a hint to train one", err)
	}
}

func TestPredictSetMatchesPredict(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	s := cifartest.RandomSet(1234, rng) // not a multiple of the chunk size
	net := model.New([]int{cifar.D, 17, cifar.Classes}, 1e-3, rng)
	mean := cifar.Mean(s)
	x := make([]float64, s.N()*cifar.D)
	y := make([]uint8, s.N())
	cifar.GatherRange(x, y, s, 0, s.N(), mean)
	want := net.Predict(nil, nil, x)
	got := net.PredictSet(nil, s, mean)
	if !bytes.Equal(got, want) {
		t.Error("PredictSet differs from Predict on the whole set")
	}
	if acc := model.Accuracy(got, s.Y); acc < 0 || acc > 1 {
		t.Errorf("accuracy %v", acc)
	}
}

// sharedEntries returns a valid checkpoint's npz with n more entries in
// its zip directory, each pointing at the local header of the first one:
// the crafted file that inflated one stream once per entry.
func sharedEntries(t *testing.T, n int, sameName bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := checkpoint.Write(&buf, testCheckpoint(1, 6, 3, 2)); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	eocd := bytes.LastIndex(b, []byte("PK\x05\x06"))
	cdOff := int(binary.LittleEndian.Uint32(b[eocd+16:]))
	cd := b[cdOff:eocd]
	// The first central directory record.
	nameLen := int(binary.LittleEndian.Uint16(cd[28:]))
	extraLen := int(binary.LittleEndian.Uint16(cd[30:]))
	commentLen := int(binary.LittleEndian.Uint16(cd[32:]))
	first := cd[:46+nameLen+extraLen+commentLen]
	out := append([]byte{}, b[:eocd]...)
	for i := range n {
		rec := append([]byte{}, first[:46]...)
		name := fmt.Sprintf("x%05d.npy", i)
		if sameName {
			name = string(first[46 : 46+nameLen])
		}
		binary.LittleEndian.PutUint16(rec[28:], uint16(len(name)))
		binary.LittleEndian.PutUint16(rec[30:], 0)
		binary.LittleEndian.PutUint16(rec[32:], 0)
		out = append(append(out, rec...), name...)
	}
	end := append([]byte{}, b[eocd:]...)
	total := binary.LittleEndian.Uint16(end[10:]) + uint16(n)
	binary.LittleEndian.PutUint16(end[8:], total)
	binary.LittleEndian.PutUint16(end[10:], total)
	binary.LittleEndian.PutUint32(end[12:], uint32(len(out)-cdOff))
	return append(out, end...)
}

// Entries sharing one compressed stream, or two entries of one name, are
// refused before anything is inflated.
func TestLoadRefusesSharedEntries(t *testing.T) {
	for _, tc := range []struct {
		n        int
		sameName bool
		want     string
	}{{40, false, "share their bytes"}, {1, true, "two entries named"}} {
		b := sharedEntries(t, tc.n, tc.sameName)
		if _, err := checkpoint.Read(bytes.NewReader(b), int64(len(b))); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d entries over one stream (same name %v): err %v, want %q", tc.n, tc.sameName, err, tc.want)
		}
	}
	// The crafting itself is sound: with no extra entry the file reads.
	b := sharedEntries(t, 0, false)
	if _, err := checkpoint.Read(bytes.NewReader(b), int64(len(b))); err != nil {
		t.Errorf("the untouched checkpoint: %v", err)
	}
}
