#!/bin/sh
# airbench94's recipe (Jordan 2024) on nettrain: 10 epochs of batch 1024,
# the final test score with test-time augmentation, the training split
# left unscored. Extra arguments go to nettrain train (--seed 1,
# --iters 235, --out m.npz, ...; later ones win). Muon's 8-epoch run is
# scripts/airbench_muon.sh, the 10-minute run scripts/airbench10.sh.
set -e
NETTRAIN=${NETTRAIN:-nettrain}
exec "$NETTRAIN" train --arch airbench --whiten --whiten-bias-epochs 3 --init dirac \
	--optimizer nesterov --momentum 0.85 --lr 1.5 --reg 1.33e-3 --bias-lr 64 \
	--schedule triangle --label-smoothing 0.2 --batch 1024 --iters 470 \
	--shuffle --flip --alternate-flip --translate 2 --translate-pad reflect \
	--lookahead 5 --norm-track 0.4 --num-test 10000 --test --tta --skip-train-score --out airbench.npz "$@"
