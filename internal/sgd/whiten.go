package sgd

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/nettrain/nettrain/internal/blasimpl"
	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/model"
)

// FitZCA fits ZCA whitening on the images of s: it returns the mean image
// and the symmetric (D, D) matrix Z such that (x - mean) Z has identity
// covariance up to eps, Z = U diag(1/sqrt(lambda + eps*255^2)) U^T from the
// eigendecomposition U diag(lambda) U^T of the covariance; eps is in units
// of pixels scaled to [0, 1] (0.1 is usual). The covariance and mean are
// made symmetric under left-right mirroring, so that whitening a mirrored
// image is mirroring the whitened one: random flips can then be applied to
// whitened inputs exactly.
func FitZCA(s cifar.Set, eps float64) (mean []float64, z *mat.Dense, err error) {
	const d = cifar.D
	if s.N() < 2 {
		return nil, nil, errors.New("ZCA needs at least 2 training images")
	}
	m := cifar.Mean(s)
	mean = make([]float64, d)
	for j := range d {
		mean[j] = (m[j] + m[cifar.Mirror(j)]) / 2
	}
	// Covariance: sum over chunks of X^T X, in two partial sums (a fixed
	// number, so the result does not depend on the cores) run in parallel.
	const chunk, workers = 500, 2
	parts := make([][]float64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			acc := make([]float64, d*d)
			x := make([]float64, chunk*d)
			y := make([]uint8, chunk)
			for i := w * chunk; i < s.N(); i += workers * chunk {
				n := min(chunk, s.N()-i)
				cifar.GatherRange(x, y, s, i, n, mean)
				blas64.Implementation().Dsyrk(blas.Upper, blas.Trans, d, n, 1, x[:n*d], d, 1, acc, d)
			}
			parts[w] = acc
		})
	}
	wg.Wait()
	cov := mat.NewSymDense(d, nil)
	scale := 1 / float64(s.N())
	for i := range d {
		for j := i; j < d; j++ {
			var v float64
			for _, p := range parts {
				v += p[i*d+j]
			}
			cov.SetSym(i, j, v*scale)
		}
	}
	// Symmetrise under the mirror: C = (C + F C F) / 2.
	sym := mat.NewSymDense(d, nil)
	for i := range d {
		for j := i; j < d; j++ {
			sym.SetSym(i, j, (cov.At(i, j)+cov.At(cifar.Mirror(i), cifar.Mirror(j)))/2)
		}
	}
	vecs := make([]float64, d*d)
	for i := range d {
		for j := range d {
			vecs[i*d+j] = sym.At(i, j)
		}
	}
	vals := make([]float64, d)
	if !blasimpl.EigenSym(d, vecs, vals) {
		return nil, nil, errors.New("ZCA: the eigendecomposition of the covariance did not converge")
	}
	// vecs holds eigenvector k as row k: V = U^T, and Z = V^T diag(f) V
	// with f = 1/sqrt(lambda + e).
	e := eps * 255 * 255
	v := mat.NewDense(d, d, vecs)
	fv := mat.DenseCopyOf(v)
	for k, l := range vals {
		f := 1 / math.Sqrt(max(l, 0)+e)
		row := fv.RawRowView(k)
		for i := range row {
			row[i] *= f
		}
	}
	z = mat.NewDense(d, d, nil)
	z.Mul(v.T(), fv)
	return mean, z, nil
}

// WhitenSet returns the images of s, mean subtracted and multiplied by z,
// as a row-major (N, D) slice in precision T: the inputs a ZCA run trains on.
func WhitenSet[T model.Float](s cifar.Set, mean []float64, z *mat.Dense) []T {
	const d, chunk = cifar.D, 500
	zT := make([]T, d*d)
	for i, v := range z.RawMatrix().Data {
		zT[i] = T(v)
	}
	out := make([]T, s.N()*d)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			x := make([]T, chunk*d)
			y := make([]uint8, chunk)
			for i := w * chunk; i < s.N(); i += workers * chunk {
				n := min(chunk, s.N()-i)
				cifar.GatherRange(x, y, s, i, n, mean)
				model.Gemm(blas.NoTrans, blas.NoTrans, n, d, d, 1, x[:n*d], d, zT, d, 0, out[i*d:(i+n)*d], d)
			}
		})
	}
	wg.Wait()
	return out
}

// gatherDense copies rows idx of the (N, D) inputs into dst, mirroring row
// r left to right where flip[r] is true.
func gatherDense[T model.Float](dst []T, y []uint8, inputs []T, labels []uint8, idx []int, flip []bool) {
	const d = cifar.D
	for r, i := range idx {
		src, row := inputs[i*d:(i+1)*d], dst[r*d:(r+1)*d]
		if flip != nil && flip[r] {
			for j := range row {
				row[j] = src[cifar.Mirror(j)]
			}
		} else {
			copy(row, src)
		}
		y[r] = labels[i]
	}
}

// checkDense returns the precomputed inputs of data in precision T.
func checkDense[T model.Float](data Data) ([]T, error) {
	if data.Dense == nil {
		return nil, nil
	}
	x, ok := data.Dense.([]T)
	if !ok || len(x) != data.Train.N()*cifar.D {
		return nil, fmt.Errorf("sgd: Data.Dense is a %T of %d, want the training inputs in the run's precision", data.Dense, data.Train.N()*cifar.D)
	}
	return x, nil
}
