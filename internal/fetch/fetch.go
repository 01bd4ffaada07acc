// Package fetch downloads the official CIFAR-10 binary archive, resuming a
// partial download and retrying on network errors, checks the MD5 of each
// batch file, and only then moves the files into place: the destination
// never holds a half-extracted or unverified dataset.
package fetch

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nettrain/nettrain/internal/cifar"
)

// OfficialURL is where the CIFAR-10 binary archive is published.
const OfficialURL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"

// DirName is the directory the archive unpacks to.
const DirName = "cifar-10-batches-bin"

// Fetcher downloads and installs CIFAR-10. Its zero value fetches the
// official archive with the official checksums.
type Fetcher struct {
	URL     string            // archive address; "" means OfficialURL
	Sums    map[string]string // MD5 of each batch file; nil means cifar.OfficialMD5
	Client  *http.Client      // nil means http.DefaultClient
	Retries int               // download attempts; 0 means 5
	Backoff time.Duration     // wait before the second attempt, doubling after; 0 means 1s

	// Progress, if set, is called once the size is known and returns a
	// writer that the downloaded bytes are copied to (a progress bar).
	Progress func(total, done int64) io.Writer
	// Log, if set, receives one line per event.
	Log func(format string, args ...any)
}

func (f Fetcher) logf(format string, args ...any) {
	if f.Log != nil {
		f.Log(format, args...)
	}
}

// Fetch installs CIFAR-10 in dir/cifar-10-batches-bin and returns that
// path. It does nothing if the files there already have the right sums.
func (f Fetcher) Fetch(ctx context.Context, dir string) (string, error) {
	if f.URL == "" {
		f.URL = OfficialURL
	}
	if f.Sums == nil {
		f.Sums = cifar.OfficialMD5
	}
	dest := filepath.Join(dir, DirName)
	if err := Verify(dest, f.Sums); err == nil {
		f.logf("%s already holds the six verified batches; nothing to do", dest)
		return dest, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	part := filepath.Join(dir, ".cifar-10-binary.tar.gz.part")
	if err := f.download(ctx, part); err != nil {
		return "", err
	}
	if err := f.install(part, dir, dest); err != nil {
		return "", err
	}
	os.Remove(part)
	f.logf("CIFAR-10 is in %s (six batches verified)", dest)
	return dest, nil
}

// Verify checks the MD5 of each batch file in dir against sums.
func Verify(dir string, sums map[string]string) error {
	var bad []string
	for _, name := range cifar.BatchFiles {
		got, err := fileMD5(filepath.Join(dir, name))
		if err != nil || got != sums[name] {
			bad = append(bad, name)
		}
	}
	if bad != nil {
		return fmt.Errorf("checksum mismatch or missing: %s", strings.Join(bad, ", "))
	}
	return nil
}

func fileMD5(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := md5.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// download fetches f.URL into part, resuming from the bytes already there.
func (f Fetcher) download(ctx context.Context, part string) error {
	retries, backoff := f.Retries, f.Backoff
	if retries == 0 {
		retries = 5
	}
	if backoff == 0 {
		backoff = time.Second
	}
	var err error
	for try := 1; try <= retries; try++ {
		if err = f.downloadOnce(ctx, part); err == nil {
			return nil
		}
		var perm permanentError
		if errors.As(err, &perm) || ctx.Err() != nil {
			break
		}
		f.logf("download attempt %d/%d failed: %v", try, retries, err)
		if try < retries {
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return ctx.Err()
			}
			backoff *= 2
		}
	}
	return fmt.Errorf("could not download %s: %w; %s", f.URL, err, OtherWays)
}

// OtherWays says every other way to get CIFAR-10 to nettrain, for a
// download that failed; scripts/get_cifar10.sh says the same.
const OtherWays = "get CIFAR-10 another way: download cifar-10-binary.tar.gz by hand and pass the archive, " +
	"or the cifar-10-batches-bin directory in it, to --data or NETTRAIN_DATA=PATH (make train reads NETTRAIN_DATA too), " +
	"or point --url (CIFAR10_URL for make data) at another copy; file:///path/to/cifar-10-binary.tar.gz works"

// permanentError is a failure that retrying cannot mend (a 404, say).
type permanentError struct{ error }

func (f Fetcher) downloadOnce(ctx context.Context, part string) error {
	var have int64
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return permanentError{err}
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	flags := os.O_WRONLY | os.O_CREATE
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		flags |= os.O_APPEND
		f.logf("resuming the download at %d bytes", have)
	case resp.StatusCode == http.StatusOK:
		flags |= os.O_TRUNC
		have = 0
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		return nil // the part file is already whole
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("server answered %s", resp.Status)
	default:
		return permanentError{fmt.Errorf("server answered %s", resp.Status)}
	}
	out, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return permanentError{err}
	}
	var w io.Writer = out
	if f.Progress != nil {
		total := int64(-1)
		if resp.ContentLength >= 0 {
			total = have + resp.ContentLength
		}
		w = io.MultiWriter(out, f.Progress(total, have))
	}
	_, err = io.Copy(w, resp.Body)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// install unpacks the archive at part into a fresh directory beside dest,
// checks every batch's MD5 on the way, and renames it over dest.
func (f Fetcher) install(part, dir, dest string) error {
	work, err := os.MkdirTemp(dir, ".cifar-10-extract-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fail := func(format string, args ...any) error {
		os.Remove(part) // a damaged download is not worth resuming
		return fmt.Errorf(format+"; removed the download, run again to fetch it afresh", args...)
	}
	fh, err := os.Open(part)
	if err != nil {
		return err
	}
	defer fh.Close()
	zr, err := gzip.NewReader(bufio.NewReader(fh))
	if err != nil {
		return fail("%s is not a .tar.gz (%v)", f.URL, err)
	}
	tr := tar.NewReader(zr)
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail("damaged archive (%v)", err)
		}
		name := filepath.Base(h.Name)
		if h.Typeflag != tar.TypeReg || filepath.Base(filepath.Dir(h.Name)) != DirName || strings.HasPrefix(name, ".") {
			continue
		}
		out, err := os.Create(filepath.Join(work, name))
		if err != nil {
			return err
		}
		sum := md5.New()
		_, err = io.Copy(io.MultiWriter(out, sum), tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fail("damaged archive at %s (%v)", h.Name, err)
		}
		got[name] = hex.EncodeToString(sum.Sum(nil))
	}
	for _, name := range cifar.BatchFiles {
		switch {
		case got[name] == "":
			return fail("the archive has no %s/%s; is %s the binary version?", DirName, name, f.URL)
		case got[name] != f.Sums[name]:
			return fail("checksum mismatch: %s has MD5 %s, want %s", name, got[name], f.Sums[name])
		}
	}
	old := dest + ".old"
	os.RemoveAll(old)
	if _, err := os.Stat(dest); err == nil {
		if err := os.Rename(dest, old); err != nil {
			return err
		}
	}
	if err := os.Rename(work, dest); err != nil {
		return err
	}
	os.Chmod(dest, 0o755)
	return os.RemoveAll(old)
}
