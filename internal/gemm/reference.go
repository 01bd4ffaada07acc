package gemm

import "gonum.org/v1/gonum/blas"

// Reference computes Gemm's result one element at a time by its definition
// (see the package documentation): the plain version the kernels are
// tested against, bit for bit.
func Reference[T Float](tA, tB blas.Transpose, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	checkArgs(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	fma := fmaFor[T]()
	if alpha == 0 || k == 0 {
		scale(beta, c, m, n, ldc)
		return
	}
	for i := range m {
		for j := range n {
			var s T // the chain A B, started from beta*C when alpha is 1
			if alpha == 1 {
				switch beta {
				case 0:
				case 1:
					s = c[i*ldc+j]
				default:
					s = beta * c[i*ldc+j]
				}
			}
			for p := range k {
				ia, ib := i*lda+p, p*ldb+j
				if tA == blas.Trans {
					ia = p*lda + i
				}
				if tB == blas.Trans {
					ib = j*ldb + p
				}
				x, y := a[ia], b[ib]
				s = fma(x, y, s)
			}
			switch {
			case alpha == 1:
				c[i*ldc+j] = s
			case beta == 0:
				c[i*ldc+j] = alpha * s
			default:
				c[i*ldc+j] = T(alpha*s) + T(beta*c[i*ldc+j])
			}
		}
	}
}
