package cifar_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
)

// pickleSeeds are pickles of a 3-image batch: whole, cut, and hostile.
func pickleSeeds() [][]byte {
	rng := rand.New(rand.NewPCG(1, 1))
	s := cifar.Set{X: make([]uint8, 3*cifar.D), Y: []uint8{1, 2, 3}}
	for i := range s.X {
		s.X[i] = uint8(rng.IntN(256))
	}
	good := cifartest.Pickle(s, "seed")
	return [][]byte{
		good, good[:len(good)/2], good[:40],
		[]byte("\x80\x02cos\nsystem\nU\x04trueK\x00\x86R."),
		[]byte("\x80\x04\x8e\x00\x00\x00\x00\x00\x01\x00\x00xx"),
		[]byte("\x80\x04\x95\x00\x00\x00\x00\x00\x01\x00\x00N."),
		[]byte("\x80\x02}q\x00(U\x04dataq\x01NU\x06labelsq\x02]q\x03u."),
	}
}

// FuzzPickle: whatever the bytes, reading them as a Python batch returns
// (no panic, no allocation beyond what the bytes hold, no hang), and when
// it succeeds every label is a class.
func FuzzPickle(f *testing.F) {
	for _, b := range pickleSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dst := cifar.Set{X: make([]uint8, 3*cifar.D), Y: make([]uint8, 3)}
		if err := cifar.ReadPickleBatch(dst, bytes.NewReader(b)); err != nil {
			return
		}
		for i, y := range dst.Y {
			if y >= cifar.Classes {
				t.Fatalf("record %d: label %d", i, y)
			}
		}
	})
}

// FuzzTarGz: whatever the bytes of a .tar.gz, Load returns; a dataset it
// returns has its labels in range and the sizes asked for.
func FuzzTarGz(f *testing.F) {
	rng := rand.New(rand.NewPCG(2, 2))
	train, test := cifar.Set{X: make([]uint8, 10*cifar.D), Y: make([]uint8, 10)}, cifar.Set{X: make([]uint8, 2*cifar.D), Y: make([]uint8, 2)}
	for _, s := range []cifar.Set{train, test} {
		for i := range s.X {
			s.X[i] = uint8(rng.IntN(256))
		}
		for i := range s.Y {
			s.Y[i] = uint8(rng.IntN(cifar.Classes))
		}
	}
	for _, python := range []bool{false, true} {
		files := cifartest.Files(train, test, 2, python)
		dir := "cifar-10-batches-bin"
		if python {
			dir = "cifar-10-batches-py"
		}
		a := cifartest.TarGz(dir, files)
		f.Add(a)
		f.Add(a[:len(a)*2/3])
	}
	path := filepath.Join(f.TempDir(), "data.tar.gz")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		ds, err := (cifar.Loader{RecordsPerBatch: 2}).Load(path)
		if err != nil {
			return
		}
		if ds.Train.N() != 10 || ds.Test.N() != 2 || len(ds.Classes) != cifar.Classes {
			t.Fatalf("loaded %d train, %d test, %d classes", ds.Train.N(), ds.Test.N(), len(ds.Classes))
		}
		for _, s := range []cifar.Set{ds.Train, ds.Test} {
			for i, y := range s.Y {
				if y >= cifar.Classes {
					t.Fatalf("record %d: label %d", i, y)
				}
			}
		}
	})
}
