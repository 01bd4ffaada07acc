#!/usr/bin/env bash
# The assignment's convnet run, nettrain beside PyTorch on the same machine
# in the same run: one epoch (980 iterations of batch 50, Adam lr 1e-3,
# reg 1e-3) of cs231n's ThreeLayerConvNet on 2 threads, then the accuracy
# on the train and validation splits. Needs python3-torch and numpy.
#   scripts/convnet_vs_pytorch.sh [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-${NETTRAIN_DATA:-data/cifar-10-batches-bin}}
# Debian's python3-torch and python3-numpy live in the system python3, not
# in a pyenv or venv one that may come first on PATH.
py=${PYTHON:-/usr/bin/python3}
make -s build
grep -m1 "model name" /proc/cpuinfo || true
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for run in 1 2; do
  "$py" scripts/convnet_torch.py "$data" 2
  /usr/bin/time -f "nettrain: %e s in all (training 980 iterations, then scoring 50,000 images)" \
    bin/nettrain train --data "$data" --arch cs231n-convnet --optimizer adam --lr 1e-3 --reg 1e-3 --batch 50 \
      --iters 980 --threads 2 --out "$tmp/convnet.npz" 2>&1 | grep -v "^loaded"
  "$py" -c "import json,sys; import numpy as np; m=json.loads(str(np.load(sys.argv[1])['meta'])); print('nettrain: seconds recorded', round(m['results']['seconds'],1))" "$tmp/convnet.npz" 2>/dev/null || true
done
