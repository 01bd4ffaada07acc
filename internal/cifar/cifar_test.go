package cifar_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
)

// per is the records per batch file in the fixtures: small, and not a
// divisor of anything in particular.
const per = 7

var loader = cifar.Loader{RecordsPerBatch: per}

func TestLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	train, test := cifartest.WriteDir(t, dir, per, 1)
	ds, err := loader.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ds.Train.X, train.X) || !bytes.Equal(ds.Train.Y, train.Y) {
		t.Error("training images differ from the files written")
	}
	if !bytes.Equal(ds.Test.X, test.X) || !bytes.Equal(ds.Test.Y, test.Y) {
		t.Error("test images differ from the files written")
	}
	if ds.Train.N() != 5*per || ds.Test.N() != per {
		t.Errorf("got %d train, %d test images, want %d, %d", ds.Train.N(), ds.Test.N(), 5*per, per)
	}
	if !slices.Equal(ds.Classes, cifar.DefaultClassNames) {
		t.Errorf("classes %v", ds.Classes)
	}
}

func TestLoadClassNames(t *testing.T) {
	dir := t.TempDir()
	cifartest.WriteDir(t, dir, per, 1)
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	os.WriteFile(filepath.Join(dir, "batches.meta.txt"), []byte(strings.Join(names, "\n")+"\n\n"), 0o644)
	ds, err := loader.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ds.Classes, names) {
		t.Errorf("classes %v, want %v", ds.Classes, names)
	}
	os.Remove(filepath.Join(dir, "batches.meta.txt"))
	if ds, err = loader.Load(dir); err != nil || !slices.Equal(ds.Classes, cifar.DefaultClassNames) {
		t.Errorf("without batches.meta.txt: classes %v, err %v; want the standard names", ds.Classes, err)
	}
}

func TestLoadErrors(t *testing.T) {
	size := per * cifar.RecordSize
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, dir string)
		want   []string // substrings of the error
	}{
		{"missing dir", func(t *testing.T, dir string) { os.RemoveAll(dir) }, []string{"does not exist", "get_cifar10.sh"}},
		{"dir is a file", func(t *testing.T, dir string) {
			os.RemoveAll(dir)
			os.WriteFile(dir, nil, 0o644)
		}, []string{"not a directory"}},
		{"batch missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "data_batch_3.bin")) }, []string{"data_batch_3.bin is missing", "get_cifar10.sh"}},
		{"test batch missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "test_batch.bin")) }, []string{"test_batch.bin is missing"}},
		{"empty file", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, "data_batch_2.bin"), nil, 0o644) }, []string{"data_batch_2.bin: 0 bytes", "truncated"}},
		{"truncated", func(t *testing.T, dir string) { os.Truncate(filepath.Join(dir, "data_batch_5.bin"), int64(size-100)) }, []string{"data_batch_5.bin", "truncated"}},
		{"truncated at a record", func(t *testing.T, dir string) {
			os.Truncate(filepath.Join(dir, "test_batch.bin"), int64(size-cifar.RecordSize))
		}, []string{"test_batch.bin", "want"}},
		{"extra bytes", func(t *testing.T, dir string) {
			f, _ := os.OpenFile(filepath.Join(dir, "data_batch_1.bin"), os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte{1, 2, 3})
			f.Close()
		}, []string{"data_batch_1.bin", "bytes, want"}},
		{"label 10", func(t *testing.T, dir string) {
			setByte(t, filepath.Join(dir, "data_batch_4.bin"), 2*cifar.RecordSize, 10)
		}, []string{"data_batch_4.bin", "record 2", "label 10"}},
		{"label 255", func(t *testing.T, dir string) { setByte(t, filepath.Join(dir, "test_batch.bin"), 0, 255) }, []string{"test_batch.bin", "record 0", "label 255"}},
		{"directory for a file", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "data_batch_2.bin")
			os.Remove(p)
			os.Mkdir(p, 0o755)
		}, []string{"data_batch_2.bin is a directory"}},
		{"damaged python batch", func(t *testing.T, dir string) {
			for i := range 5 {
				os.Remove(filepath.Join(dir, cifar.TrainFile(i+1)))
				os.WriteFile(filepath.Join(dir, "data_batch_"+string(rune('1'+i))), []byte("\x80\x02}q"), 0o644)
			}
			os.Remove(filepath.Join(dir, cifar.TestFile))
		}, []string{"data_batch_1", "not a CIFAR-10 Python batch"}},
		{"no batches at all", func(t *testing.T, dir string) {
			for i := range 5 {
				os.Remove(filepath.Join(dir, cifar.TrainFile(i+1)))
			}
			os.Remove(filepath.Join(dir, cifar.TestFile))
		}, []string{"holds no CIFAR-10 batches", "get_cifar10.sh"}},
		{"bad class names", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "batches.meta.txt"), []byte("cat\ndog\n"), 0o644)
		}, []string{"batches.meta.txt", "2 class names"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cifar")
			os.Mkdir(dir, 0o755)
			cifartest.WriteDir(t, dir, per, 2)
			tc.break_(t, dir)
			_, err := loader.Load(dir)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q spans lines, want one", msg)
			}
		})
	}
}

func TestUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: file permissions do not stop reads")
	}
	dir := t.TempDir()
	cifartest.WriteDir(t, dir, per, 3)
	os.Chmod(filepath.Join(dir, "data_batch_1.bin"), 0)
	if _, err := loader.Load(dir); err == nil || !strings.Contains(err.Error(), "data_batch_1.bin") {
		t.Errorf("err = %v, want one naming data_batch_1.bin", err)
	}
}

func setByte(t *testing.T, path string, off int, v byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] = v
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadBatchShort(t *testing.T) {
	s := cifartest.RandomSet(3, rand.New(rand.NewPCG(4, 4)))
	b := cifartest.Records(s)
	dst := cifar.Set{X: make([]uint8, 3*cifar.D), Y: make([]uint8, 3)}
	if err := cifar.ReadBatch(dst, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst.X, s.X) || !bytes.Equal(dst.Y, s.Y) {
		t.Error("ReadBatch did not reproduce the records")
	}
	for _, cut := range []int{0, 1, cifar.RecordSize, len(b) - 1} {
		if err := cifar.ReadBatch(dst, bytes.NewReader(b[:cut])); err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
			t.Errorf("cut at %d: err = %v, want unexpected EOF", cut, err)
		}
	}
}

func TestSplit(t *testing.T) {
	dir := t.TempDir()
	train, test := cifartest.WriteDir(t, dir, per, 5)
	ds, err := loader.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ds.Split(cifar.Sizes{Train: 20, Val: 10, Test: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sp.Train.X, train.X[:20*cifar.D]) || !bytes.Equal(sp.Val.Y, train.Y[20:30]) ||
		!bytes.Equal(sp.Val.X, train.X[20*cifar.D:30*cifar.D]) || !bytes.Equal(sp.Test.Y, test.Y[:4]) {
		t.Error("splits are not train[:20], train[20:30], test[:4]")
	}
	for _, sz := range []cifar.Sizes{
		{Train: 0, Val: 1, Test: 1}, {Train: 1, Val: 0, Test: 1}, {Train: 1, Val: 1, Test: 0},
		{Train: 30, Val: 6, Test: 1}, {Train: 1, Val: 1, Test: per + 1}, {Train: -5, Val: 1, Test: 1},
	} {
		if _, err := ds.Split(sz); err == nil || !strings.Contains(err.Error(), "{num_") {
			t.Errorf("Split(%+v): err = %v, want one naming a num_ setting", sz, err)
		}
	}
}

func TestMeanAndGather(t *testing.T) {
	s := cifartest.RandomSet(9, rand.New(rand.NewPCG(6, 6)))
	mean := cifar.Mean(s)
	for _, j := range []int{0, 1, 1023, 1024, 3071} {
		var sum float64
		for i := range s.N() {
			sum += float64(s.Row(i)[j])
		}
		if got, want := mean[j], sum/9; got != want {
			t.Errorf("mean[%d] = %v, want %v", j, got, want)
		}
	}
	idx := []int{4, 0, 4, 8}
	x := make([]float64, len(idx)*cifar.D)
	x32 := make([]float32, len(idx)*cifar.D)
	y := make([]uint8, len(idx))
	cifar.Gather(x, y, s, idx, mean)
	cifar.Gather(x32, y, s, idx, mean)
	for r, i := range idx {
		if y[r] != s.Y[i] {
			t.Errorf("y[%d] = %d, want %d", r, y[r], s.Y[i])
		}
		for _, j := range []int{0, 500, 3071} {
			want := float64(s.Row(i)[j]) - mean[j]
			if x[r*cifar.D+j] != want || x32[r*cifar.D+j] != float32(want) {
				t.Errorf("row %d col %d: got %v / %v, want %v", r, j, x[r*cifar.D+j], x32[r*cifar.D+j], want)
			}
		}
	}
	xr := make([]float64, 3*cifar.D)
	cifar.GatherRange(xr, y, s, 4, 3, mean)
	cifar.Gather(x[:3*cifar.D], y, s, []int{4, 5, 6}, mean)
	if !slices.Equal(xr, x[:3*cifar.D]) {
		t.Error("GatherRange(4, 3) differs from Gather([4 5 6])")
	}
}

func TestGatherAug(t *testing.T) {
	s := cifartest.RandomSet(3, rand.New(rand.NewPCG(7, 7)))
	mean, scale := cifar.ChannelStats(s)
	// Per-channel: the standardised pixels have mean 0 and variance 1.
	x := make([]float64, 3*cifar.D)
	y := make([]uint8, 3)
	cifar.GatherAug(x, y, s, []int{0, 1, 2}, mean, scale, nil)
	for c := range 3 {
		var sum, sq float64
		for i := range 3 {
			for _, v := range x[i*cifar.D+c*1024 : i*cifar.D+(c+1)*1024] {
				sum += v
				sq += v * v
			}
		}
		n := 3 * 1024.0
		if math.Abs(sum/n) > 1e-9 || math.Abs(sq/n-1) > 1e-9 {
			t.Errorf("channel %d: mean %v, variance %v after standardising", c, sum/n, sq/n)
		}
	}
	// Flip: pixel (c, y, x) of the flipped image is (c, y, 31-x) of the original.
	plain := cifar.Mean(s)
	xf := make([]float64, 2*cifar.D)
	cifar.GatherAug(xf, y, s, []int{1, 1}, plain, nil, []bool{false, true})
	for _, p := range [][3]int{{0, 0, 0}, {1, 5, 7}, {2, 31, 31}, {0, 12, 31}} {
		c, r, col := p[0], p[1], p[2]
		orig := xf[c*1024+r*32+col] + plain[c*1024+r*32+col]
		flipped := xf[cifar.D+c*1024+r*32+(31-col)] + plain[c*1024+r*32+(31-col)]
		if orig != flipped {
			t.Errorf("pixel %v: %v unflipped, %v in the mirror", p, orig, flipped)
		}
	}
}

// Shift moves every plane by (dx, dy), bringing in zeros or the mirror
// image at the border.
func TestShift(t *testing.T) {
	row := make([]float64, cifar.D)
	for j := range row {
		row[j] = float64(j + 1)
	}
	at := func(r []float64, c, y, x int) float64 { return r[c*cifar.Height*cifar.Width+y*cifar.Width+x] }
	for _, reflect := range []bool{false, true} {
		for _, d := range [][2]int{{1, 0}, {0, -2}, {3, 4}, {-31, 31}} {
			got := slices.Clone(row)
			cifar.Shift(got, make([]float64, cifar.D), d[0], d[1], reflect)
			for c := range cifar.Channels {
				for y := range cifar.Height {
					for x := range cifar.Width {
						sx, sy := x-d[0], y-d[1]
						want := 0.0
						if reflect {
							sx, sy = reflectIndex(sx, cifar.Width), reflectIndex(sy, cifar.Height)
						}
						if sx >= 0 && sx < cifar.Width && sy >= 0 && sy < cifar.Height {
							want = at(row, c, sy, sx)
						}
						if g := at(got, c, y, x); g != want {
							t.Fatalf("shift %v reflect %v: (%d,%d,%d) = %v, want %v", d, reflect, c, y, x, g, want)
						}
					}
				}
			}
		}
	}
	same := slices.Clone(row)
	cifar.Shift(same, make([]float64, cifar.D), 0, 0, false)
	if !slices.Equal(same, row) {
		t.Error("a shift of 0 changed the image")
	}
	defer func() {
		if recover() == nil {
			t.Error("a shift of 32 did not panic")
		}
	}()
	cifar.Shift(same, make([]float64, cifar.D), 32, 0, false)
}

// reflectIndex is numpy's "reflect" for one step past either edge.
func reflectIndex(i, n int) int {
	switch {
	case i < 0:
		return -i
	case i >= n:
		return 2*(n-1) - i
	}
	return i
}
