package cifar

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nettrain/nettrain/internal/fsutil"
)

// Sizes of the official CIFAR-10 binary distribution.
const (
	Height   = 32
	Width    = 32
	Channels = 3
	D        = Height * Width * Channels // inputs per image: 3072
	Classes  = 10

	RecordSize      = 1 + D // one label byte, then the pixels
	RecordsPerBatch = 10000 // records in each official .bin file
	TrainBatches    = 5     // data_batch_1.bin .. data_batch_5.bin
)

// TestFile is the name of the test batch; TrainFile(i) names the training batches.
const TestFile = "test_batch.bin"

// TrainFile returns the name of training batch i, 1-based as on disk.
func TrainFile(i int) string { return BatchName(i-1, false) }

// DefaultClassNames are the ten CIFAR-10 classes in label order, used when the
// directory has no batches.meta.txt.
var DefaultClassNames = []string{
	"airplane", "automobile", "bird", "cat", "deer",
	"dog", "frog", "horse", "ship", "truck",
}

// maxMeta bounds a class-names file: batches.meta.txt is 61 bytes.
const maxMeta = 1 << 16

// GetDataHint tells the user how to get the data; it ends errors about missing files.
const GetDataHint = "run 'nettrain data fetch' or scripts/get_cifar10.sh, or point {data} or $NETTRAIN_DATA at CIFAR-10 (binary or Python directory, or its .tar.gz)"

// Set is a set of images and their labels.
type Set struct {
	X []uint8 // (N, D) pixels, row-major
	Y []uint8 // (N) labels in 0..Classes-1
}

// N returns the number of images in s.
func (s Set) N() int { return len(s.Y) }

// Row returns the pixels of image i.
func (s Set) Row(i int) []uint8 { return s.X[i*D : (i+1)*D] }

// Slice returns images [i, j) of s, sharing its memory.
func (s Set) Slice(i, j int) Set {
	return Set{X: s.X[i*D : j*D], Y: s.Y[i:j]}
}

// Formats of CIFAR-10 that Load reads.
const (
	FormatBinaryDir   = "binary directory"
	FormatBinaryTarGz = "binary .tar.gz"
	FormatPythonDir   = "Python pickle directory"
	FormatPythonTarGz = "Python pickle .tar.gz"
)

// Dataset is the whole of CIFAR-10 as read from disk.
type Dataset struct {
	Path     string   // what was read: a directory or an archive
	Format   string   // one of the Format constants
	PerBatch int      // records in each batch
	Train    Set      // the five training batches in order (50,000 images)
	Test     Set      // the test batch (10,000 images)
	Classes  []string // class names in label order
}

// Loader reads a dataset. Its zero value reads the official files.
type Loader struct {
	// RecordsPerBatch is the number of records each batch must hold;
	// zero means the official 10,000. Tests set it to build tiny fixtures.
	RecordsPerBatch int
}

// Load reads CIFAR-10 from path, in whichever form it is: the binary
// directory (data_batch_1.bin .. data_batch_5.bin, test_batch.bin and
// optionally batches.meta.txt), the Python directory cs231n uses
// (data_batch_1 .. data_batch_5, test_batch, batches.meta: pickles), either
// one's official .tar.gz, read as a stream without extracting, or a
// directory holding one of those. Every form gives the same arrays.
func (l Loader) Load(path string) (*Dataset, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("cifar: data directory %s does not exist: %s", path, GetDataHint)
	case err != nil:
		return nil, fmt.Errorf("cifar: %w", err)
	case !st.IsDir() && !st.Mode().IsRegular():
		return nil, fmt.Errorf("cifar: %s is not a directory or a regular file (a FIFO or a device?): %s", path, GetDataHint)
	case !st.IsDir():
		if isGzip(path) {
			return l.loadTarGz(path)
		}
		return nil, fmt.Errorf("cifar: %s is not a directory or a .tar.gz: %s", path, GetDataHint)
	}
	exists := func(name string) bool {
		_, err := os.Lstat(filepath.Join(path, name))
		return err == nil
	}
	switch {
	case exists(TrainFile(1)) || exists(TestFile):
		return l.loadDir(path, FormatBinaryDir)
	case exists("data_batch_1") || exists("test_batch"):
		return l.loadDir(path, FormatPythonDir)
	case exists("cifar-10-batches-bin"):
		return l.Load(filepath.Join(path, "cifar-10-batches-bin"))
	case exists("cifar-10-batches-py"):
		return l.Load(filepath.Join(path, "cifar-10-batches-py"))
	case exists("cifar-10-binary.tar.gz"):
		return l.Load(filepath.Join(path, "cifar-10-binary.tar.gz"))
	}
	return nil, fmt.Errorf("cifar: %s holds no CIFAR-10 batches (want data_batch_1.bin .. or the Python data_batch_1 ..): %s", path, GetDataHint)
}

