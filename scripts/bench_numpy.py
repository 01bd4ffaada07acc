"""numpy baseline for `make bench`: the cs231n TwoLayerNet training step.

    python3 scripts/bench_numpy.py DATA_DIR

Times the loop body of cs231n's TwoLayerNet.train (sample a minibatch with
replacement, loss and gradients as in the assignment's neural_net.py, SGD
update) on the real data, float64 as the assignment runs it, for W1 (H=50)
and W2 (H=500) with batch 200. Prints one line per workload.
"""
import os
import sys
import time

import numpy as np


def load(d):
    xs, ys = [], []
    for i in range(1, 6):
        raw = np.fromfile(os.path.join(d, "data_batch_%d.bin" % i), dtype=np.uint8).reshape(-1, 3073)
        ys.append(raw[:, 0])
        xs.append(raw[:, 1:])
    X = np.concatenate(xs)[:49000].astype(np.float64)
    X -= X.mean(axis=0)
    return X, np.concatenate(ys)[:49000].astype(np.int64)


def loss(params, X, y, reg):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    N = X.shape[0]
    z = X.dot(W1) + b1
    h = np.maximum(z, 0)
    scores = h.dot(W2) + b2
    scores = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(scores)
    p /= p.sum(axis=1, keepdims=True)
    L = -np.log(p[np.arange(N), y]).mean() + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    dscores = p
    dscores[np.arange(N), y] -= 1
    dscores /= N
    grads = {"W2": h.T.dot(dscores) + reg * W2, "b2": dscores.sum(axis=0)}
    dh = dscores.dot(W2.T)
    dh[z <= 0] = 0
    grads["W1"] = X.T.dot(dh) + reg * W1
    grads["b1"] = dh.sum(axis=0)
    return L, grads


def bench(X, y, H, iters):
    rng = np.random.default_rng(0)
    params = {"W1": 1e-4 * rng.standard_normal((3072, H)), "b1": np.zeros(H),
              "W2": 1e-4 * rng.standard_normal((H, 10)), "b2": np.zeros(10)}
    for it in range(iters + 3):
        if it == 3:
            t0 = time.perf_counter()
        idx = rng.choice(X.shape[0], 200, replace=True)
        _, grads = loss(params, X[idx], y[idx], 0.25)
        for k in params:
            params[k] -= 1e-4 * grads[k]
    return (time.perf_counter() - t0) / iters * 1e3


def default_run(d):
    """cs231n's notebook run end to end: load, 1000 iterations of hidden 50,
    validation accuracy after each epoch; returns the wall seconds."""
    t0 = time.perf_counter()
    X, y = load(d)
    Xv = X[-1000:]
    rng = np.random.default_rng(0)
    params = {"W1": 1e-4 * rng.standard_normal((3072, 50)), "b1": np.zeros(50),
              "W2": 1e-4 * rng.standard_normal((50, 10)), "b2": np.zeros(10)}
    lr = 1e-4
    for it in range(1000):
        idx = rng.choice(49000, 200, replace=True)
        _, grads = loss(params, X[idx], y[idx], 0.25)
        for k in params:
            params[k] -= lr * grads[k]
        if (it + 1) % 245 == 0:
            h = np.maximum(Xv.dot(params["W1"]) + params["b1"], 0)
            (h.dot(params["W2"]) + params["b2"]).argmax(axis=1)
            lr *= 0.95
    return time.perf_counter() - t0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[2] == "--default-run":
        print("numpy cs231n default run (load, 1000 iterations, float64): %.2f s wall" % default_run(sys.argv[1]))
        sys.exit(0)
    X, y = load(sys.argv[1])
    for name, H, iters in (("W1", 50, 200), ("W2", 500, 30)):
        print("numpy float64 %s (H=%d, batch 200): %.2f ms/iter" % (name, H, bench(X, y, H, iters)))
