package checkpoint_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/nettrain/nettrain/internal/checkpoint"
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
		ck, err := checkpoint.Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		checkShapes(t, ck)
		for k, p := range ck.Net.Params() {
			for _, v := range p {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("%s holds %v", ck.Net.ParamNames()[k], v)
				}
			}
		}
		var buf bytes.Buffer
		if err := checkpoint.Write(&buf, ck); err != nil {
			t.Fatal(err)
		}
		back, err := checkpoint.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("a checkpoint that Read accepted does not round-trip: %v", err)
		}
		for k, p := range ck.Net.Params() {
			for i := range p {
				if math.Float64bits(p[i]) != math.Float64bits(back.Net.Params()[k][i]) {
					t.Fatalf("%s[%d] changed in the round trip", ck.Net.ParamNames()[k], i)
				}
			}
		}
	})
}

// FuzzReadEntries: an npz of several entries built from the fuzzer's bytes
// (names drawn from the checkpoint's arrays with repeats, npy contents cut
// and mixed, stored or deflated) and then, if the first byte says so, more
// central-directory entries pointing at the first entry's bytes, the crafted
// file that once inflated one stream per entry. Read returns, within
// memory, and what it accepts has consistent shapes.
func FuzzReadEntries(f *testing.F) {
	var buf bytes.Buffer
	checkpoint.Write(&buf, &checkpoint.Checkpoint{Net: model.Zeros(4, 2, 3), Mean: make([]float64, 4)})
	good := buf.Bytes()
	f.Add(byte(0), good)
	f.Add(byte(7), good)
	f.Add(byte(40), good[:len(good)/2])
	f.Fuzz(func(t *testing.T, extra byte, b []byte) {
		npz := withSharedEntries(b, int(extra%64))
		ck, err := checkpoint.Read(bytes.NewReader(npz), int64(len(npz)))
		if err != nil {
			return
		}
		checkShapes(t, ck)
	})
}

// withSharedEntries appends n central-directory records that point at the
// first entry of the zip in b (if b is a zip at all), fixing the end
// record; other bytes come back as they are.
func withSharedEntries(b []byte, n int) []byte {
	eocd := bytes.LastIndex(b, []byte("PK\x05\x06"))
	if n == 0 || eocd < 0 || len(b)-eocd < 22 {
		return b
	}
	cdOff := int(binary.LittleEndian.Uint32(b[eocd+16:]))
	if cdOff < 0 || cdOff+46 > eocd {
		return b
	}
	first := b[cdOff : cdOff+46]
	out := append([]byte{}, b[:eocd]...)
	for i := range n {
		rec := append([]byte{}, first...)
		name := fmt.Sprintf("e%03d.npy", i)
		binary.LittleEndian.PutUint16(rec[28:], uint16(len(name)))
		binary.LittleEndian.PutUint16(rec[30:], 0)
		binary.LittleEndian.PutUint16(rec[32:], 0)
		out = append(append(out, rec...), name...)
	}
	end := append([]byte{}, b[eocd:eocd+22]...)
	total := binary.LittleEndian.Uint16(end[10:]) + uint16(n)
	binary.LittleEndian.PutUint16(end[8:], total)
	binary.LittleEndian.PutUint16(end[10:], total)
	binary.LittleEndian.PutUint32(end[12:], uint32(len(out)-cdOff))
	return append(out, end...)
}

// checkShapes fails t unless ck's layers chain and its biases and mean fit.
func checkShapes(t *testing.T, ck *checkpoint.Checkpoint) {
	t.Helper()
	if len(ck.Net.Layers) < 2 {
		t.Fatalf("a checkpoint of %d layers", len(ck.Net.Layers))
	}
	for l, layer := range ck.Net.Layers {
		in, out := layer.W.Dims()
		if len(layer.B) != out {
			t.Fatalf("W%d (%d, %d) with b%d of %d", l+1, in, out, l+1, len(layer.B))
		}
		if l > 0 {
			if _, prev := ck.Net.Layers[l-1].W.Dims(); prev != in {
				t.Fatalf("W%d (%d, %d) after a layer of %d outputs", l+1, in, out, prev)
			}
		}
	}
	if len(ck.Mean) != ck.Net.Inputs() {
		t.Fatalf("mean of %d for %d inputs", len(ck.Mean), ck.Net.Inputs())
	}
}
