#!/usr/bin/env bash
# Fetch the CIFAR-10 binary batches into data/cifar-10-batches-bin (or $1).
#
#   scripts/get_cifar10.sh [DEST]
#
# Downloads cifar-10-binary.tar.gz (about 162 MiB) from the official site,
# resuming a partial download and retrying on network errors, checks the MD5
# of each of the six .bin files against the official ones, and moves the
# verified files into DEST in one step: DEST never holds a half-extracted or
# unverified dataset. Does nothing when DEST already holds valid files.
#
# Environment:
#   CIFAR10_URL      archive URL (default: the official site); file:// works
#   CIFAR10_MD5SUMS  md5sum-format file to check against instead of the
#                    official sums (for tests with a fixture archive)
#   CIFAR10_RETRIES  download attempts (default 5)
set -euo pipefail

url=${CIFAR10_URL:-https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz}
dest=${1:-data/cifar-10-batches-bin}
retries=${CIFAR10_RETRIES:-5}
md5sums=${CIFAR10_MD5SUMS:-}
[[ -z $md5sums ]] || md5sums=$(realpath "$md5sums")

die() { echo "get_cifar10: $*" >&2; exit 1; }
log() { echo "get_cifar10: $*" >&2; }

for tool in curl tar gzip md5sum realpath; do
  command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install $tool)"
done

# Official MD5s of the binary distribution (see shared/cifar-10-batches-bin/SOURCE.md).
official_sums() {
  cat <<'SUMS'
5dd7e06a14cb22eb9f671a540d1b7c25  data_batch_1.bin
5ea93a67294ea407fff1d09f752e9692  data_batch_2.bin
942cd6a4bcdd0dd3c604fbe906cb4421  data_batch_3.bin
ae636b3ba5c66a11e91e8cb52e771fcb  data_batch_4.bin
53f37980c15c3d472c316c40844f3f0d  data_batch_5.bin
803d5f7f4d78ea53de84dbe85f74fb6d  test_batch.bin
SUMS
}
sums() {
  if [[ -n $md5sums ]]; then cat "$md5sums"; else official_sums; fi
}

# verify DIR: every .bin file present with its MD5; prints what is wrong.
verify() {
  (cd "$1" 2>/dev/null && sums | md5sum --check --quiet --strict 2>&1)
}

if [[ -d $dest ]] && verify "$dest" >/dev/null; then
  log "$dest already holds the six verified CIFAR-10 batches; nothing to do"
  exit 0
fi

parent=$(dirname "$dest")
made_parent=
[[ -d $parent ]] || made_parent=1
mkdir -p "$parent"
# The partial download lives beside DEST so that a rerun resumes it.
archive="$parent/.cifar-10-binary.tar.gz.part"
work=$(mktemp -d "$parent/.cifar-10-extract.XXXXXX")
# On the way out: the extraction directory always goes, an empty partial
# download too, and the parent directory if this script made it and it is
# empty (a failed first download leaves no empty data/ behind).
cleanup() {
  rm -rf "$work"
  [[ -s $archive ]] || rm -f "$archive"
  [[ -z $made_parent ]] || rmdir "$parent" 2>/dev/null || true
}
trap cleanup EXIT

log "downloading $url"
ok=
for ((try = 1; try <= retries; try++)); do
  # -C - resumes from the bytes already in $archive.
  code=0
  curl --fail --location --silent --show-error --connect-timeout 20 \
    --continue-at - --output "$archive" "$url" || code=$?
  if ((code == 0)); then ok=1; break; fi
  # 22 (HTTP error) on a whole part file is the server's 416 for a resume
  # past the end: the download is already complete.
  if ((code == 22)) && [[ -s $archive ]] && gzip -t "$archive" 2>/dev/null; then ok=1; break; fi
  # 33: the server cannot resume; start over.
  if ((code == 33)); then rm -f "$archive"; fi
  log "download attempt $try/$retries failed (curl exit $code)"
  ((try < retries)) && sleep "$((try < 4 ? try : 4))"
done
# The same words as nettrain data fetch (internal/fetch.OtherWays).
[[ -n $ok ]] || die "could not download $url after $retries attempts; get CIFAR-10 another way: download cifar-10-binary.tar.gz by hand and pass the archive, or the cifar-10-batches-bin directory in it, to --data or NETTRAIN_DATA=PATH (make train reads NETTRAIN_DATA too), or point CIFAR10_URL (--url for nettrain data fetch) at another copy; file:///path/to/cifar-10-binary.tar.gz works"

if ! tar -xzf "$archive" -C "$work" 2>"$work/tar.err"; then
  rm -f "$archive"
  die "$url is not a valid .tar.gz ($(head -1 "$work/tar.err")); removed it, run again to download afresh"
fi
src="$work/cifar-10-batches-bin"
[[ -d $src ]] || { rm -f "$archive"; die "the archive has no cifar-10-batches-bin directory; is $url the binary version?"; }
if ! bad=$(verify "$src"); then
  rm -f "$archive"
  die "checksum mismatch, download damaged: $(echo "$bad" | tr '\n' ' ')- removed it, run again to download afresh"
fi

rm -rf "$dest.old"
[[ -e $dest ]] && mv "$dest" "$dest.old"
mv "$src" "$dest"
rm -rf "$dest.old" "$archive"
log "CIFAR-10 is in $dest (six batches verified)"
