#!/usr/bin/env bash
# Fetch the CIFAR-10 binary batches into data/cifar-10-batches-bin (or $1).
#
#   scripts/get_cifar10.sh [DEST]
#
# The one download path is `nettrain data fetch` (what `make data` and
# `make train` run through this script): it downloads cifar-10-binary.tar.gz
# (about 162 MiB), resuming a partial download and retrying network errors,
# checks the MD5 of each of the six .bin files, and only then moves them into
# DEST. It does nothing when DEST already holds valid files, and repairs
# missing or damaged batches without touching any other file there. This
# script builds bin/nettrain first if it is not there.
#
# Environment:
#   CIFAR10_URL      archive URL (default: the official site); file:// works
#   CIFAR10_MD5SUMS  md5sum-format file to check against instead of the
#                    official sums (a private copy, or tests)
#   CIFAR10_RETRIES  download attempts (default 5)
#   NETTRAIN         the nettrain binary to run (default: bin/nettrain)
set -euo pipefail

die() { echo "get_cifar10: $*" >&2; exit 1; }

dest=${1:-data/cifar-10-batches-bin}
if [[ $(basename "$dest") != cifar-10-batches-bin ]]; then
  # NETTRAIN_DATA or DATA= naming the user's own copy (a Python directory,
  # an archive): nothing to fetch, nettrain reads it as it is.
  if [[ -e $dest ]]; then
    echo "get_cifar10: $dest is there and is not a cifar-10-batches-bin directory to fetch into; nettrain reads it as it is" >&2
    exit 0
  fi
  die "$dest does not exist, and a download goes into a directory named cifar-10-batches-bin; give one (or unset NETTRAIN_DATA)"
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${NETTRAIN:-$root/bin/nettrain}
if [[ ! -x $bin ]]; then
  command -v go >/dev/null || die "bin/nettrain is not built and Go is not installed (https://go.dev/dl/)"
  echo "get_cifar10: building $bin" >&2
  (cd "$root" && CGO_ENABLED=0 go build -o "$bin" ./cmd/nettrain)
fi

args=(data fetch --dir "$(dirname "$dest")")
[[ -z ${CIFAR10_URL:-} ]] || args+=(--url "$CIFAR10_URL")
[[ -z ${CIFAR10_MD5SUMS:-} ]] || args+=(--md5sums "$CIFAR10_MD5SUMS")
[[ -z ${CIFAR10_RETRIES:-} ]] || args+=(--retries "$CIFAR10_RETRIES")
exec "$bin" "${args[@]}" >/dev/null
