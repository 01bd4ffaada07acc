"""Writes the numpy-made checkpoints that model's tests load.

Run with a Python that has numpy: python3 make_numpy_models.py
Every value is exactly representable in float32, so the Go test can compare
with == after computing the same formulas.
"""
import numpy as np

D, H, C = 6, 4, 3
i, j = np.meshgrid(np.arange(D), np.arange(H), indexing="ij")
W1 = (i - 2.0 * j) / 8          # (D, H)
k, l = np.meshgrid(np.arange(H), np.arange(C), indexing="ij")
W2 = (3.0 * k - l) / 16         # (H, C)
b1 = np.arange(H) / 4 - 0.5
b2 = -np.arange(C) / 2
mean = np.arange(D) * 1.5

# Plain float64, uncompressed, as a user exporting their notebook model would.
np.savez("numpy_f64.npz", W1=W1, b1=b1, W2=W2, b2=b2, mean=mean)
# Compressed, W1 in Fortran order, the rest float32.
np.savez_compressed("numpy_mixed.npz", W1=np.asfortranarray(W1), b1=b1.astype(np.float32),
                    W2=W2.astype(np.float32), b2=b2.astype(np.float32), mean=mean.astype(np.float32))
