#!/usr/bin/env bash
# Ablation of the deep recipe (two hidden layers, 1500 and 750 units, 15
# epochs): the whole recipe, then each option taken out (or one added)
# alone, every run with the same seed, one after the other so that the
# seconds compare. Prints a Markdown table of validation accuracy (what the
# recipe was chosen on) and test accuracy on all 10,000 test images.
#
#   scripts/ablation_deep.sh [DATA]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-${NETTRAIN_DATA:-data/cifar-10-batches-bin}}
make -s build
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

recipe="--hidden 1500,750 --optimizer nesterov --lr 0.05 --schedule cosine --flip --translate 2 --preprocess zca --reg 5e-4 --std 0.01 --iters 3675 --keep-best"
common="--data $data --test --num-test 10000 --quiet --json"
# name | flags
runs=(
  "the recipe|$recipe"
  "without translations|${recipe/--translate 2/}"
  "without flips|${recipe/--flip/}"
  "per-channel standardisation instead of ZCA|${recipe/--preprocess zca/--preprocess channel}"
  "plain SGD (10x the rate) instead of Nesterov|${recipe/--optimizer nesterov --lr 0.05/--optimizer sgd --lr 0.5}"
  "one hidden layer (1500) instead of two|${recipe/--hidden 1500,750 --optimizer nesterov --lr 0.05/--hidden 1500 --optimizer nesterov --lr 0.1}"
  "with label smoothing 0.1|$recipe --label-smoothing 0.1"
  "with batch normalisation|$recipe --norm batch"
  "with layer normalisation|$recipe --norm layer"
)
i=0
for run in "${runs[@]}"; do
  # shellcheck disable=SC2086 # flag lists
  bin/nettrain train $common ${run#*|} --out "$out/$i.npz" >"$out/$i.json"
  i=$((i + 1))
done
names=()
for run in "${runs[@]}"; do names+=("${run%%|*}"); done
python3 - "$out" "${names[@]}" <<'PY'
import json, os, sys
out, names = sys.argv[1], sys.argv[2:]
print("| deep recipe, 15 epochs | val_acc | test_acc (10,000) | seconds |")
print("|---|---|---|---|")
for i, name in enumerate(names):
    r = json.load(open(os.path.join(out, "%d.json" % i)))
    print("| %s | %.3f | %.4f | %.0f |" % (name, r["val_acc"], r["test_acc"], r["seconds"]))
PY
