#!/usr/bin/env bash
# The question at the end of cs231n assignment 1, answered by measurement:
# the test accuracy is much lower than the training accuracy; which of a
# larger training set, more hidden units or stronger regularisation closes
# the gap? Trains the README's tuned net (hidden 200, lr 1e-3, reg 0.25,
# 4000 iterations of batch 200) changing one of the three at a time, same
# budget and seed, and prints a Markdown table of the accuracy on the whole
# training split, on validation, and the gap between them. The rate is kept
# constant (--lr-decay 1): decayed per epoch, a smaller training set (shorter
# epochs) would get a smaller rate for the same iterations, and the
# comparison would measure that instead. Validation is the 1000 images after
# the training ones.
#
#   scripts/gap.sh [DATA]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-${NETTRAIN_DATA:-data/cifar-10-batches-bin}}
make -s build
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

base="--hidden 200 --lr 1e-3 --lr-decay 1 --reg 0.25 --iters 4000"
# change | flags (later flags override the base's)
runs=(
  "training images 2,000|--num-train 2000"
  "training images 10,000|--num-train 10000"
  "training images 49,000 (base)|"
  "hidden 50|--hidden 50"
  "hidden 800|--hidden 800"
  "reg 0.025|--reg 0.025"
  "reg 2.5|--reg 2.5"
  "reg 10|--reg 10"
)
i=0
for run in "${runs[@]}"; do
  flags=${run#*|}
  # shellcheck disable=SC2086 # flag lists
  bin/nettrain train --data "$data" $base $flags --quiet --json --out "$out/$i.npz" >"$out/$i.json"
  i=$((i + 1))
done
names=()
for run in "${runs[@]}"; do names+=("${run%%|*}"); done
python3 - "$out" "${names[@]}" <<'PY'
import json, sys
out, names = sys.argv[1], sys.argv[2:]
print("| change from the base run | train_acc (whole train split) | val_acc | gap |")
print("|---|---|---|---|")
for i, name in enumerate(names):
    r = json.load(open("%s/%d.json" % (out, i)))
    print("| %s | %.3f | %.3f | %.3f |" % (name, r["train_acc"], r["val_acc"], r["train_acc"] - r["val_acc"]))
PY
