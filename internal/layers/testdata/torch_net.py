"""Builds the PyTorch net of a nettrain --arch string and checks nettrain's
forward and backward pass against it (TestTorchAgrees).

    python3 torch_net.py DIR

DIR holds manifest.json (arch, input shape, reg, and each array's name and
shape) and NAME.f64 files (little-endian float64): x, y, and the
parameters, W as nettrain holds it (a convolution's (F, C, K, K) as
PyTorch's; an affine layer's (D, M), the transpose of PyTorch's). It writes
out.json: the loss of the batch (softmax cross-entropy, mean, plus
0.5 reg sum(W^2) over the weights) and each parameter's gradient, as
nettrain shapes them, all in float64."""

import json
import re
import sys

import numpy as np
import torch
from torch import nn


def build(arch, shape):
    """The torch modules of arch for inputs of shape (C, H, W), and the
    nettrain name of each parameter: [(module, {torch name: nettrain name})]."""
    c, h, w = shape
    layers, names, wid, flat = [], [], 0, False
    for tok in arch.split("-"):
        m = re.fullmatch(r"conv(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?(nobias)?", tok)
        if m:
            f, k = int(m[1]), int(m[2])
            s = int(m[3] or 1)
            p = int(m[4]) if m[4] is not None else (k - 1) // 2
            mod = nn.Conv2d(c, f, k, stride=s, padding=p, bias=not m[5])
            wid += 1
            names.append((mod, {"weight": f"W{wid}", "bias": f"b{wid}"}))
            c, h, w = f, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            layers.append(mod)
            continue
        m = re.fullmatch(r"(max|avg)pool(\d+)(?:s(\d+))?", tok)
        if m:
            k = int(m[2])
            s = int(m[3] or k)
            layers.append((nn.MaxPool2d if m[1] == "max" else nn.AvgPool2d)(k, s))
            h, w = (h - k) // s + 1, (w - k) // s + 1
            continue
        m = re.fullmatch(r"fc(\d+)(nobias)?", tok)
        if m:
            mod = nn.Linear(c * h * w, int(m[1]), bias=not m[2])
            wid += 1
            names.append((mod, {"weight": f"W{wid}", "bias": f"b{wid}"}))
            layers += [nn.Flatten(), mod]
            c, h, w, flat = int(m[1]), 1, 1, True
            continue
        if tok in ("bn", "bnnoscale"):
            mod = nn.BatchNorm1d(c) if flat else nn.BatchNorm2d(c)
            names.append((mod, {"weight": f"gamma{wid}", "bias": f"beta{wid}"}))
            layers.append(mod)
        elif tok in ("relu", "gelu"):
            layers.append(nn.ReLU() if tok == "relu" else nn.GELU())
        elif tok in ("gmaxpool", "gavgpool"):
            layers.append(nn.AdaptiveMaxPool2d(1) if tok == "gmaxpool" else nn.AdaptiveAvgPool2d(1))
            h = w = 1
        elif tok == "flatten":
            layers.append(nn.Flatten())
            flat = True
        elif tok.startswith("scale"):
            num = tok[5:].split("/")
            k = float(num[0]) / (float(num[1]) if len(num) > 1 else 1.0)
            layers.append(Scale(k))
        else:
            raise ValueError(f"no torch form for {tok}")
    return nn.Sequential(*layers).double(), names


class Scale(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        return x * self.k


def main(d):
    man = json.load(open(f"{d}/manifest.json"))
    arr = {a["name"]: np.fromfile(f"{d}/{a['name']}.f64", dtype="<f8").reshape(a["shape"]) for a in man["arrays"]}
    net, names = build(man["arch"], man["shape"])
    net.train()
    for mod, nm in names:
        for tname, p in mod.named_parameters():
            v = arr[nm[tname]]
            if isinstance(mod, nn.Linear) and tname == "weight":
                v = v.T
            p.data = torch.tensor(np.ascontiguousarray(v))
    x = torch.tensor(arr["x"])
    y = torch.tensor(arr["y"].astype(np.int64))
    loss = nn.functional.cross_entropy(net(x), y)
    for mod, nm in names:
        if not isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            loss = loss + 0.5 * man["reg"] * (mod.weight ** 2).sum()
    loss.backward()
    out = {"loss": loss.item(), "grads": {}}
    for mod, nm in names:
        for tname, p in mod.named_parameters():
            g = p.grad.numpy()
            if isinstance(mod, nn.Linear) and tname == "weight":
                g = g.T
            out["grads"][nm[tname]] = g.ravel().tolist()
    json.dump(out, open(f"{d}/out.json", "w"))


if __name__ == "__main__":
    main(sys.argv[1])
