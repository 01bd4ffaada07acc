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
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/fsutil"
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
// path. It does nothing if the files there already have the right sums. It
// replaces only the archive's own files there (the six batches and
// batches.meta.txt), and only once all six are verified; anything else in
// the directory stays. A dir that Fetch made is removed again if the fetch
// fails and leaves it empty.
func (f Fetcher) Fetch(ctx context.Context, dir string) (dest string, err error) {
	if f.URL == "" {
		f.URL = OfficialURL
	}
	if f.Sums == nil {
		f.Sums = cifar.OfficialMD5
	}
	if u, err := url.Parse(f.URL); err != nil || u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file" {
		return "", fmt.Errorf("%q is not an http, https or file URL; %s", f.URL, OtherWays)
	}
	dest = filepath.Join(dir, DirName)
	if err := Verify(dest, f.Sums); err == nil {
		f.logf("%s already holds the six verified batches; nothing to do", dest)
		return dest, nil
	}
	if st, err := os.Stat(dest); err == nil && !st.IsDir() {
		return "", fmt.Errorf("%s exists and is not a directory; move it away and run again", dest)
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		defer func() {
			if err != nil {
				os.Remove(dir) // only if empty
			}
		}()
	}
	part := filepath.Join(dir, ".cifar-10-binary.tar.gz.part")
	if err := f.download(ctx, part); err != nil {
		if st, serr := os.Stat(part); serr == nil && st.Size() == 0 {
			os.Remove(part)
		}
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

// ReadSums reads an md5sum-format file ("HEX  NAME" per line) with a sum for
// each of the six batch files.
func ReadSums(name string) (map[string]string, error) {
	b, err := fsutil.ReadFileLimit(name, 1<<16, "an md5sum file")
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		sum, file, ok := strings.Cut(strings.TrimSpace(line), " ")
		file = strings.TrimPrefix(strings.TrimSpace(file), "*")
		if _, err := hex.DecodeString(sum); !ok || err != nil || len(sum) != 32 {
			return nil, fmt.Errorf("%s:%d: want \"MD5  NAME\", got %q", name, i+1, line)
		}
		sums[file] = strings.ToLower(sum)
	}
	for _, batch := range cifar.BatchFiles {
		if sums[batch] == "" {
			return nil, fmt.Errorf("%s has no sum for %s", name, batch)
		}
	}
	return sums, nil
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
		if errors.As(err, &perm) || ctx.Err() != nil || strings.HasPrefix(f.URL, "file:") {
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
	"or the cifar-10-batches-bin directory in it, to {data} or NETTRAIN_DATA=PATH (make train reads NETTRAIN_DATA too), " +
	"or point {url} (CIFAR10_URL for make data) at another copy; file:///path/to/cifar-10-binary.tar.gz works"

// client is f.Client, or one that also reads file:// URLs (with ranges, so
// a partial copy resumes too).
func (f Fetcher) client() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.RegisterProtocol("file", http.NewFileTransport(http.Dir("/")))
	return &http.Client{Transport: t}
}

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
	resp, err := f.client().Do(req)
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

// Bounds on what install unpacks: the official archive holds the six
// 30,730,000-byte batches, a 61-byte batches.meta.txt and an 88-byte
// readme.html, 184 MB in all.
const (
	maxMember  = cifar.RecordsPerBatch * cifar.RecordSize
	maxMeta    = 1 << 16
	maxArchive = 256 << 20
)

// install unpacks the archive at part into a fresh directory beside dest,
// checks every batch's MD5 on the way, and only then moves the files into
// dest: the whole directory at once if dest does not exist, else file by
// file over the archive's own names.
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
	// The tar reader reads past members it skips; bound the whole stream.
	tr := tar.NewReader(&limitedReader{r: zr, n: maxArchive})
	wanted := map[string]int64{"batches.meta.txt": maxMeta}
	for _, name := range cifar.BatchFiles {
		wanted[name] = maxMember
	}
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, errTooBig) {
			return fail("%s unpacks to more than %d MiB; the CIFAR-10 archive is 184 MB", f.URL, maxArchive>>20)
		}
		if err != nil {
			return fail("damaged archive (%v)", err)
		}
		name := path.Base(h.Name)
		limit, ok := wanted[name]
		if h.Typeflag != tar.TypeReg || path.Clean(h.Name) != DirName+"/"+name || !ok || got[name] != "" {
			continue
		}
		if h.Size > limit {
			return fail("%s in the archive is %d bytes, more than the %d a CIFAR-10 %s holds", h.Name, h.Size, limit, name)
		}
		out, err := os.OpenFile(filepath.Join(work, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		sum := md5.New()
		_, err = io.Copy(io.MultiWriter(out, sum), tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if errors.Is(err, errTooBig) {
			return fail("%s unpacks to more than %d MiB; the CIFAR-10 archive is 184 MB", f.URL, maxArchive>>20)
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
	if _, err := os.Lstat(dest); errors.Is(err, fs.ErrNotExist) {
		if err := os.Chmod(work, 0o755); err != nil {
			return err
		}
		return os.Rename(work, dest)
	}
	// dest exists with missing or damaged files: replace the archive's own
	// files, and nothing else.
	var replaced []string
	for _, name := range append(cifar.BatchFiles, "batches.meta.txt") {
		if got[name] == "" {
			continue
		}
		target := filepath.Join(dest, name)
		if st, err := os.Lstat(target); err == nil && !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file; move it away and run again", target)
		}
		if err := os.Rename(filepath.Join(work, name), target); err != nil {
			return err
		}
		replaced = append(replaced, name)
	}
	f.logf("replaced %s in %s, the verified files from the archive; other files there are untouched", strings.Join(replaced, ", "), dest)
	return nil
}

var errTooBig = errors.New("archive too big")

// limitedReader reads at most n bytes from r, then fails with errTooBig.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errTooBig
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	return k, err
}
