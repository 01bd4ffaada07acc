// Package model is a fully connected network: affine layers with a ReLU
// after each but the last, softmax, and L2 regularisation. One hidden layer
// is the cs231n two-layer network (affine, ReLU, affine, softmax); more are
// assignment 2's FullyConnectedNet, with batch or layer normalisation
// between each hidden affine layer and its ReLU if asked (Norm).
//
// Letters: N rows in a batch, D inputs (3072 for CIFAR-10), H hidden units
// (H1, H2, ... in a deeper net), C classes (10). Every matrix is row-major:
// X (N, D), W1 (D, H1), W2 (H1, H2), ..., Wn (H(n-1), C).
//
// Net.Loss is the fast path (direct BLAS calls, buffers reused through a
// Workspace); LossRef is the plain reference written with mat.Dense methods,
// and the tests hold the two together. GradCheck compares Loss's analytic
// gradients with centered differences (NumGrad, through diffCheck).
//
// The package holds no files: package checkpoint reads and writes nets.
// Shape mismatches between a Net and the buffers handed to its methods
// panic, as in gonum.
package model
