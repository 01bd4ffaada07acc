"""The assignment's run in PyTorch, to time nettrain against:

    python3 scripts/convnet_torch.py DATA_DIR [THREADS]

cs231n's ThreeLayerConvNet (32 filters of 7x7, padding 3, ReLU, 2x2 max
pool, affine 100, ReLU, affine 10) on the first 49,000 training images
(mean image subtracted), 980 iterations of Adam (lr 1e-3) on minibatches
of 50 drawn with replacement, the loss plus 0.5 * 1e-3 * sum(W^2), weights
1e-4 N(0,1) as nettrain's defaults; then, as nettrain train does, the
accuracy on the whole train split and on the 1,000 validation images.
Prints the seconds of the training loop and of the scoring."""

import sys
import time

import numpy as np
import torch
from torch import nn

d = sys.argv[1]
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
torch.manual_seed(0)
rows = [np.fromfile(f"{d}/data_batch_{i}.bin", dtype=np.uint8).reshape(-1, 3073) for i in range(1, 6)]
raw = np.concatenate(rows)
y_all, x_all = raw[:, 0].astype(np.int64), raw[:, 1:].astype(np.float32)
mean = x_all[:49000].astype(np.float64).mean(0).astype(np.float32)
x = torch.tensor((x_all[:50000] - mean).reshape(-1, 3, 32, 32))
y = torch.tensor(y_all[:50000])
xtr, ytr, xval, yval = x[:49000], y[:49000], x[49000:], y[49000:]

net = nn.Sequential(nn.Conv2d(3, 32, 7, padding=3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                    nn.Linear(32 * 16 * 16, 100), nn.ReLU(), nn.Linear(100, 10))
weights = []
for m in net:
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.normal_(m.weight, std=1e-4)
        nn.init.zeros_(m.bias)
        weights.append(m.weight)
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
t0 = time.perf_counter()
for it in range(980):
    idx = torch.randint(0, 49000, (50,))
    opt.zero_grad()
    loss = nn.functional.cross_entropy(net(xtr[idx]), ytr[idx]) + 0.5 * 1e-3 * sum((w * w).sum() for w in weights)
    loss.backward()
    opt.step()
train_s = time.perf_counter() - t0
t0 = time.perf_counter()
with torch.no_grad():
    def acc(xs, ys):
        return sum((net(xs[i:i + 250]).argmax(1) == ys[i:i + 250]).sum().item() for i in range(0, len(xs), 250)) / len(xs)
    tr, val = acc(xtr, ytr), acc(xval, yval)
score_s = time.perf_counter() - t0
print(f"pytorch {torch.__version__}, {torch.get_num_threads()} threads: epoch (980 iterations) {train_s:.1f} s, "
      f"scoring 50,000 images {score_s:.1f} s; loss {loss.item():.4f}, train_acc {tr:.4f}, val_acc {val:.4f}")
