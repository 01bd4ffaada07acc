package model_test

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/nettrain/nettrain/internal/model"
)

// FuzzRead: whatever the bytes, Read returns an error or a checkpoint whose
// shapes fit together and whose numbers are finite, and that survives a
// Write and Read unchanged. Seeds in testdata/fuzz/FuzzRead: checkpoints
// written by Save and by numpy, whole and cut.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"numpy_f64.npz", "numpy_mixed.npz"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ck, err := model.Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		d, h, c := ck.Net.Dims()
		if len(ck.Net.B1) != h || len(ck.Net.B2) != c || len(ck.Mean) != d {
			t.Fatalf("inconsistent shapes: D %d H %d C %d, b1 %d b2 %d mean %d", d, h, c, len(ck.Net.B1), len(ck.Net.B2), len(ck.Mean))
		}
		for k, p := range ck.Net.Params() {
			for _, v := range p {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("%s holds %v", model.ParamNames[k], v)
				}
			}
		}
		var buf bytes.Buffer
		if err := model.Write(&buf, ck); err != nil {
			t.Fatal(err)
		}
		back, err := model.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("a checkpoint that Read accepted does not round-trip: %v", err)
		}
		for k, p := range ck.Net.Params() {
			for i := range p {
				if math.Float64bits(p[i]) != math.Float64bits(back.Net.Params()[k][i]) {
					t.Fatalf("%s[%d] changed in the round trip", model.ParamNames[k], i)
				}
			}
		}
	})
}
