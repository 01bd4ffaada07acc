package preprocess_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/cifartest"
	"github.com/nettrain/nettrain/internal/model"
	"github.com/nettrain/nettrain/internal/preprocess"
)

func mirror(j int) int { return j - j%32 + 31 - j%32 }

// ZCA: Z is symmetric, commutes with the mirror, whitens (the whitened
// training inputs have covariance close to identity on the directions the
// data spans), and a net folded with Z scores raw inputs as the net scores
// whitened ones.
func TestZCA(t *testing.T) {
	s := cifartest.RandomSet(400, rand.New(rand.NewPCG(14, 14)))
	mean, z, err := preprocess.FitZCA(s, 1e-6)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]int{{0, 1}, {5, 3000}, {1023, 1024}, {77, 2222}} {
		i, j := p[0], p[1]
		if math.Abs(z.At(i, j)-z.At(j, i)) > 1e-9*math.Abs(z.At(i, i)) {
			t.Errorf("Z not symmetric at %v", p)
		}
		if math.Abs(z.At(i, j)-z.At(mirror(i), mirror(j))) > 1e-6*math.Abs(z.At(i, i)) {
			t.Errorf("Z does not commute with the mirror at %v: %v vs %v", p, z.At(i, j), z.At(mirror(i), mirror(j)))
		}
	}
	for j := range 3072 {
		if mean[j] != mean[mirror(j)] {
			t.Fatalf("mean not mirror-symmetric at %d", j)
		}
	}
	// The covariance Z whitens is that of the images and their mirrors:
	// whitened, those 800 have unit variance along the ~799 directions they
	// span (and none above), up to the eps regulariser.
	both := cifar.Set{X: make([]uint8, 800*3072), Y: make([]uint8, 800)}
	copy(both.X, s.X)
	for i := range 400 {
		src, dst := s.Row(i), both.Row(400+i)
		for j := range dst {
			dst[j] = src[mirror(j)]
		}
	}
	xb := preprocess.WhitenSet[float64](both, mean, z)
	xd := mat.NewDense(800, 3072, xb)
	var c mat.Dense
	c.Mul(xd, xd.T()) // (N, N) Gram matrix: its eigenvalues are N times the covariance's
	var eig mat.EigenSym
	if !eig.Factorize(mat.NewSymDense(800, c.RawMatrix().Data), false) {
		t.Fatal("eigen")
	}
	near := 0
	for _, v := range eig.Values(nil) {
		if v/800 > 1.01 {
			t.Fatalf("a whitened direction has variance %v, want <= 1", v/800)
		}
		if v/800 > 0.9 {
			near++
		}
	}
	if near < 790 {
		t.Errorf("%d whitened directions with variance near 1, want about 799", near)
	}
	x := preprocess.WhitenSet[float64](s, mean, z)
	// Folding: the net on whitened inputs equals the folded net on raw ones.
	net := model.New([]int{3072, 7, 10}, 1e-2, rand.New(rand.NewPCG(15, 15)))
	data := preprocess.Data{Train: s, Mean: mean, Whiten: z}
	folded := data.Fold(net)
	raw := make([]float64, 400*3072)
	y := make([]uint8, 400)
	cifar.GatherRange(raw, y, s, 0, 400, mean)
	a, b := net.Scores(nil, nil, x), folded.Scores(nil, nil, raw)
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-9*(1+math.Abs(a[i])) {
			t.Fatalf("score %d: %v whitened, %v folded", i, a[i], b[i])
		}
	}
}
