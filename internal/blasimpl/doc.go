// Package blasimpl chooses the BLAS behind gonum's blas64 and blas32.
//
// Built with the openblas tag (and cgo), Use installs OpenBLAS through
// gonum.org/v1/netlib and pins it to one thread: the net's matrices are small,
// and nettrain parallelises over independent chunks itself, which keeps
// results independent of the thread count. Without the tag, gonum's pure-Go
// BLAS stays in place. `make build` adds the tag when libopenblas is
// installed.
package blasimpl
