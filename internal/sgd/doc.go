// Package sgd trains a model.Net with minibatch stochastic gradient descent
// as cs231n's TwoLayerNet.train: each iteration draws Batch row indices
// uniformly with replacement, steps every parameter by -LR times its
// gradient, and after each epoch of max(numTrain/Batch, 1) iterations records
// the train accuracy (on the current minibatch, as cs231n does) and the
// validation accuracy, then multiplies LR by LRDecay.
//
// (cs231n's loop also records and decays after the very first iteration, a
// side effect of testing it % epoch == 0; nettrain follows docs/DESIGN.md and
// decays at the end of each whole epoch.)
//
// Train is deterministic: the same Config, seed and data give the same
// numbers bit for bit. It returns an error, with the history so far, for a
// bad Config, a diverged run (*DivergedError) or a cancelled context. The
// minibatch buffers are allocated once; the loop allocates nothing.
package sgd
