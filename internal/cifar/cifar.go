package cifar

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
func TrainFile(i int) string { return fmt.Sprintf("data_batch_%d.bin", i) }

// DefaultClassNames are the ten CIFAR-10 classes in label order, used when the
// directory has no batches.meta.txt.
var DefaultClassNames = []string{
	"airplane", "automobile", "bird", "cat", "deer",
	"dog", "frog", "horse", "ship", "truck",
}

// GetDataHint tells the user how to get the data; it ends errors about missing files.
const GetDataHint = "run scripts/get_cifar10.sh (or make data), or point --data or $NETTRAIN_DATA at a cifar-10-batches-bin directory"

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

// Dataset is the whole of CIFAR-10 as read from disk.
type Dataset struct {
	Dir     string
	Train   Set      // the five training batches in order (50,000 images)
	Test    Set      // the test batch (10,000 images)
	Classes []string // class names in label order
}

// Loader reads a dataset directory. Its zero value reads the official files.
type Loader struct {
	// RecordsPerBatch is the number of records each .bin file must hold;
	// zero means the official 10,000. Tests set it to build tiny fixtures.
	RecordsPerBatch int
}

// Load reads the official binary batches from dir with the default Loader.
func Load(dir string) (*Dataset, error) { return Loader{}.Load(dir) }

// Load reads data_batch_1.bin .. data_batch_5.bin and test_batch.bin from dir,
// and the class names from batches.meta.txt when it is there.
func (l Loader) Load(dir string) (*Dataset, error) {
	per := l.RecordsPerBatch
	if per == 0 {
		per = RecordsPerBatch
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("cifar: data directory %s does not exist: %s", dir, GetDataHint)
	case err != nil:
		return nil, fmt.Errorf("cifar: %w", err)
	case !st.IsDir():
		return nil, fmt.Errorf("cifar: %s is not a directory: %s", dir, GetDataHint)
	}
	if _, err := os.Stat(filepath.Join(dir, "data_batch_1")); err == nil {
		if _, err := os.Stat(filepath.Join(dir, TrainFile(1))); err != nil {
			return nil, fmt.Errorf("cifar: %s holds the Python (pickle) version of CIFAR-10; nettrain reads the binary version: %s", dir, GetDataHint)
		}
	}

	ds := &Dataset{Dir: dir, Classes: DefaultClassNames}
	ds.Train = Set{
		X: make([]uint8, TrainBatches*per*D),
		Y: make([]uint8, TrainBatches*per),
	}
	for i := range TrainBatches {
		dst := ds.Train.Slice(i*per, (i+1)*per)
		if err := readBatchFile(dst, filepath.Join(dir, TrainFile(i+1))); err != nil {
			return nil, err
		}
	}
	ds.Test = Set{X: make([]uint8, per*D), Y: make([]uint8, per)}
	if err := readBatchFile(ds.Test, filepath.Join(dir, TestFile)); err != nil {
		return nil, err
	}

	names, err := readClassNames(filepath.Join(dir, "batches.meta.txt"))
	if err != nil {
		return nil, err
	}
	if names != nil {
		ds.Classes = names
	}
	return ds, nil
}

// readBatchFile fills dst from the batch file at path, which must hold exactly
// dst.N() records.
func readBatchFile(dst Set, path string) error {
	name := filepath.Base(path)
	f, err := os.Open(path)
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
	if want := int64(dst.N()) * RecordSize; st.Size() != want {
		return fmt.Errorf("cifar: %s: %d bytes, want %d (%d records of %d bytes; truncated or damaged download? %s)",
			path, st.Size(), want, dst.N(), RecordSize, GetDataHint)
	}
	if err := ReadBatch(dst, bufio.NewReaderSize(f, 1<<20)); err != nil {
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

// readClassNames reads one class name per line; a missing file gives nil names.
func readClassNames(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cifar: %w", err)
	}
	var names []string
	for line := range bytes.Lines(b) {
		if s := strings.TrimSpace(string(line)); s != "" {
			names = append(names, s)
		}
	}
	if len(names) != Classes {
		return nil, fmt.Errorf("cifar: %s: %d class names, want %d, one per line (delete it to use the standard names)", path, len(names), Classes)
	}
	return names, nil
}
