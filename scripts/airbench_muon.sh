#!/bin/sh
# airbench94_muon's recipe (Jordan 2024) on nettrain: 8 epochs of batch
# 1000 (airbench's 2000 would need twice the memory), the conv filters
# trained by Muon at its batch-1000 settings (rate 0.12, momentum 0.7),
# the rest by Nesterov, the rate falling linearly to 0, no lookahead; the
# convolutions' products in bfloat16 with float32 sums, as airbench's GPU
# runs them (--matmul float32 for float32's); the final test score with
# test-time augmentation. Extra arguments go to nettrain train (--seed 1,
# --iters 245, --out m.npz, ...; later ones win).
set -e
NETTRAIN=${NETTRAIN:-nettrain}
exec "$NETTRAIN" train --arch airbench --whiten --whiten-bias-epochs 3 --init dirac \
	--optimizer muon --muon-lr 0.12 --muon-momentum 0.7 --momentum 0.85 --lr 0.83 --reg 2.4e-3 --bias-lr 64 \
	--schedule linear --label-smoothing 0.2 --batch 1000 --iters 392 \
	--shuffle --flip --alternate-flip --translate 2 --translate-pad reflect \
	--norm-track 0.4 --matmul bf16 --num-test 10000 --test --tta --skip-train-score --out airbench_muon.npz "$@"
