"""One training step of airbench94's net (forward, loss, backward) in
PyTorch on the CPU, to time nettrain's BenchmarkStepAirbench1024 against:

    python3 scripts/airbench_step_torch.py [BATCH] [THREADS] [channels_last] [bf16]

The net as nettrain's airbench preset: a 2x2 convolution 3->24 without
padding, GELU, three blocks of conv3x3 - maxpool2 - batchnorm - GELU -
conv3x3 - batchnorm - GELU (64, 256, 256 channels, convolutions without
bias), a 3x3 max pool, a linear layer 256->10 without bias, times 1/9;
float32, random inputs and labels; with bf16, under CPU autocast to
bfloat16 (oneDNN's bfloat16 convolutions), as nettrain's --matmul bf16."""

import sys
import time

import torch
from torch import nn

batch = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)


def block(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(cout), nn.GELU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.GELU()]


class Scale(nn.Module):
    def forward(self, x):
        return x / 9


net = nn.Sequential(nn.Conv2d(3, 24, 2), nn.GELU(), *block(24, 64), *block(64, 256), *block(256, 256),
                    nn.MaxPool2d(3), nn.Flatten(), nn.Linear(256, 10, bias=False), Scale())
x = torch.randn(batch, 3, 32, 32)
y = torch.randint(0, 10, (batch,))
layout = sys.argv[3] if len(sys.argv) > 3 else "nchw"
if layout == "channels_last":  # PyTorch's fastest layout for these convolutions on the CPU
    net = net.to(memory_format=torch.channels_last)
    x = x.to(memory_format=torch.channels_last)


bf16 = len(sys.argv) > 4 and sys.argv[4] == "bf16"


def step():
    net.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()


step()
times = []
for _ in range(3):
    t = time.perf_counter()
    step()
    times.append(time.perf_counter() - t)
print(f"pytorch {torch.__version__}, {torch.get_num_threads()} threads, {layout}{', bf16 autocast' if bf16 else ''}: airbench step at batch {batch}: "
      + ", ".join(f"{t:.2f}" for t in times) + " s")
