// Package scripts holds the tests of the shell scripts beside them.
package scripts

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// nettrain is the binary the script runs, built once by TestMain.
var nettrain string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "get_cifar10_test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	nettrain = filepath.Join(dir, "nettrain")
	build := exec.Command("go", "build", "-o", nettrain, "../cmd/nettrain")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building nettrain: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var batchFiles = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}

// fixture returns a small archive laid out as the official one, its files,
// and an md5sum file for them.
func fixture(t *testing.T, seed uint64) (archive []byte, files map[string][]byte, sums string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	files = map[string][]byte{"batches.meta.txt": []byte("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n")}
	for _, name := range batchFiles {
		b := make([]byte, 3*3073)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		files[name] = b
		sums += fmt.Sprintf("%x  %s\n", md5.Sum(b), name)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "cifar-10-batches-bin/", Typeflag: tar.TypeDir, Mode: 0o755})
	for name, b := range files {
		tw.WriteHeader(&tar.Header{Name: "cifar-10-batches-bin/" + name, Mode: 0o644, Size: int64(len(b)), ModTime: time.Unix(1e9, 0)})
		tw.Write(b)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes(), files, sums
}

// server serves body with Range support; the first failFirst requests get 503.
type server struct {
	body      []byte
	failFirst int64
	hits      atomic.Int64
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n := s.hits.Add(1); n <= s.failFirst {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	http.ServeContent(w, r, "cifar-10-binary.tar.gz", time.Unix(1e9, 0), bytes.NewReader(s.body))
}

func runScript(t *testing.T, dest, url, sumsFile string) (string, error) {
	t.Helper()
	for _, tool := range []string{"bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	cmd := exec.Command("bash", "get_cifar10.sh", dest)
	cmd.Env = append(os.Environ(), "NETTRAIN="+nettrain, "CIFAR10_URL="+url, "CIFAR10_MD5SUMS="+sumsFile, "CIFAR10_RETRIES=3")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestGetCIFAR10(t *testing.T) {
	archive, files, sums := fixture(t, 1)
	tmp := t.TempDir()
	sumsFile := filepath.Join(tmp, "md5sums")
	os.WriteFile(sumsFile, []byte(sums), 0o644)
	dest := filepath.Join(tmp, "data", "cifar-10-batches-bin")

	srv := &server{body: archive, failFirst: 2} // two failures, then success: retried
	ts := httptest.NewServer(srv)
	defer ts.Close()

	out, err := runScript(t, dest, ts.URL+"/cifar-10-binary.tar.gz", sumsFile)
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dest, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s not extracted intact (err %v)", name, err)
		}
	}
	if n := srv.hits.Load(); n != 3 {
		t.Errorf("%d requests, want 3 (two 503s, then the download)", n)
	}
	if ents, _ := os.ReadDir(filepath.Dir(dest)); len(ents) != 1 {
		t.Errorf("leftovers beside the data: %v", ents)
	}

	// Second run: valid data is left alone, nothing downloaded.
	before := srv.hits.Load()
	out, err = runScript(t, dest, ts.URL+"/cifar-10-binary.tar.gz", sumsFile)
	if err != nil || !strings.Contains(out, "nothing to do") || srv.hits.Load() != before {
		t.Errorf("second run: err %v, %d new requests\n%s", err, srv.hits.Load()-before, out)
	}

	// A damaged file in place is detected and replaced.
	os.WriteFile(filepath.Join(dest, "data_batch_4.bin"), []byte("junk"), 0o644)
	if out, err = runScript(t, dest, ts.URL+"/cifar-10-binary.tar.gz", sumsFile); err != nil {
		t.Fatalf("repair run: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dest, "data_batch_4.bin")); !bytes.Equal(got, files["data_batch_4.bin"]) {
		t.Error("damaged data_batch_4.bin was not replaced")
	}
}

func TestGetCIFAR10Failures(t *testing.T) {
	archive, _, sums := fixture(t, 2)
	tmp := t.TempDir()
	sumsFile := filepath.Join(tmp, "md5sums")
	// One wrong sum: the archive does not match what is expected.
	lines := strings.Split(strings.TrimSpace(sums), "\n")
	for i, l := range lines {
		if strings.HasSuffix(l, "test_batch.bin") {
			lines[i] = strings.Repeat("0", 32) + "  test_batch.bin"
		}
	}
	os.WriteFile(sumsFile, []byte(strings.Join(lines, "\n")+"\n"), 0o644)

	for _, tc := range []struct {
		name    string
		handler http.Handler
		want    string
	}{
		{"checksum mismatch", &server{body: archive}, "checksum mismatch"},
		{"not a tar.gz", &server{body: []byte("<html>moved</html>")}, "is not a .tar.gz"},
		{"not found", http.NotFoundHandler(), "could not download"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(tc.handler)
			defer ts.Close()
			// Under a data/ that does not exist yet, as on a first make train.
			parent := filepath.Join(t.TempDir(), "data")
			dest := filepath.Join(parent, "cifar-10-batches-bin")
			out, err := runScript(t, dest, ts.URL+"/x.tar.gz", sumsFile)
			if err == nil {
				t.Fatalf("script succeeded:\n%s", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output does not say %q:\n%s", tc.want, out)
			}
			if _, err := os.Stat(dest); err == nil {
				t.Error("destination created despite the failure")
			}
			if _, err := os.Stat(parent); err == nil {
				t.Errorf("an empty %s left behind", parent)
			}
			if tc.name == "not found" {
				for _, way := range []string{"--data", "NETTRAIN_DATA", "CIFAR10_URL", "file://"} {
					if !strings.Contains(out, way) {
						t.Errorf("a failed download does not name %s:\n%s", way, out)
					}
				}
			}
		})
	}
}

// A partial download left by an interrupted run is resumed, not restarted.
func TestGetCIFAR10Resumes(t *testing.T) {
	archive, _, sums := fixture(t, 3)
	tmp := t.TempDir()
	sumsFile := filepath.Join(tmp, "md5sums")
	os.WriteFile(sumsFile, []byte(sums), 0o644)
	dest := filepath.Join(tmp, "cifar-10-batches-bin")
	os.WriteFile(filepath.Join(tmp, ".cifar-10-binary.tar.gz.part"), archive[:len(archive)/2], 0o644)

	var ranges []string
	srv := &server{body: archive}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ranges = append(ranges, r.Header.Get("Range"))
		srv.ServeHTTP(w, r)
	}))
	defer ts.Close()
	if out, err := runScript(t, dest, ts.URL+"/a.tar.gz", sumsFile); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if want := fmt.Sprintf("bytes=%d-", len(archive)/2); len(ranges) != 1 || ranges[0] != want {
		t.Errorf("requests with Range %q, want one with %q", ranges, want)
	}
}

// A DEST that is the user's own copy under another name (NETTRAIN_DATA set
// to a Python directory or an archive) is left for nettrain to read; one
// that does not exist is an error naming what to do.
func TestGetCIFAR10OtherNames(t *testing.T) {
	own := filepath.Join(t.TempDir(), "cifar-10-batches-py")
	os.MkdirAll(own, 0o755)
	if out, err := runScript(t, own, "http://127.0.0.1:1/none", ""); err != nil || !strings.Contains(out, "reads it as it is") {
		t.Errorf("existing %s: %v\n%s", own, err, out)
	}
	missing := filepath.Join(t.TempDir(), "mydata")
	if out, err := runScript(t, missing, "http://127.0.0.1:1/none", ""); err == nil || !strings.Contains(out, "cifar-10-batches-bin") {
		t.Errorf("missing %s: %v\n%s", missing, err, out)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("%s created", missing)
	}
}