func (l Loader) perBatch() int {
	if l.RecordsPerBatch == 0 {
		return RecordsPerBatch
	}
	return l.RecordsPerBatch
}

func (l Loader) newDataset(path, format string) *Dataset {
	per := l.perBatch()
	return &Dataset{
		Path: path, Format: format, PerBatch: per, Classes: DefaultClassNames,
		Train: Set{X: make([]uint8, TrainBatches*per*D), Y: make([]uint8, TrainBatches*per)},
		Test:  Set{X: make([]uint8, per*D), Y: make([]uint8, per)},
	}
}

// BatchName returns the file name of batch i: data_batch_1 .. 5 for i in
// 0..4, test_batch for 5, with .bin in the binary version. Every name of a
// batch file comes from here.
func BatchName(i int, python bool) string {
	name := "test_batch"
	if i < TrainBatches {
		name = fmt.Sprintf("data_batch_%d", i+1)
	}
	if !python {
		name += ".bin"
	}
	return name
}

// batch returns where batch i (as batchName) goes in ds.
func (ds *Dataset) batch(i int) Set {
	if i == TrainBatches {
		return ds.Test
	}
	return ds.Train.Slice(i*ds.PerBatch, (i+1)*ds.PerBatch)
}

func (l Loader) loadDir(dir, format string) (*Dataset, error) {
	ds := l.newDataset(dir, format)
	python := format == FormatPythonDir
	for i := range TrainBatches + 1 {
		if err := readBatchFile(ds.batch(i), filepath.Join(dir, BatchName(i, python)), python); err != nil {
			return nil, err
		}
	}
	meta := filepath.Join(dir, "batches.meta.txt")
	if python {
		meta = filepath.Join(dir, "batches.meta")
	}
	b, err := fsutil.ReadFileLimit(meta, maxMeta, "a list of class names")
	if errors.Is(err, fs.ErrNotExist) {
		return ds, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cifar: %w", err)
	}
	if ds.Classes, err = parseClassNames(b, python); err != nil {
		return nil, fmt.Errorf("cifar: %s: %w", meta, err)
	}
	return ds, nil
}

func isGzip(path string) bool {
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [2]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && magic == [2]byte{0x1f, 0x8b}
}

// loadTarGz reads the official archive of either version as a stream.
func (l Loader) loadTarGz(path string) (*Dataset, error) {
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("cifar: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("cifar: %s: not a valid .tar.gz (%v): %s", path, err, GetDataHint)
	}
	tr := tar.NewReader(zr)
	ds := l.newDataset(path, "")
	var found [TrainBatches + 1]bool
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("cifar: %s: damaged archive (%v; truncated download?): %s", path, err, GetDataHint)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := filepath.Base(h.Name)
		python := !strings.HasSuffix(name, ".bin") && !strings.HasSuffix(name, ".txt")
		if name == "batches.meta.txt" || name == "batches.meta" {
			if h.Size > maxMeta {
				return nil, fmt.Errorf("cifar: %s: %s is %d bytes, more than a list of class names (%d at most)", path, h.Name, h.Size, maxMeta)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("cifar: %s: %s: %v", path, h.Name, err)
			}
			if ds.Classes, err = parseClassNames(b, name == "batches.meta"); err != nil {
				return nil, fmt.Errorf("cifar: %s: %s: %w", path, h.Name, err)
			}
			continue
		}
		i := slices.IndexFunc([]int{0, 1, 2, 3, 4, 5}, func(i int) bool { return BatchName(i, python) == name })
		if i < 0 {
			continue // readme.html and the like
		}
		dst := ds.batch(i)
		format := FormatBinaryTarGz
		if python {
			format = FormatPythonTarGz
		}
		if ds.Format != "" && ds.Format != format {
			return nil, fmt.Errorf("cifar: %s mixes binary and Python batches (%s)", path, h.Name)
		}
		ds.Format = format
		if !python && h.Size != int64(dst.N())*RecordSize {
			return nil, fmt.Errorf("cifar: %s: %s: %d bytes, want %d (%d records of %d bytes): %s", path, h.Name, h.Size, int64(dst.N())*RecordSize, dst.N(), RecordSize, GetDataHint)
		}
		if err := readBatch(dst, tr, python); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("cifar: %s: %s: %v: damaged archive (truncated download?): %s", path, h.Name, err, GetDataHint)
			}
			return nil, fmt.Errorf("cifar: %s: %s: %w", path, h.Name, err)
		}
		found[i] = true
	}
	if ds.Format == "" {
		return nil, fmt.Errorf("cifar: %s holds no CIFAR-10 batches: %s", path, GetDataHint)
	}
	for i, ok := range found {
		if !ok {
			return nil, fmt.Errorf("cifar: %s has no %s (truncated download?): %s", path, BatchName(i, ds.Format == FormatPythonTarGz), GetDataHint)
		}
	}
	return ds, nil
}

