package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
)

func TestDataFetchThenInfoThenTrain(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 41))
	files := cifartest.Files(cifartest.RandomSet(5*fixturePer, rng), cifartest.RandomSet(fixturePer, rng), fixturePer, false)
	archive := cifartest.TarGz("cifar-10-batches-bin", files)
	sums := map[string]string{}
	for _, name := range cifar.BatchFiles {
		s := md5.Sum(files[name])
		sums[name] = hex.EncodeToString(s[:])
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "a.tar.gz", time.Unix(1e9, 0), bytes.NewReader(archive))
	}))
	defer ts.Close()
	e := testEnv()
	e.sums = sums
	dir := t.TempDir()

	r := runCmd(t, e, "data", "fetch", "--dir", dir, "--url", ts.URL)
	want := filepath.Join(dir, "cifar-10-batches-bin")
	if r.code != 0 || strings.TrimSpace(r.stdout) != want {
		t.Fatalf("data fetch: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	r = runCmd(t, e, "data", "info", "--data", want, "--num-train", "150", "--num-val", "50", "--num-test", "40", "--json")
	var info dataInfo
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || r.code != 0 {
		t.Fatalf("data info: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if !info.Official || info.Format != cifar.FormatBinaryDir || info.Train != 200 || info.Test != 40 {
		t.Errorf("info %+v", info)
	}
	total := 0
	for _, n := range info.Splits["val"] {
		total += n
	}
	if total != 50 {
		t.Errorf("val class counts sum to %d, want 50", total)
	}
	if info.Mean < 64 || info.Mean > 160+96 {
		t.Errorf("mean pixel %v", info.Mean)
	}
	r = runCmd(t, e, append([]string{"train", "--data", want, "--iters", "3", "--batch", "5", "-q", "--out", filepath.Join(dir, "m.npz")}, small...)...)
	if r.code != 0 {
		t.Errorf("train on the fetched data: exit %d %s", r.code, r.stderr)
	}

	// Against the official sums the fixture is not CIFAR-10: the report
	// says which batches differ, and the exit status is 1.
	r = runCmd(t, testEnv(), "data", "info", "--data", want, "--num-train", "150", "--num-val", "50", "--num-test", "40")
	if r.code != 1 || !strings.Contains(r.stdout, "MISMATCH") || !strings.Contains(r.stderr, "differ from the official CIFAR-10") || !strings.Contains(r.stdout, "automobile") {
		t.Errorf("data info on a non-official dataset: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A failed fetch: the fixture does not have the official sums.
	r = runCmd(t, testEnv(), "data", "fetch", "--dir", t.TempDir(), "--url", ts.URL, "-q")
	if r.code != 1 || !strings.Contains(r.stderr, "checksum mismatch") {
		t.Errorf("fetch with official sums: exit %d %s", r.code, r.stderr)
	}
	if r := runCmd(t, e, "data"); r.code != 2 {
		t.Errorf("data without a subcommand: exit %d", r.code)
	}
}
