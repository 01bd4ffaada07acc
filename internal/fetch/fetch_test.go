package fetch

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
)

// fixture returns a small archive laid out as the official one, and the
// MD5s of its batch files.
func fixture(seed uint64) ([]byte, map[string][]byte, map[string]string) {
	rng := rand.New(rand.NewPCG(seed, seed))
	files := cifartest.Files(cifartest.RandomSet(5*3, rng), cifartest.RandomSet(3, rng), 3, false)
	sums := map[string]string{}
	for _, name := range cifar.BatchFiles {
		s := md5.Sum(files[name])
		sums[name] = hex.EncodeToString(s[:])
	}
	return cifartest.TarGz(DirName, files), files, sums
}

// server serves body with Range support; the first failFirst requests get
// a 503; it records the Range header of each request.
type server struct {
	body      []byte
	failFirst int64
	hits      atomic.Int64
	mu        sync.Mutex
	ranges    []string
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	s.mu.Unlock()
	if n := s.hits.Add(1); n <= s.failFirst {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	http.ServeContent(w, r, "cifar-10-binary.tar.gz", time.Unix(1e9, 0), bytes.NewReader(s.body))
}

func TestFetch(t *testing.T) {
	archive, files, sums := fixture(1)
	srv := &server{body: archive, failFirst: 2}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dir := t.TempDir()
	var progressed atomic.Int64
	f := Fetcher{URL: ts.URL, Sums: sums, Backoff: time.Millisecond,
		Progress: func(total, done int64) io.Writer {
			if total != int64(len(archive)) {
				t.Errorf("progress total %d, want %d", total, len(archive))
			}
			return countWriter{&progressed}
		}}
	dest, err := f.Fetch(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		if got, err := os.ReadFile(filepath.Join(dest, name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s not installed intact (%v)", name, err)
		}
	}
	if srv.hits.Load() != 3 {
		t.Errorf("%d requests, want 3 (two 503s, then the archive)", srv.hits.Load())
	}
	if progressed.Load() != int64(len(archive)) {
		t.Errorf("progress saw %d bytes, want %d", progressed.Load(), len(archive))
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("leftovers beside the data: %v", ents)
	}
	// The installed data loads.
	if _, err := (cifar.Loader{RecordsPerBatch: 3}).Load(dest); err != nil {
		t.Errorf("installed data does not load: %v", err)
	}
	// Again: nothing downloaded.
	before := srv.hits.Load()
	if _, err := f.Fetch(context.Background(), dir); err != nil || srv.hits.Load() != before {
		t.Errorf("second fetch: err %v, %d requests", err, srv.hits.Load()-before)
	}
}

func TestFetchResumes(t *testing.T) {
	archive, _, sums := fixture(2)
	srv := &server{body: archive}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dir := t.TempDir()
	half := len(archive) / 2
	os.WriteFile(filepath.Join(dir, ".cifar-10-binary.tar.gz.part"), archive[:half], 0o644)
	if _, err := (Fetcher{URL: ts.URL, Sums: sums}).Fetch(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("bytes=%d-", half); len(srv.ranges) != 1 || srv.ranges[0] != want {
		t.Errorf("requests with Range %q, want one with %q", srv.ranges, want)
	}
}

func TestFetchFailures(t *testing.T) {
	archive, _, sums := fixture(3)
	wrong := map[string]string{}
	for k, v := range sums {
		wrong[k] = v
	}
	wrong["data_batch_2.bin"] = strings.Repeat("0", 32)
	for _, tc := range []struct {
		name    string
		handler http.Handler
		sums    map[string]string
		want    string
	}{
		{"checksum mismatch", &server{body: archive}, wrong, "checksum mismatch: data_batch_2.bin"},
		{"not a tar.gz", &server{body: []byte("<html>moved</html>")}, sums, "is not a .tar.gz"},
		{"not found", http.NotFoundHandler(), sums, "404 Not Found"},
		{"always busy", &server{body: archive, failFirst: 100}, sums, "503 Service Unavailable"},
		{"archive without the batches", &server{body: cifartest.TarGz("other", map[string][]byte{"x": {1}})}, sums, "has no cifar-10-batches-bin/data_batch_1.bin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(tc.handler)
			defer ts.Close()
			dir := t.TempDir()
			_, err := (Fetcher{URL: ts.URL, Sums: tc.sums, Retries: 3, Backoff: time.Millisecond}).Fetch(context.Background(), dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
			if tc.name == "not found" {
				for _, way := range []string{"{data}", "NETTRAIN_DATA", "{url}", "CIFAR10_URL", "file://"} {
					if !strings.Contains(err.Error(), way) {
						t.Errorf("a failed download does not name %s: %v", way, err)
					}
				}
			}
			if _, err := os.Stat(filepath.Join(dir, DirName)); err == nil {
				t.Error("destination created despite the failure")
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("left behind: %v", ents)
			}
		})
	}
}

// A damaged dataset is repaired in place: the archive's own files are
// replaced, the user's other files and any cifar-10-batches-bin.old beside
// it are left alone.
func TestFetchRepairsWithoutDeleting(t *testing.T) {
	archive, files, sums := fixture(4)
	ts := httptest.NewServer(&server{body: archive})
	defer ts.Close()
	dir := t.TempDir()
	dest := filepath.Join(dir, DirName)
	os.MkdirAll(dest, 0o755)
	os.MkdirAll(dest+".old", 0o755)
	os.WriteFile(filepath.Join(dest, "notes.txt"), []byte("mine"), 0o644)
	os.WriteFile(filepath.Join(dest+".old", "keep.bin"), []byte("mine too"), 0o644)
	os.WriteFile(filepath.Join(dest, "data_batch_4.bin"), []byte("damaged"), 0o644)
	var logged []string
	f := Fetcher{URL: ts.URL, Sums: sums, Log: func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }}
	if _, err := f.Fetch(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if err := Verify(dest, sums); err != nil {
		t.Errorf("not repaired: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "data_batch_4.bin")); !bytes.Equal(b, files["data_batch_4.bin"]) {
		t.Error("data_batch_4.bin not replaced")
	}
	for path, want := range map[string]string{filepath.Join(dest, "notes.txt"): "mine", filepath.Join(dest+".old", "keep.bin"): "mine too"} {
		if b, err := os.ReadFile(path); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; the user's file is gone or changed", path, b, err)
		}
	}
	if !strings.Contains(strings.Join(logged, "\n"), "replaced") {
		t.Errorf("the log does not say what was replaced: %q", logged)
	}
	// A symlink where a batch goes is not followed.
	os.Remove(filepath.Join(dest, "data_batch_2.bin"))
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("do not overwrite"), 0o644)
	os.Symlink(victim, filepath.Join(dest, "data_batch_2.bin"))
	if _, err := (Fetcher{URL: ts.URL, Sums: sums}).Fetch(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("symlink in place of a batch: err %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "do not overwrite" {
		t.Error("the symlink's target was written")
	}
}

// Extraction is bounded: a batch larger than a CIFAR-10 batch, or an
// archive that unpacks to more than the real one could, is refused before
// it fills the disk, and nothing is installed.
func TestFetchBoundsExtraction(t *testing.T) {
	_, files, sums := fixture(5)
	big := map[string][]byte{}
	for k, v := range files {
		big[k] = v
	}
	big["data_batch_1.bin"] = make([]byte, maxMember+1)
	bomb := map[string][]byte{"junk": make([]byte, maxArchive+1)}
	for k, v := range files {
		bomb[k] = v
	}
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"oversized batch", big, "more than the 30730000 a CIFAR-10 data_batch_1.bin holds"},
		{"oversized archive", bomb, "unpacks to more than 256 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(&server{body: cifartest.TarGz(DirName, tc.files)})
			defer ts.Close()
			dir := t.TempDir()
			_, err := (Fetcher{URL: ts.URL, Sums: sums}).Fetch(context.Background(), dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("left behind: %v", ents)
			}
		})
	}
}