func readBatch(dst Set, r io.Reader, python bool) error {
	if python {
		return readPickleBatch(dst, r)
	}
	return ReadBatch(dst, r)
}

// readBatchFile fills dst from the batch file at path, which must hold exactly
// dst.N() records.
func readBatchFile(dst Set, path string, python bool) error {
	name := filepath.Base(path)
	if st, err := os.Stat(path); err == nil && !st.IsDir() && !st.Mode().IsRegular() {
		return fmt.Errorf("cifar: %s is not a regular file (a FIFO or a device?), want a batch file: %s", path, GetDataHint)
	}
	f, err := fsutil.OpenRegular(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		if st, serr := os.Stat(path); serr == nil && st.IsDir() {
			return fmt.Errorf("cifar: %s is a directory, want a %d-byte batch file: %s", path, dst.N()*RecordSize, GetDataHint)
		}
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cifar: %s is missing from %s: %s", name, filepath.Dir(path), GetDataHint)
		}
		return fmt.Errorf("cifar: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cifar: %w", err)
	}
	if st.IsDir() {
		return fmt.Errorf("cifar: %s is a directory, want a %d-byte batch file: %s", path, dst.N()*RecordSize, GetDataHint)
	}
	if want := int64(dst.N()) * RecordSize; !python && st.Size() != want {
		return fmt.Errorf("cifar: %s: %d bytes, want %d (%d records of %d bytes; truncated or damaged download? %s)",
			path, st.Size(), want, dst.N(), RecordSize, GetDataHint)
	}
	if err := readBatch(dst, bufio.NewReaderSize(f, 1<<20), python); err != nil {
		return fmt.Errorf("cifar: %s: %w", path, err)
	}
	return nil
}

// ReadBatch fills dst with dst.N() records read from r: each record is one
// label byte followed by D pixel bytes. It returns an error if r ends early or
// a label is not in 0..Classes-1.
func ReadBatch(dst Set, r io.Reader) error {
	var label [1]byte
	for i := range dst.N() {
		if _, err := io.ReadFull(r, label[:]); err != nil {
			return fmt.Errorf("record %d: %w (want %d records)", i, unexpected(err), dst.N())
		}
		if label[0] >= Classes {
			return fmt.Errorf("record %d: label %d, want 0..%d (not a CIFAR-10 batch, or corrupted: %s)", i, label[0], Classes-1, GetDataHint)
		}
		dst.Y[i] = label[0]
		if _, err := io.ReadFull(r, dst.Row(i)); err != nil {
			return fmt.Errorf("record %d: %w (want %d records)", i, unexpected(err), dst.N())
		}
	}
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseClassNames reads the class names: one per line (batches.meta.txt),
// or the "label_names" list of the pickled batches.meta.
func parseClassNames(b []byte, python bool) ([]string, error) {
	var names []string
	if python {
		var err error
		if names, err = picklePickledNames(b); err != nil {
			return nil, err
		}
	} else {
		for line := range bytes.Lines(b) {
			if s := strings.TrimSpace(string(line)); s != "" {
				names = append(names, s)
			}
		}
	}
	if len(names) != Classes {
		return nil, fmt.Errorf("%d class names, want %d, one per line (delete it to use the standard names)", len(names), Classes)
	}
	return names, nil
}
