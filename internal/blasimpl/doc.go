// Package blasimpl links OpenBLAS in as a GEMM backend to compare against,
// in the openblas build (the openblas tag and cgo): Use registers it,
// pinned to one thread, with internal/gemm as "openblas", which
// NETTRAIN_GEMM=openblas selects for the net's products. Nothing else goes
// through it: gonum's blas64 and blas32 keep their pure-Go implementation,
// and the training path's other arithmetic (the update, the penalty's sum of
// squares, reductions, the optimizers) is nettrain's own code with one
// order, so the openblas build's default path gives the static build's bits
// on every CPU. Without the tag (the default build) Use does nothing.
package blasimpl
