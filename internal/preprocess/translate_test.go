package preprocess_test

import (
	"cmp"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/preprocess"
)

// How nearly ZCA whitening commutes with translation, on the real images:
// training translates whitened images (cheap: whitening once), where the
// exact thing would whiten translated ones (a 3072x3072 product per image,
// every step). For shifts of 1 to 4 pixels it measures the relative
// difference of the two, over the whole image and inside (the 16x16 pixels
// at least 8 away from the border), on 400 training images, with the
// whitening fitted on 10,000. Opt-in: it needs the real data ($NETTRAIN_DATA).
func TestTranslationNearlyCommutesWithZCARealData(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	dir := cmp.Or(os.Getenv("NETTRAIN_DATA"), filepath.Join("..", "..", "..", "shared", "cifar-10-batches-bin"))
	if _, err := os.Stat(filepath.Join(dir, "test_batch.bin")); err != nil {
		t.Skipf("real CIFAR-10 not found at %s (export NETTRAIN_DATA=DIR to run this test)", dir)
	}
	ds, err := cifar.Loader{}.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	fit := ds.Train.Slice(0, 10000)
	mean, z, err := preprocess.FitZCA(fit, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	const n, d = 400, cifar.D
	imgs := ds.Train.Slice(10000, 10000+n)
	x := make([]float64, n*d)
	y := make([]uint8, n)
	cifar.Gather(x, y, imgs, seq(n), mean)
	inside := func(j int) bool {
		r, c := j%1024/32, j%32
		return r >= 8 && r < 24 && c >= 8 && c < 24
	}
	for _, s := range [][2]int{{1, 0}, {2, 0}, {2, 2}, {4, 0}} {
		shifted := make([]float64, len(x))
		copy(shifted, x)
		tmp := make([]float64, d)
		for i := range n {
			cifar.Shift(shifted[i*d:(i+1)*d], tmp, s[0], s[1], false)
		}
		// A: whiten the translated images. B: translate the whitened ones.
		var a, b mat.Dense
		a.Mul(mat.NewDense(n, d, shifted), z)
		b.Mul(mat.NewDense(n, d, x), z)
		bd := b.RawMatrix().Data
		for i := range n {
			cifar.Shift(bd[i*d:(i+1)*d], tmp, s[0], s[1], false)
		}
		ad := a.RawMatrix().Data
		var diffAll, normAll, diffIn, normIn float64
		for k, av := range ad {
			e := (av - bd[k]) * (av - bd[k])
			diffAll, normAll = diffAll+e, normAll+av*av
			if inside(k % d) {
				diffIn, normIn = diffIn+e, normIn+av*av
			}
		}
		all, in := math.Sqrt(diffAll/normAll), math.Sqrt(diffIn/normIn)
		t.Logf("shift %v: |whiten(shift x) - shift(whiten x)| / |whiten(shift x)| = %.3f over the image, %.3f inside", s, all, in)
		if !(in < all/2) || in > 0.15 {
			t.Errorf("shift %v: relative difference %.3f inside, %.3f over the image: whitening should nearly commute with a shift away from the border", s, in, all)
		}
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
