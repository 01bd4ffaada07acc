package cifar_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
)

// Every form CIFAR-10 comes in gives the same arrays, byte for byte.
func TestFormatsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	train := cifartest.RandomSet(5*per, rng)
	test := cifartest.RandomSet(per, rng)
	bin := cifartest.Files(train, test, per, false)
	pyf := cifartest.Files(train, test, per, true)
	root := t.TempDir()
	cifartest.WriteFiles(t, filepath.Join(root, "bin"), bin)
	cifartest.WriteFiles(t, filepath.Join(root, "py"), pyf)
	cifartest.WriteFiles(t, filepath.Join(root, "parent", "cifar-10-batches-py"), pyf)
	os.WriteFile(filepath.Join(root, "cifar-10-binary.tar.gz"), cifartest.TarGz("cifar-10-batches-bin", bin), 0o644)
	os.WriteFile(filepath.Join(root, "cifar-10-python.tar.gz"), cifartest.TarGz("cifar-10-batches-py", pyf), 0o644)
	os.WriteFile(filepath.Join(root, "renamed.download"), cifartest.TarGz("cifar-10-batches-bin", bin), 0o644)

	for _, tc := range []struct{ path, format string }{
		{"bin", cifar.FormatBinaryDir},
		{"py", cifar.FormatPythonDir},
		{"parent", cifar.FormatPythonDir},
		{"cifar-10-binary.tar.gz", cifar.FormatBinaryTarGz},
		{"cifar-10-python.tar.gz", cifar.FormatPythonTarGz},
		{"renamed.download", cifar.FormatBinaryTarGz}, // found by its gzip magic, not its name
	} {
		ds, err := loader.Load(filepath.Join(root, tc.path))
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if ds.Format != tc.format {
			t.Errorf("%s: format %q, want %q", tc.path, ds.Format, tc.format)
		}
		if !bytes.Equal(ds.Train.X, train.X) || !bytes.Equal(ds.Train.Y, train.Y) || !bytes.Equal(ds.Test.X, test.X) || !bytes.Equal(ds.Test.Y, test.Y) {
			t.Errorf("%s: arrays differ from the binary files", tc.path)
		}
		if !slices.Equal(ds.Classes, cifar.DefaultClassNames) {
			t.Errorf("%s: classes %v", tc.path, ds.Classes)
		}
	}
}

func TestBadArchivesAndPickles(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	train := cifartest.RandomSet(5*per, rng)
	test := cifartest.RandomSet(per, rng)
	bin := cifartest.Files(train, test, per, false)
	pyf := cifartest.Files(train, test, per, true)
	archive := cifartest.TarGz("cifar-10-batches-bin", bin)
	without := func(files map[string][]byte, name string) map[string][]byte {
		out := map[string][]byte{}
		for k, v := range files {
			if k != name {
				out[k] = v
			}
		}
		return out
	}
	with := func(files map[string][]byte, name string, b []byte) map[string][]byte {
		out := without(files, name)
		out[name] = b
		return out
	}
	badLabel := cifartest.RandomSet(per, rng)
	badLabel.Y[3] = 10
	shortSet := cifartest.RandomSet(per-1, rng)
	// A pickle that asks for os.system: it must be refused, not called.
	hostile := []byte("\x80\x02cos\nsystem\nU\x04trueK\x00\x86R.")

	for _, tc := range []struct {
		name string
		file []byte            // an archive, or
		dir  map[string][]byte // a directory's files
		want []string
	}{
		{"truncated archive", archive[:len(archive)/2], nil, []string{"damaged archive", "truncated download"}},
		{"gzip that is not a tar", gz([]byte("hello, not a tar file")), nil, []string{"damaged archive"}},
		{"corrupt gzip", append(append([]byte{}, archive[:20]...), bytes.Repeat([]byte{0xff}, 200)...), nil, []string{"cifar.tgz", "damaged archive"}},
		{"archive missing a batch", cifartest.TarGz("cifar-10-batches-bin", without(bin, "data_batch_4.bin")), nil, []string{"no data_batch_4.bin"}},
		{"archive with a short batch", cifartest.TarGz("cifar-10-batches-bin", with(bin, "test_batch.bin", bin["test_batch.bin"][:100])), nil, []string{"test_batch.bin: 100 bytes"}},
		{"archive with no batches", cifartest.TarGz("x", map[string][]byte{"a.txt": []byte("a")}), nil, []string{"holds no CIFAR-10 batches"}},
		{"pickle: bad label", nil, with(pyf, "data_batch_2", cifartest.Pickle(badLabel, "b")), []string{"data_batch_2", "record 3: label 10"}},
		{"pickle: wrong shape", nil, with(pyf, "test_batch", cifartest.Pickle(shortSet, "t")), []string{"test_batch", "has shape [6 3072]"}},
		{"pickle: truncated", nil, with(pyf, "data_batch_1", pyf["data_batch_1"][:500]), []string{"data_batch_1", "not a CIFAR-10 Python batch"}},
		{"pickle: not a dict", nil, with(pyf, "data_batch_3", []byte("\x80\x02K\x05.")), []string{"data_batch_3", "want a dict"}},
		{"pickle: hostile class", nil, with(pyf, "data_batch_5", hostile), []string{"data_batch_5", "os.system"}},
		{"pickle: bad meta", nil, with(pyf, "batches.meta", []byte("\x80\x02}.")), []string{"batches.meta", "label_names"}},
		// Length fields that claim 64 GiB .. 1 TiB in a 13-byte file: refused
		// before anything is allocated (they ended in a fatal out-of-memory).
		{"pickle: BINBYTES8 of 1 TiB", nil, with(pyf, "data_batch_1", []byte("\x80\x04\x8e\x00\x00\x00\x00\x00\x01\x00\x00xx")), []string{"data_batch_1", "claims 1099511627776 bytes"}},
		{"pickle: BINUNICODE8 of 64 GiB", nil, with(pyf, "data_batch_2", []byte("\x80\x04\x8d\x00\x00\x00\x00\x10\x00\x00\x00xx")), []string{"data_batch_2", "claims 68719476736 bytes"}},
		{"pickle: BYTEARRAY8 of 1 TiB", nil, with(pyf, "test_batch", []byte("\x80\x05\x96\x00\x00\x00\x00\x00\x01\x00\x00xx")), []string{"test_batch", "claims 1099511627776 bytes"}},
		{"pickle: FRAME of 1 TiB", nil, with(pyf, "data_batch_3", []byte("\x80\x04\x95\x00\x00\x00\x00\x00\x01\x00\x00N.")), []string{"data_batch_3", "frame"}},
		{"pickle: unknown opcode", nil, with(pyf, "data_batch_4", []byte("\x80\x04\xffN.")), []string{"data_batch_4", "unknown opcode 0xff"}},
		{"pickle: 1 TiB inside a .tar.gz", cifartest.TarGz("cifar-10-batches-py", with(pyf, "data_batch_1", []byte("\x80\x04\x8e\x00\x00\x00\x00\x00\x01\x00\x00xx"))), nil, []string{"data_batch_1", "claims 1099511627776 bytes"}},
		{"pickle: meta of 1 TiB", nil, with(pyf, "batches.meta", []byte("\x80\x04\x8e\x00\x00\x00\x00\x00\x01\x00\x00xx")), []string{"batches.meta", "claims"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "cifar.tgz")
			if tc.file != nil {
				os.WriteFile(path, tc.file, 0o644)
			} else {
				path = filepath.Join(dir, "cifar-10-batches-py")
				cifartest.WriteFiles(t, path, tc.dir)
			}
			_, err := loader.Load(path)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := newGzip(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}
