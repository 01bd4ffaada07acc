package checkpoint_test

import (
	"archive/zip"
	"bytes"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/checkpoint"
	"github.com/nettrain/nettrain/internal/model"
)

// A layer-normalised net round-trips with gamma and beta of each hidden
// layer beside its W and b; a file with some of them, or with them where
// there is no hidden layer, is refused by name; a batch-normalised net
// must be folded before it is written.
func TestNormCheckpoint(t *testing.T) {
	sizes := []int{6, 5, 4, 3}
	rng := rand.New(rand.NewPCG(2, 9))
	net := model.NewNorm(model.LayerNorm, sizes, 0.5, rng)
	for _, l := range net.Layers {
		for i := range l.Gamma {
			l.Gamma[i], l.Beta[i] = rng.NormFloat64(), rng.NormFloat64()
		}
	}
	ck := &checkpoint.Checkpoint{Net: net, Mean: make([]float64, 6)}
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
	if want := []string{"W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3", "mean"}; !slices.Equal(names, want) {
		t.Errorf("arrays %v, want %v", names, want)
	}
	back, err := checkpoint.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if back.Net.Norm != model.LayerNorm || len(back.Extra) != 0 {
		t.Fatalf("read back norm %q, extra %v", back.Net.Norm, back.Extra)
	}
	for k, p := range net.Params() {
		if !bitsEqual(back.Net.Params()[k], p) {
			t.Errorf("%s differs after the round trip", net.ParamNames()[k])
		}
	}

	write := func(arrays map[string]any) []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		for _, name := range slices.Sorted(maps.Keys(arrays)) {
			w, _ := zw.Create(name + ".npy")
			if err := writeNpy(w, arrays[name]); err != nil {
				t.Fatal(err)
			}
		}
		zw.Close()
		return b.Bytes()
	}
	l := net.Layers
	base := func() map[string]any {
		return map[string]any{"W1": l[0].W, "b1": l[0].B, "W2": l[1].W, "b2": l[1].B, "W3": l[2].W, "b3": l[2].B, "mean": ck.Mean}
	}
	for _, tc := range []struct {
		name string
		add  map[string]any
		want string
	}{
		{"no beta2", map[string]any{"gamma1": l[0].Gamma, "beta1": l[0].Beta, "gamma2": l[1].Gamma}, "no beta2"},
		{"gamma of W2's width", map[string]any{"gamma1": l[1].Gamma, "beta1": l[0].Beta, "gamma2": l[1].Gamma, "beta2": l[1].Beta}, "gamma1 has length 4, want 5"},
		{"last layer", map[string]any{"gamma1": l[0].Gamma, "beta1": l[0].Beta, "gamma2": l[1].Gamma, "beta2": l[1].Beta, "gamma3": l[1].B[:3]}, "has gamma3 but the net has 2 hidden layers"},
		{"no gamma1", map[string]any{"gamma2": l[1].Gamma}, "has gamma2 but"},
	} {
		arrays := base()
		for k, v := range tc.add {
			arrays[k] = v
		}
		b := write(arrays)
		if _, err := checkpoint.Read(bytes.NewReader(b), int64(len(b))); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one with %q", tc.name, err, tc.want)
		}
	}

	defer func() {
		if recover() == nil {
			t.Error("Write took a batch-normalised net unfolded")
		}
	}()
	checkpoint.Write(&buf, &checkpoint.Checkpoint{Net: model.ZerosNorm(model.BatchNorm, sizes...), Mean: make([]float64, 6)})
}
