package checkpoint_test

import (
	"archive/zip"
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/model"
)

// A checkpoint of any depth round-trips bit for bit, holds W1, b1, ...,
// Wn, bn and mean, and a file whose layers do not chain, or skip a
// number, is refused by name.
func TestDeepCheckpoint(t *testing.T) {
	sizes := []int{12, 7, 5, 3, 4}
	rng := rand.New(rand.NewPCG(1, 17))
	net := model.New(sizes, 0.5, rng)
	for _, l := range net.Layers {
		for i := range l.B {
			l.B[i] = rng.NormFloat64()
		}
	}
	ck := &checkpoint.Checkpoint{Net: net, Mean: make([]float64, 12), Extra: map[string][]float64{"opt.v.W4": make([]float64, 12)}}
	var buf bytes.Buffer
	if err := checkpoint.Write(&buf, ck); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, strings.TrimSuffix(f.Name, ".npy"))
	}
	if want := []string{"W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4", "mean", "opt.v.W4"}; !slices.Equal(names, want) {
		t.Errorf("arrays %v, want %v", names, want)
	}
	back, err := checkpoint.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Net.Sizes(), sizes) || len(back.Extra) != 1 {
		t.Fatalf("read back sizes %v, extra %v", back.Net.Sizes(), back.Extra)
	}
	for k, p := range net.Params() {
		if !bitsEqual(back.Net.Params()[k], p) {
			t.Errorf("%s differs after the round trip", net.ParamNames()[k])
		}
	}

	// Hand-made files: a gap in the numbering, layers that do not chain.
	write := func(arrays map[string]any, order []string) []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		for _, name := range order {
			w, _ := zw.Create(name + ".npy")
			if err := writeNpy(w, arrays[name]); err != nil {
				t.Fatal(err)
			}
		}
		zw.Close()
		return b.Bytes()
	}
	l := net.Layers
	for _, tc := range []struct {
		name   string
		arrays map[string]any
		order  []string
		want   string
	}{
		{"gap", map[string]any{"W1": l[0].W, "b1": l[0].B, "W2": l[1].W, "b2": l[1].B, "W4": l[3].W, "b4": l[3].B, "mean": ck.Mean},
			[]string{"W1", "b1", "W2", "b2", "W4", "b4", "mean"}, "no W3"},
		{"chain", map[string]any{"W1": l[0].W, "b1": l[0].B, "W2": l[2].W, "b2": l[2].B, "mean": ck.Mean},
			[]string{"W1", "b1", "W2", "b2", "mean"}, "array W2 has shape [5 3], want (7, ...) to follow W1 [12 7]"},
		{"bias", map[string]any{"W1": l[0].W, "b1": l[0].B, "W2": l[1].W, "b2": l[2].B, "W3": l[2].W, "b3": l[2].B, "mean": ck.Mean},
			[]string{"W1", "b1", "W2", "b2", "W3", "b3", "mean"}, "b2 has length 3, want 5"},
		{"one layer", map[string]any{"W1": l[0].W, "b1": l[0].B, "mean": ck.Mean},
			[]string{"W1", "b1", "mean"}, `no array "W2"`},
	} {
		b := write(tc.arrays, tc.order)
		if _, err := checkpoint.Read(bytes.NewReader(b), int64(len(b))); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one with %q", tc.name, err, tc.want)
		}
	}
}
