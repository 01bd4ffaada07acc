package cifar_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
)

// Opt-in: Python's own pickle reads what cifartest.Pickle writes as the
// cs231n loader does (pickle.load(f, encoding='latin1')), with the same
// labels and pixels, so the fixture is faithful to the real files.
func TestPickleFixtureIsWhatPythonReads(t *testing.T) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import numpy").Run() != nil {
		t.Skip("no python3 with numpy at /usr/bin/python3; install python3-numpy to run this check")
	}
	s := cifartest.RandomSet(4, rand.New(rand.NewPCG(3, 3)))
	path := filepath.Join(t.TempDir(), "data_batch_1")
	os.WriteFile(path, cifartest.Pickle(s, "training batch 1 of 5"), 0o644)
	out, err := exec.Command(py, "-c", `
import pickle, sys, hashlib
d = pickle.load(open(sys.argv[1], "rb"), encoding="latin1")
print(d["batch_label"], d["data"].dtype, d["data"].shape, d["labels"], d["filenames"][3])
print(hashlib.md5(d["data"].tobytes()).hexdigest())
`, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := fmt.Sprintf("training batch 1 of 5 uint8 (4, 3072) [%s] image_00003.png", fmtInts(s.Y))
	if lines[0] != want {
		t.Errorf("python read %q, want %q", lines[0], want)
	}
	if got := md5hex(s.X); lines[1] != got {
		t.Errorf("python's pixels hash to %s, ours to %s", lines[1], got)
	}
}

func fmtInts(y []uint8) string {
	var b strings.Builder
	for i, v := range y {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(rune('0' + v)))
	}
	return b.String()
}

// Eight million nested MARKs (8 MB) took 2.3 GB and 19 s to unpickle; the
// scan refuses them before the unpickler sees them.
func TestPickleMarkBomb(t *testing.T) {
	b := append(bytes.Repeat([]byte{'('}, 8_000_000), '.')
	err := cifar.CheckPickle(b)
	if err == nil || !strings.Contains(err.Error(), "nested MARKs") {
		t.Errorf("checkPickle of 8M MARKs: %v", err)
	}
	// A few marks, as a real batch has, pass.
	if err := cifar.CheckPickle([]byte("((N1N1.")); err != nil {
		t.Errorf("a few marks: %v", err)
	}
}
