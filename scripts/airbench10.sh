#!/bin/sh
# The 10-minute run: airbench94_muon's recipe (scripts/airbench_muon.sh) on
# airbench's net at half width (airbench-half: 32, 128, 128 channels), 245
# steps of 1000 images (5 epochs), the rate falling to 0 over them. On a
# 2-core AMD EPYC (Zen 4), with TTA: seed 0 90.56% on the test set in
# 8 min 24 s, seed 1 91.10% in 9 min 17 s, seed 2 91.09% in 9 min 23 s.
# Extra arguments go to nettrain train (later ones win). Nesterov's
# 10-minute run was scripts/airbench.sh
# --arch airbench-half --batch 512 --lr 0.75 --lookahead 10 --iters 480
# --whiten-bias-epochs 2 (seed 0 90.25% in 9 min 7 s).
set -e
exec sh "$(dirname "$0")/airbench_muon.sh" --arch airbench-half --iters 245 --out airbench10.npz "$@"