// file:// URLs work (the way in for an archive copied by hand), a missing
// file is not retried, and other schemes are refused at once.
func TestFetchFileURL(t *testing.T) {
	archive, _, sums := fixture(6)
	src := filepath.Join(t.TempDir(), "cifar-10-binary.tar.gz")
	os.WriteFile(src, archive, 0o644)
	dir := t.TempDir()
	if _, err := (Fetcher{URL: "file://" + src, Sums: sums}).Fetch(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if err := Verify(filepath.Join(dir, DirName), sums); err != nil {
		t.Error(err)
	}
	var attempts int
	f := Fetcher{URL: "file://" + src + ".missing", Sums: sums, Log: func(format string, args ...any) {
		if strings.HasPrefix(format, "download attempt") {
			attempts++
		}
	}}
	start := time.Now()
	if _, err := f.Fetch(context.Background(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "404") || attempts != 0 || time.Since(start) > 500*time.Millisecond {
		t.Errorf("missing file: err %v, %d retries in %v, want one attempt", err, attempts, time.Since(start))
	}
	for _, u := range []string{"ftp://example.com/a.tar.gz", "data/a.tar.gz"} {
		if _, err := (Fetcher{URL: u}).Fetch(context.Background(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "not an http, https or file URL") {
			t.Errorf("%s: err %v", u, err)
		}
	}
}

// A first fetch into a directory that does not exist yet leaves no empty
// directory behind when it fails.
func TestFetchFailureLeavesNoDir(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	defer ts.Close()
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := (Fetcher{URL: ts.URL}).Fetch(context.Background(), dir); err == nil {
		t.Fatal("fetch of a 404 succeeded")
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s left behind", dir)
	}
}
