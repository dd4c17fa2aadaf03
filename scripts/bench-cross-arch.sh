#!/usr/bin/env bash
# Cross-architecture patch time: an arm64 image patched on this amd64 machine by the native
# engine (no emulation) and by the local engine (apt-get and dpkg of the image under QEMU), in
# one run, from the same report of packages every engine can update (no maintainer scripts in
# their source). Both warm: the native engine's package store and the local engine's root
# filesystem and compiled-plugin caches filled by an earlier run. Rounds alternate the order;
# medians are reported. Needs root, mmdebstrap, umoci, python3, slirp4netns, qemu-user-static,
# binfmt-support and arch-test (for the arm64 fixture and the local engine's steps).
# Usage: scripts/bench-cross-arch.sh [ROUNDS]
set -euo pipefail
rounds=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p salve
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
salve="$target_dir/release/salve"
layout=$("$root/fixtures/images/debian-image.sh" minbase arm64)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

manifest=$(python3 -c "import json;print(json.load(open('$layout/index.json'))['manifests'][0]['digest'][7:])")
layer=$(python3 -c "import json;print(json.load(open('$layout/blobs/sha256/$manifest'))['layers'][0]['digest'][7:])")
mkdir "$work/rootfs"
tar -C "$work/rootfs" --numeric-owner -xzf "$layout/blobs/sha256/$layer" ./var/lib/dpkg
python3 "$root/fixtures/images/security-updates.py" "$work/rootfs/var/lib/dpkg/status" arm64 > "$work/updates.json"
packages=$(python3 "$root/scripts/bench-report.py" "$work/updates.json" "$work/report.json" "$work/rootfs")
echo "packages: $packages; rounds: $rounds"

now() { date +%s.%N; }
declare -A times
run() {
  local kind=$1 round=$2 t0 t1 engine=()
  [[ $kind == native ]] && engine=(--engine native)
  t0=$(now)
  "$salve" patch -i "oci:$layout:minbase" -r "$work/report.json" --oci-dir "$work/out-$kind-$round" \
    --cache-dir "$work/cache-$kind" "${engine[@]}" 2>/dev/null
  t1=$(now)
  rm -rf "$work/out-$kind-$round"
  times[$kind]+="$(echo "$t1 - $t0" | bc) "
}
run native 0 && times[native]=""
run local 0 && times[local]=""
for round in $(seq "$rounds"); do
  if (( round % 2 )); then run native "$round"; run local "$round"
  else run local "$round"; run native "$round"; fi
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
n=$(echo "${times[native]}" | median)
l=$(echo "${times[local]}" | median)
printf 'local engine, under QEMU   %7.2fs\n' "$l"
printf 'native engine              %7.2fs   native / local = %.2f\n' "$n" "$(echo "$n / $l" | bc -l)"
