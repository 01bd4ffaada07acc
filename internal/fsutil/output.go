package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Resolve returns the absolute path that name ends at once every symlink
// on the way is followed, its last element too, even when that element
// does not exist yet (a dangling link is followed to where it points). The
// directory that holds the result must exist.
func Resolve(name string) (string, error) {
	p, err := filepath.Abs(name)
	if err != nil {
		return "", err
	}
	for range 40 { // as the kernel's limit on links in a row
		dir, err := filepath.EvalSymlinks(filepath.Dir(p))
		if err != nil {
			return "", err
		}
		full := filepath.Join(dir, filepath.Base(p))
		st, err := os.Lstat(full)
		if err != nil || st.Mode()&fs.ModeSymlink == 0 {
			return full, nil
		}
		target, err := os.Readlink(full)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		p = filepath.Clean(target)
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", name)
}

// Protected is what a run's outputs must not reach: its input directories
// (the data) and files (a checkpoint it reads).
type Protected struct {
	Dirs  []string
	Files []Input
}

// Input is a file a run reads, and what it is to the user ("the training
// data", "the checkpoint --resume reads").
type Input struct{ Path, What string }

// CheckOutput returns an error unless name can take an output: it must
// resolve (Resolve) to a regular file or to nothing yet, not to a device,
// FIFO, socket or directory, and not into a protected directory or onto a
// protected file, by any path or hard link. The error says what name is;
// the caller names the flag.
func CheckOutput(name string, p Protected) error {
	r, err := Resolve(name)
	if err != nil {
		return err
	}
	st, statErr := os.Stat(r)
	if statErr == nil && !st.Mode().IsRegular() {
		what := kind(st.Mode())
		if r != name {
			what += " (" + r + ")"
		}
		return fmt.Errorf("is %s, not a regular file; give a file name", what)
	}
	if err := p.outside(r); err != nil {
		return err
	}
	for _, d := range p.Dirs {
		rd, err := Resolve(d)
		if err != nil {
			continue
		}
		if statErr == nil { // a hard link to a file of the data
			entries, _ := os.ReadDir(rd)
			for _, e := range entries {
				if est, err := os.Stat(filepath.Join(rd, e.Name())); err == nil && os.SameFile(st, est) {
					return fmt.Errorf("is the data file %s under another name; give another file", filepath.Join(d, e.Name()))
				}
			}
		}
	}
	for _, f := range p.Files {
		rf, err := Resolve(f.Path)
		if err != nil {
			continue
		}
		fst, ferr := os.Stat(rf)
		if r == rf || statErr == nil && ferr == nil && os.SameFile(st, fst) {
			return fmt.Errorf("would overwrite %s (%s); give another file", f.What, f.Path)
		}
	}
	return nil
}

// kind names a file mode for an error: "a directory", "a device", ...
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a regular file"
}

// CheckOutputDir returns an error if the directory dir, which may not exist
// yet, is or would be inside a protected directory, by any path.
func CheckOutputDir(dir string, p Protected) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	// The nearest ancestor that exists, resolved, and the rest as written.
	rest := ""
	for {
		if _, err := os.Lstat(abs); err == nil {
			break
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			break
		}
		rest = filepath.Join(filepath.Base(abs), rest)
		abs = parent
	}
	r, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	return p.outside(filepath.Join(r, rest))
}

// outside returns an error if the resolved path r is, or is inside, one of
// p's directories.
func (p Protected) outside(r string) error {
	for _, d := range p.Dirs {
		if rd, err := Resolve(d); err == nil && (r == rd || strings.HasPrefix(r, rd+string(filepath.Separator))) {
			return fmt.Errorf("is inside the data directory %s; give a path outside it", d)
		}
	}
	return nil
}

// Now returns the current time of the file system that holds dir, as the
// modification time of a file created there (the server's clock on NFS),
// or this machine's time if no file can be created.
func Now(dir string) time.Time {
	f, err := os.CreateTemp(dir, ".nettrain-clock-*")
	if err != nil {
		return time.Now()
	}
	defer os.Remove(f.Name())
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return time.Now()
	}
	return st.ModTime()
}

// Output is a file, or (Dir) a directory, that a command will write,
// named as the user named it ("--out").
type Output struct {
	Name, Path string
	Dir        bool
	// Also are inputs this output must not overwrite besides the run's own
	// (the checkpoint --resume reads, which --out itself may replace).
	Also []Input
}

// CheckOutputs makes sure, before any work, that every output can be
// created and is neither an input (CheckOutput, CheckOutputDir) nor
// another output: a collision there loses the dataset or the metrics. A
// directory output is created. The error is one line naming the output.
func CheckOutputs(outs []Output, p Protected) error {
	for i, o := range outs {
		if o.Dir {
			if err := CheckOutputDir(o.Path, p); err != nil {
				return fmt.Errorf("%s %s %v", o.Name, o.Path, err)
			}
			if err := os.MkdirAll(o.Path, 0o755); err != nil {
				return fmt.Errorf("%s: %w", o.Name, err)
			}
			if err := probeWrite(o.Path); err != nil {
				return fmt.Errorf("%s %s: cannot write there (%v)", o.Name, o.Path, err)
			}
			continue
		}
		if st, err := os.Stat(o.Path); err == nil && st.IsDir() {
			return fmt.Errorf("%s %s is a directory; give a file name", o.Name, o.Path)
		}
		dir := filepath.Dir(o.Path)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("%s %s: directory %s does not exist", o.Name, o.Path, dir)
		}
		if err := probeWrite(dir); err != nil {
			return fmt.Errorf("%s %s: cannot write in %s (%v)", o.Name, o.Path, dir, err)
		}
		prot := p
		prot.Files = append(slices.Clip(prot.Files), o.Also...)
		if err := CheckOutput(o.Path, prot); err != nil {
			return fmt.Errorf("%s %s %v", o.Name, o.Path, err)
		}
		for _, b := range outs[:i] {
			if !b.Dir && SamePath(o.Path, b.Path) {
				return fmt.Errorf("%s and %s are both %s; give them different files", b.Name, o.Name, o.Path)
			}
		}
	}
	return nil
}

// ProtectData is what outputs must not reach of the data a run reads: a
// directory of batches, or one archive; flag names it for errors.
func ProtectData(data, flag string) Protected {
	if st, err := os.Stat(data); err == nil && !st.IsDir() {
		return Protected{Files: []Input{{Path: data, What: "the training data, " + flag}}}
	}
	return Protected{Dirs: []string{data}}
}

// SamePath reports whether a and b name the same file: the same existing
// file (through links and hard links), or, for files not there yet, the
// same path once links are followed (Resolve).
func SamePath(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	sa, ea := os.Stat(a)
	sb, eb := os.Stat(b)
	if ea == nil && eb == nil {
		return os.SameFile(sa, sb)
	}
	ra, err := Resolve(a)
	if err != nil {
		ra, _ = filepath.Abs(a)
	}
	rb, err := Resolve(b)
	if err != nil {
		rb, _ = filepath.Abs(b)
	}
	return ra == rb
}

// probeWrite makes sure a file can be created in dir, and leaves none.
func probeWrite(dir string) error {
	probe, err := os.CreateTemp(dir, ".nettrain-probe-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) { // we name the path already
			return pe.Err
		}
		return err
	}
	probe.Close()
	return os.Remove(probe.Name())
}
