// Package fsutil writes files atomically: a reader of the destination sees
// either the old file or the whole new one, never a part, even if the
// process is killed in the middle of a write; and it opens files that a user
// names only if they are regular files, and reads them only up to a bound.
package fsutil

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// WriteAtomic writes path through write: to a temporary file in the same
// directory, flushed and synced, then renamed over path, and the directory
// synced so that the rename survives a crash. On any error the temporary file
// is removed and path is left as it was.
func WriteAtomic(path string, write func(w io.Writer) error) (err error) {
	// The rename would replace whatever path is: a device node (as root,
	// --out /dev/null would become a file), a FIFO, a socket. Only a
	// regular file, or a symlink (the link is replaced, not its target), or
	// nothing.
	if st, err := os.Lstat(path); err == nil && !st.Mode().IsRegular() && st.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("%s is %s, not a regular file: refusing to replace it", path, kind(st.Mode()))
	}
	removeStaleTemps(path)
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-"+writerTag()+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// staleTemp is how old a temporary file of WriteAtomic must be before a
// later write to the same path removes it, when its writer cannot be
// checked (another machine's, or from before temporary files named their
// writer). No save takes an hour; a live one is younger.
const staleTemp = time.Hour

// writerTag names this process in its temporary files: host and pid, so
// that a later save knows whether the writer of a leftover is gone.
func writerTag() string {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, host)
	return fmt.Sprintf("%s~%d", host, os.Getpid())
}

// removeStaleTemps removes the temporary files of earlier writes to path
// that were never renamed (SIGKILL, an OOM kill, a crash): at once when the
// file names a writer on this machine that is gone, after staleTemp
// otherwise. Without this, each left up to a checkpoint's size of hidden
// junk.
func removeStaleTemps(path string) {
	prefix := "." + filepath.Base(path) + ".tmp-"
	old, _ := filepath.Glob(filepath.Join(filepath.Dir(path), prefix+"*"))
	host, _, _ := strings.Cut(writerTag(), "~")
	for _, name := range old {
		st, err := os.Lstat(name)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		// .NAME.tmp-HOST~PID-RANDOM
		tag, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(name), prefix), "-")
		h, pidText, ok := strings.Cut(tag, "~")
		pid, err := strconv.Atoi(pidText)
		gone := ok && err == nil && h == host && pid > 0 && pid != os.Getpid() && !ProcessAlive(pid)
		if gone || time.Since(st.ModTime()) > staleTemp {
			os.Remove(name)
		}
	}
}

// OpenRegular opens name for reading and fails unless it is a regular file
// (after symlinks): a FIFO would block and a device may never end. Opening
// does not block on a FIFO.
func OpenRegular(name string) (*os.File, error) { return openRegular(name, 0) }

// openRegular opens name with the extra flags and checks what it opened.
func openRegular(name string, flags int) (*os.File, error) {
	fh, err := os.OpenFile(name, os.O_RDONLY|openNonblock|flags, 0)
	if err != nil {
		if st, lerr := os.Lstat(name); flags&openNoFollow != 0 && lerr == nil && st.Mode()&os.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s is a symbolic link, want a regular file", name)
		}
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		fh.Close()
		what := "not a regular file"
		switch {
		case st.IsDir():
			what = "a directory"
		case st.Mode()&os.ModeNamedPipe != 0:
			what = "a named pipe (FIFO)"
		case st.Mode()&os.ModeDevice != 0:
			what = "a device"
		}
		return nil, fmt.Errorf("%s is %s, want a regular file", name, what)
	}
	return fh, nil
}

// ReadFileLimit reads the regular file name, which must hold at most max
// bytes; what names what the file should be, for the error.
func ReadFileLimit(name string, max int64, what string) ([]byte, error) {
	fh, err := OpenRegular(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is more than %d bytes, too big for %s", name, max, what)
	}
	return b, nil
}

// OpenRegularNoFollow is OpenRegular, except that a symlink as the last
// element of name is refused: for files inside a directory that others can
// write (a shared sweep), where a link could point anywhere.
func OpenRegularNoFollow(name string) (*os.File, error) {
	return openRegular(name, openNoFollow)
}

// EndLine makes the file f, opened for reading and writing, end with a
// newline if it holds anything (a JSON Lines file whose writer was killed
// mid-line), so that what is appended next starts a whole line. It returns
// the file's size after.
func EndLine(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return 0, err
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], st.Size()-1); err != nil {
		return 0, err
	}
	if last[0] == '\n' {
		return st.Size(), nil
	}
	// Write, not WriteAt: f may be opened with O_APPEND.
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return 0, err
	}
	if _, err := f.Write([]byte{'\n'}); err != nil {
		return 0, err
	}
	return st.Size() + 1, nil
}
