package preprocess

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/mat"

	"github.com/nettrain/nettrain/internal/cifar"
	"github.com/nettrain/nettrain/internal/gemm"
	"github.com/nettrain/nettrain/internal/model"
)

// FitZCA fits ZCA whitening on the images of s: it returns the mean image
// and the symmetric (D, D) matrix Z such that (x - mean) Z has identity
// covariance up to eps, Z = (C + eps*255^2 I)^(-1/2) for the covariance C;
// eps is in units of pixels scaled to [0, 1] (0.1 is usual). The covariance
// and mean are made symmetric under left-right mirroring, so that whitening
// a mirrored image is mirroring the whitened one: random flips can then be
// applied to whitened inputs exactly.
//
// The mirror symmetry also halves the work. In the basis of the sums
// x[j] + x[F j] and differences x[j] - x[F j] of mirrored pixel pairs, the
// symmetrised covariance is block diagonal: one (D/2, D/2) block for the
// sums, one for the differences, each the Gram matrix of those features
// over the images. Each block's inverse square root comes from a coupled
// Newton-Schulz iteration, three matrix products a step (invSqrt), and Z
// is assembled from the two. Everything runs on internal/gemm, so the
// result is the same to the bit on any CPU and thread count.
func FitZCA(s cifar.Set, eps float64) (mean []float64, z *mat.Dense, err error) {
	const d, h = cifar.D, cifar.D / 2
	if s.N() < 2 {
		return nil, nil, errors.New("ZCA needs at least 2 training images")
	}
	m := cifar.Mean(s)
	mean = make([]float64, d)
	for j := range d {
		mean[j] = (m[j] + m[cifar.Mirror(j)]) / 2
	}
	pairs := mirrorPairs()

	// Gram matrices of the sums and differences over the images, chunk by
	// chunk (each a continued FMA chain, so the sum is one fixed order).
	const chunk = 2000
	sums, difs := make([]float64, h*h), make([]float64, h*h)
	x := make([]float64, chunk*d)
	y := make([]uint8, chunk)
	u, v := make([]float64, chunk*h), make([]float64, chunk*h)
	for i := 0; i < s.N(); i += chunk {
		n := min(chunk, s.N()-i)
		cifar.GatherRange(x, y, s, i, n, mean)
		pairFeatures(u, v, x[:n*d], pairs)
		gramUpper(sums, u[:n*h], n, h)
		gramUpper(difs, v[:n*h], n, h)
	}
	for _, g := range [][]float64{sums, difs} {
		for i := range h {
			for j := range i {
				g[i*h+j] = g[j*h+i]
			}
		}
	}
	// The blocks of the symmetrised covariance are half the Gram matrices
	// over N: (C[j,k] + C[j,F k] + C[F j,k] + C[F j,F k]) / 2 for the sums.
	e := eps * 255 * 255
	scale := 1 / (2 * float64(s.N()))
	fs, err := invSqrt(sums, h, scale, e)
	if err != nil {
		return nil, nil, err
	}
	fd, err := invSqrt(difs, h, scale, e)
	if err != nil {
		return nil, nil, err
	}
	// Back to pixels: Z = Q diag(fs, fd) Q^T, Q's columns (e_j +- e_Fj)/sqrt 2.
	z = mat.NewDense(d, d, nil)
	for a, j := range pairs {
		for b, k := range pairs {
			ps, pd := fs[a*h+b], fd[a*h+b]
			z.Set(j, k, (ps+pd)/2)
			z.Set(cifar.Mirror(j), cifar.Mirror(k), (ps+pd)/2)
			z.Set(j, cifar.Mirror(k), (ps-pd)/2)
			z.Set(cifar.Mirror(j), k, (ps-pd)/2)
		}
	}
	return mean, z, nil
}

// pairFeatures sets the rows of u and v, (N, D/2), to the sums and the
// differences of the mirrored pixel pairs of the rows of x, (N, D).
func pairFeatures[T model.Float](u, v, x []T, pairs []int) {
	const d, h = cifar.D, cifar.D / 2
	for r := range len(x) / d {
		row, ur, vr := x[r*d:(r+1)*d], u[r*h:(r+1)*h], v[r*h:(r+1)*h]
		for a, j := range pairs {
			ur[a] = row[j] + row[cifar.Mirror(j)]
			vr[a] = row[j] - row[cifar.Mirror(j)]
		}
	}
}

// gramUpper adds the upper triangle (by blocks: some entries below the
// diagonal too) of x^T x to g, for x (n, h) and g (h, h): about 60% of the
// work of the whole product.
func gramUpper(g, x []float64, n, h int) {
	const w = 256
	for j0 := 0; j0 < h; j0 += w {
		bw := min(w, h-j0)
		gemm.Gemm(blas.Trans, blas.NoTrans, j0+bw, bw, n, 1, x, h, x[j0:], h, 1, g[j0:], h)
	}
}

// mirrorPairs returns the pixel indices j in the left half of each row of
// each channel, in order; j and cifar.Mirror(j) make a pair.
func mirrorPairs() []int {
	const w = 32 // image width
	pairs := make([]int, 0, cifar.D/2)
	for j := range cifar.D {
		if j%w < w/2 {
			pairs = append(pairs, j)
		}
	}
	return pairs
}

