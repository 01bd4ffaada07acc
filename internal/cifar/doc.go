// Package cifar loads the CIFAR-10 binary batches and builds float minibatches
// from them.
//
// Layout: a Set holds N images as uint8 pixels in one row-major (N, D) slice,
// D = 3072 = 3 planes (red, green, blue) of 32x32 pixels, each plane row-major,
// exactly as the binary files store them, and N labels in 0..9. Pixels stay
// uint8 (150 MB for the whole dataset); float rows are made per minibatch by
// Gather, which subtracts the mean image on the way.
//
// Load and ReadBatch return an error, naming the file and what to do, for
// anything found on disk: a missing directory or file, a wrong size, a label
// out of range. Split returns an error for split sizes that do not fit.
// Gather panics if its destination or indices do not fit the set, as gonum
// does for shape mismatches between our own buffers.
package cifar
