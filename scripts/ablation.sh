#!/usr/bin/env bash
# Ablation of the options beyond cs231n: from cs231n's SGD on the mean
# image to the README's 60% recipe, adding one option at a time, on a
# smaller budget (hidden 1000, 5 epochs), every run with the same seed.
# Prints a Markdown table of validation accuracies.
#
#   scripts/ablation.sh [DATA] [HIDDEN] [ITERS]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-${NETTRAIN_DATA:-data/cifar-10-batches-bin}}
hidden=${2:-1000}
iters=${3:-1225}
make -s build
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

common="--data $data --hidden $hidden --iters $iters --reg 1e-4 --std 0.01 --quiet --json"
# name | flags. Each rate is the one that option wants: Nesterov's steps are
# 1/(1-0.9) = 10 times SGD's, standardised and whitened inputs are ~60 and
# more times smaller than raw pixels.
runs=(
  "cs231n: SGD, step decay 0.95, mean image|--lr 1e-3"
  "+ Nesterov momentum, cosine schedule|--optimizer nesterov --schedule cosine --lr 1e-4"
  "+ per-channel standardisation|--optimizer nesterov --schedule cosine --preprocess channel --lr 0.02"
  "+ random flips|--optimizer nesterov --schedule cosine --preprocess channel --lr 0.02 --flip"
  "+ dropout 0.25|--optimizer nesterov --schedule cosine --preprocess channel --lr 0.02 --flip --dropout 0.25"
  "+ ZCA whitening instead of per-channel|--optimizer nesterov --schedule cosine --preprocess zca --lr 0.1 --flip --dropout 0.25"
)
i=0
for run in "${runs[@]}"; do
  flags=${run#*|}
  # shellcheck disable=SC2086 # flag lists
  bin/nettrain train $common $flags --out "$out/$i.npz" >"$out/$i.json" &
  i=$((i + 1))
  if ((i % 2 == 0)); then wait; fi
done
wait
names=()
for run in "${runs[@]}"; do names+=("${run%%|*}"); done
python3 - "$out" "$hidden" "$iters" "${names[@]}" <<'PY'
import json, os, sys
out, hidden, iters, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
print("| configuration (hidden %s, %s iterations) | val_acc | added | seconds |" % (hidden, iters))
print("|---|---|---|---|")
prev = None
for i, name in enumerate(names):
    r = json.load(open(os.path.join(out, "%d.json" % i)))
    added = "" if prev is None else "%+.3f" % (r["val_acc"] - prev)
    print("| %s | %.3f | %s | %.0f |" % (name, r["val_acc"], added, r["seconds"]))
    prev = r["val_acc"]
PY
