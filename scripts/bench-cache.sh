#!/usr/bin/env bash
# What keeping the cache bounded costs a run: at its end every `salve patch` scans the cache
# folder (sizes, times of last use, holders) before it decides whether to evict. This times that
# scan (`salve cache prune` under a bound nothing exceeds, which is the same scan, and
# `salve cache du`) on a cache filled by a real local-engine patch of the minbase fixture, then
# with its unpacked root filesystem copied to 4 and 16 entries, against the warm patch itself.
# Needs root, mmdebstrap, umoci, slirp4netns (as scripts/bench-patch.sh).
# Usage: scripts/bench-cache.sh [ROUNDS]
set -euo pipefail
rounds=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p salve
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
salve="$target_dir/release/salve"
layout=$("$root/fixtures/images/debian-image.sh" minbase)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cache="$work/cache"

now() { date +%s.%N; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
patch_once() {
  "$salve" patch -i "oci:$layout:minbase" --oci-dir "$work/out" --cache-dir "$cache" \
    --progress plain 2>/dev/null >/dev/null
  rm -rf "$work/out"
}
timed() {
  local times="" t0 t1
  for _ in $(seq "$rounds"); do
    t0=$(now)
    "$@" >/dev/null
    t1=$(now)
    times+="$(echo "$t1 - $t0" | bc) "
  done
  echo "$times" | median
}

patch_once   # fills the caches: compiled plugins, the root filesystem
warm=$(timed patch_once)
entry=$(find "$cache/rootfs" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | head -1)
files=$(find "$entry" | wc -l)
printf 'warm patch (update-all, local engine)   %8.3fs\n' "$warm"
for entries in 1 4 16; do
  existing=$(find "$cache/rootfs" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | wc -l)
  for i in $(seq "$existing" $((entries - 1))); do
    cp -a "$entry" "$cache/rootfs/copy-$i"
    cp "$entry.lock" "$cache/rootfs/copy-$i.lock"   # with the size it records
  done
  size=$("$salve" cache du --cache-dir "$cache" --format json \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"]["bytes"] >> 20)')
  prune=$(timed "$salve" cache prune --cache-dir "$cache" --max-size 1TiB)
  du=$(timed "$salve" cache du --cache-dir "$cache")
  printf '%2d root filesystems (%d files each, %d MiB in all): prune %.3fs, du %.3fs; prune / warm patch = %.4f\n' \
    "$entries" "$files" "$size" "$prune" "$du" "$(echo "$prune / $warm" | bc -l)"
done
