// Package blasimpl links OpenBLAS in as a backend to compare against, in
// the openblas build (the openblas tag and cgo): Use installs it, pinned to
// one thread, behind gonum's blas64 and blas32 and registers it with
// internal/gemm as "openblas", which NETTRAIN_GEMM=openblas selects for the
// net's products. Without the tag (the default build) Use does nothing:
// the products run on internal/gemm's own kernels.
package blasimpl
