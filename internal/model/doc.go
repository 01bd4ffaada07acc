// Package model is the cs231n two-layer network: affine, ReLU, affine,
// softmax, with L2 regularisation.
//
// Letters: N rows in a batch, D inputs (3072 for CIFAR-10), H hidden units,
// C classes (10). Every matrix is row-major: X (N, D), W1 (D, H), W2 (H, C).
//
// Net.Loss is the fast path (direct BLAS calls, buffers reused through a
// Workspace); LossRef is the plain reference written with mat.Dense methods,
// and the tests hold the two together. GradCheck compares Loss's analytic
// gradients with centered differences.
//
// Checkpoints are .npz files that numpy.load opens (see Save and Load).
// Load returns an error for anything wrong in a file. Shape mismatches between
// a Net and the buffers handed to its methods panic, as in gonum.
package model