// invSqrt returns (scale*G + e I)^(-1/2) for the symmetric positive
// semi-definite (n, n) matrix G and e > 0, by the coupled Newton-Schulz
// iteration (Higham, Functions of Matrices, 2008, eq. 6.35): with
// A = scale*G + e I normalised by its Frobenius norm f (so that its
// eigenvalues lie in (0, 1]), Y = A/f, Z = I, repeat T = (3I - Z Y)/2,
// Y = Y T, Z = T Z; Z converges quadratically to (A/f)^(-1/2) once ZY is
// near I, after about log(cond A)/log(2.25) steps to get there.
func invSqrt(g []float64, n int, scale, e float64) ([]float64, error) {
	a := make([]float64, n*n)
	var f float64
	for i, v := range g {
		a[i] = scale * v
	}
	for i := range n {
		a[i*n+i] += e
	}
	for _, v := range a {
		f += v * v
	}
	f = math.Sqrt(f)
	if !(f > 0) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("ZCA: covariance has norm %v", f)
	}
	yy, zz, t, tmp := a, make([]float64, n*n), make([]float64, n*n), make([]float64, n*n)
	for i := range yy {
		yy[i] /= f
	}
	for i := range n {
		zz[i*n+i] = 1
	}
	const maxSteps, tol = 100, 1e-11
	for range maxSteps {
		// T = (3I - Z Y)/2, and how far it is from I, in one pass.
		gemm.Gemm(blas.NoTrans, blas.NoTrans, n, n, n, 1, zz, n, yy, n, 0, t, n)
		var off float64
		for i := range n {
			row := t[i*n : (i+1)*n]
			for j, v := range row {
				row[j] = -0.5 * v
				d := row[j] // T - I
				if i == j {
					row[j] += 1.5
					d += 0.5
				}
				off = max(off, math.Abs(d))
			}
		}
		gemm.Gemm(blas.NoTrans, blas.NoTrans, n, n, n, 1, yy, n, t, n, 0, tmp, n)
		yy, tmp = tmp, yy
		gemm.Gemm(blas.NoTrans, blas.NoTrans, n, n, n, 1, t, n, zz, n, 0, tmp, n)
		zz, tmp = tmp, zz
		if off < tol {
			s := 1 / math.Sqrt(f)
			for i := range zz {
				zz[i] *= s
			}
			return zz, nil
		}
		if math.IsNaN(off) || math.IsInf(off, 0) {
			break
		}
	}
	return nil, fmt.Errorf("ZCA: the inverse square root of the covariance did not converge in %d steps (try a larger {zca_eps})", maxSteps)
}

// WhitenSet returns the images of s, mean subtracted and multiplied by z,
// as a row-major (N, D) slice in precision T: the inputs a ZCA run trains on.
// z must commute with the mirror, as FitZCA's does; the product is done in
// the basis of mirrored pixel pairs, half the work of the plain one.
func WhitenSet[T model.Float](s cifar.Set, mean []float64, z *mat.Dense) []T {
	const d, h, chunk = cifar.D, cifar.D / 2, 500
	pairs := mirrorPairs()
	// Z's blocks in the pair basis: fs[b,a] = Z[k,j] + Z[k,F j] and
	// fd[b,a] = Z[k,j] - Z[k,F j] for pairs j = pairs[a], k = pairs[b].
	fs, fd := make([]T, h*h), make([]T, h*h)
	for b, k := range pairs {
		for a, j := range pairs {
			fs[b*h+a] = T(z.At(k, j) + z.At(k, cifar.Mirror(j)))
			fd[b*h+a] = T(z.At(k, j) - z.At(k, cifar.Mirror(j)))
		}
	}
	out := make([]T, s.N()*d)
	// Chunks in parallel, one thread each.
	workers := gemm.Threads()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			x := make([]T, chunk*d)
			y := make([]uint8, chunk)
			u, v := make([]T, chunk*h), make([]T, chunk*h)
			us, vd := make([]T, chunk*h), make([]T, chunk*h)
			for i := w * chunk; i < s.N(); i += workers * chunk {
				n := min(chunk, s.N()-i)
				cifar.GatherRange(x, y, s, i, n, mean)
				pairFeatures(u, v, x[:n*d], pairs)
				gemm.GemmThreads(1, blas.NoTrans, blas.NoTrans, n, h, h, 1, u[:n*h], h, fs, h, 0, us[:n*h], h)
				gemm.GemmThreads(1, blas.NoTrans, blas.NoTrans, n, h, h, 1, v[:n*h], h, fd, h, 0, vd[:n*h], h)
				// (x Z)[j] = (u fs + v fd)[a]/2, (x Z)[F j] = (u fs - v fd)[a]/2.
				for r := range n {
					row := out[(i+r)*d : (i+r+1)*d]
					for a, j := range pairs {
						p, q := us[r*h+a], vd[r*h+a]
						row[j], row[cifar.Mirror(j)] = (p+q)/2, (p-q)/2
					}
				}
			}
		})
	}
	wg.Wait()
	return out
}

// GatherDense copies rows idx of the (N, D) inputs into dst, mirroring row
// r left to right where flip[r] is true.
func GatherDense[T model.Float](dst []T, y []uint8, inputs []T, labels []uint8, idx []int, flip []bool) {
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

// Dense returns the precomputed inputs of data in precision T.
func Dense[T model.Float](data Data) ([]T, error) {
	if data.Dense == nil {
		return nil, nil
	}
	x, ok := data.Dense.([]T)
	if !ok || len(x) != data.Train.N()*cifar.D {
		return nil, fmt.Errorf("preprocess: Data.Dense is a %T of %d, want the training inputs in the run's precision", data.Dense, data.Train.N()*cifar.D)
	}
	return x, nil
}
