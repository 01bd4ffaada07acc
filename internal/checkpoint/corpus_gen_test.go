package checkpoint_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nettrain/nettrain/internal/checkpoint"
)

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzRead when
// NETTRAIN_WRITE_CORPUS is set: a small Save checkpoint with and without
// meta, the numpy ones, and cuts of each.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("NETTRAIN_WRITE_CORPUS") == "" {
		t.Skip("set NETTRAIN_WRITE_CORPUS=1 to regenerate the fuzz seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzRead")
	seeds := map[string][]byte{}
	for i, meta := range []json.RawMessage{nil, json.RawMessage(`{"config":{"hidden":3}}`)} {
		ck := testCheckpoint(uint64(i), 5, 3, 2)
		ck.Meta = meta
		p := filepath.Join(t.TempDir(), "m.npz")
		if err := checkpoint.Save(p, ck); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		seeds[fmt.Sprintf("save%d", i)] = b
	}
	for _, name := range []string{"numpy_f64.npz", "numpy_mixed.npz"} {
		b, _ := os.ReadFile(filepath.Join("testdata", name))
		seeds[name[:len(name)-4]] = b
	}
	for name, b := range seeds {
		for _, cut := range []int{len(b), len(b) / 2, len(b) - 22} {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b[:cut])) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d", name, cut)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
