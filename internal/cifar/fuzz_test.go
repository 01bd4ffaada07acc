package cifar_test

import (
	"bytes"
	"testing"

	"github.com/nettrain/nettrain/internal/cifar"
)

// FuzzReadBatch: whatever the bytes, ReadBatch returns (never panics), and
// when it succeeds every label is a class and the set holds the bytes read.
// Seeds in testdata/fuzz/FuzzReadBatch.
func FuzzReadBatch(f *testing.F) {
	rec := make([]byte, 2*cifar.RecordSize)
	rec[0], rec[cifar.RecordSize] = 3, 9
	f.Add(rec)
	f.Add(rec[:cifar.RecordSize+1])
	f.Add([]byte{10})
	f.Fuzz(func(t *testing.T, b []byte) {
		dst := cifar.Set{X: make([]uint8, 2*cifar.D), Y: make([]uint8, 2)}
		err := cifar.ReadBatch(dst, bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(b) < 2*cifar.RecordSize {
			t.Fatalf("read 2 records from %d bytes", len(b))
		}
		for i := range 2 {
			if dst.Y[i] >= cifar.Classes || dst.Y[i] != b[i*cifar.RecordSize] {
				t.Fatalf("record %d: label %d from byte %d", i, dst.Y[i], b[i*cifar.RecordSize])
			}
			if !bytes.Equal(dst.Row(i), b[i*cifar.RecordSize+1:(i+1)*cifar.RecordSize]) {
				t.Fatalf("record %d: pixels differ from the bytes", i)
			}
		}
	})
}
