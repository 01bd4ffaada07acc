// Package cifartest writes tiny CIFAR-10 binary fixtures for tests.
package cifartest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/cifar"
)

// Records returns the bytes of a batch file holding s: per image, one label
// byte then the D pixel bytes.
func Records(s cifar.Set) []byte {
	b := make([]byte, 0, s.N()*cifar.RecordSize)
	for i := range s.N() {
		b = append(b, s.Y[i])
		b = append(b, s.Row(i)...)
	}
	return b
}

// RandomSet returns n images of random pixels. Labels cycle 0..9 and each
// image is shifted towards a class-dependent brightness pattern, so that a
// classifier can learn something from them.
func RandomSet(n int, rng *rand.Rand) cifar.Set {
	s := cifar.Set{X: make([]uint8, n*cifar.D), Y: make([]uint8, n)}
	for i := range n {
		y := uint8(rng.IntN(cifar.Classes))
		s.Y[i] = y
		row := s.Row(i)
		for j := range row {
			// Class y brightens the y-th tenth of each colour plane.
			base := 64
			if (j%1024)*cifar.Classes/1024 == int(y) {
				base = 160
			}
			row[j] = uint8(base + rng.IntN(96))
		}
	}
	return s
}

// WriteDir writes a dataset directory with per records in each of the six
// batch files and a batches.meta.txt, and returns the training images (all
// five batches in order) and the test images.
func WriteDir(t testing.TB, dir string, per int, seed uint64) (train, test cifar.Set) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	train = RandomSet(cifar.TrainBatches*per, rng)
	test = RandomSet(per, rng)
	for i := range cifar.TrainBatches {
		write(t, filepath.Join(dir, cifar.TrainFile(i+1)), Records(train.Slice(i*per, (i+1)*per)))
	}
	write(t, filepath.Join(dir, cifar.TestFile), Records(test))
	names := ""
	for _, n := range cifar.DefaultClassNames {
		names += n + "\n"
	}
	write(t, filepath.Join(dir, "batches.meta.txt"), []byte(names))
	return train, test
}

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Files returns the files of a dataset directory holding train and test in
// the binary (python false) or Python version, names to contents, with the
// class names file.
func Files(train, test cifar.Set, per int, python bool) map[string][]byte {
	files := map[string][]byte{}
	for i := range cifar.TrainBatches + 1 {
		s, name := test, cifar.BatchName(i, python)
		if i < cifar.TrainBatches {
			s = train.Slice(i*per, (i+1)*per)
		}
		if python {
			files[name] = Pickle(s, name)
		} else {
			files[name] = Records(s)
		}
	}
	if python {
		files["batches.meta"] = PickleMeta(cifar.DefaultClassNames, per)
	} else {
		files["batches.meta.txt"] = []byte(strings.Join(cifar.DefaultClassNames, "\n") + "\n")
	}
	return files
}

// WriteFiles writes files into dir.
func WriteFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		write(t, filepath.Join(dir, name), b)
	}
}

// TarGz returns files packed as the official archives are: a .tar.gz with
// every file under dir/, in sorted order, plus a readme.html.
func TarGz(dir string, files map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: dir + "/", Typeflag: tar.TypeDir, Mode: 0o755})
	names := slices.Sorted(maps.Keys(files))
	for _, name := range append(names, "readme.html") {
		b, ok := files[name]
		if !ok {
			b = []byte("<html>CIFAR-10</html>")
		}
		tw.WriteHeader(&tar.Header{Name: dir + "/" + name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))})
		tw.Write(b)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}
