#!/usr/bin/env bash
# End-to-end patch time: `salve patch` of 5 packages against `apt-get update && apt-get install`
# of the same packages in a chroot of the same unpacked root filesystem, in one run.
#
#   baseline  chroot into a fresh copy of the fixture's root filesystem (copy not timed, /proc,
#             /dev and resolv.conf mounted), apt-get update, apt-get install --only-upgrade
#   warm      salve patch with its root filesystem and compiled-plugin caches already filled
#   cold      salve patch with an empty cache folder (unpacks the image, compiles the plugins)
# Each salve run reads the image from an OCI layout and writes the patched image to another.
# With SALVE_EARLIER=PATH (another build of salve, say of an earlier commit), its warm and cold
# runs are timed in the same rounds, so a change is measured against what it replaced.
# With SALVE_NATIVE=1, `--engine native` runs (native-warm: its package store filled by an
# earlier run; native-cold: an empty cache folder) are timed in the same rounds too (with
# SALVE_EARLIER, the earlier build's as well), and the report takes only packages every engine
# can update (no maintainer scripts in their source).
# With SALVE_UPDATE_ALL=1, there is no report: salve updates everything (update-all mode) and the
# baseline runs `apt-get upgrade`.
# With SALVE_FIXTURE=VARIANT, another fixture of fixtures/images/debian-image.sh is patched
# (default minbase); with SALVE_PACKAGES="NAME ...", the report names those packages' updates.
# Rounds alternate the order; medians are reported. Needs root, mmdebstrap, umoci, python3,
# slirp4netns.
# Usage: [SALVE_EARLIER=PATH] [SALVE_NATIVE=1] [SALVE_UPDATE_ALL=1] [SALVE_FIXTURE=VARIANT]
#        [SALVE_PACKAGES="NAME ..."] scripts/bench-patch.sh [ROUNDS]
set -euo pipefail
rounds=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p salve
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
salve="$target_dir/release/salve"
variant=${SALVE_FIXTURE:-minbase}
layout=$("$root/fixtures/images/debian-image.sh" "$variant")
work=$(mktemp -d)
cleanup() {
  for dir in "$work"/chroot-*; do
    for mount in dev proc; do umount "$dir/$mount" 2>/dev/null || true; done
  done
  rm -rf "$work"
}
trap cleanup EXIT

# The fixture's single layer, unpacked once: the baseline's root filesystem.
manifest=$(python3 -c "import json;print(json.load(open('$layout/index.json'))['manifests'][0]['digest'][7:])")
layer=$(python3 -c "import json;print(json.load(open('$layout/blobs/sha256/$manifest'))['layers'][0]['digest'][7:])")
mkdir "$work/rootfs"
tar -C "$work/rootfs" --numeric-owner -xzf "$layout/blobs/sha256/$layer"

# Five packages bookworm-security upgrades, as a Trivy report.
python3 "$root/fixtures/images/security-updates.py" "$work/rootfs/var/lib/dpkg/status" > "$work/updates.json"
native=${SALVE_NATIVE:-}
update_all=${SALVE_UPDATE_ALL:-}
if [[ -n $update_all ]]; then
  packages=""
  report=()
  echo "update-all; rounds: $rounds"
else
  packages=$(python3 "$root/scripts/bench-report.py" "$work/updates.json" "$work/report.json" \
    ${native:+"$work/rootfs"})
  report=(-r "$work/report.json")
  echo "packages: $packages; rounds: $rounds"
fi

now() { date +%s.%N; }
declare -A times
baseline() {
  local dir="$work/chroot-$1" t0 t1
  cp -a "$work/rootfs" "$dir"
  mount --bind /dev "$dir/dev"
  mount -t proc proc "$dir/proc"
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  t0=$(now)
  chroot "$dir" apt-get update -q >/dev/null
  local install=(install --only-upgrade)
  [[ -n $update_all ]] && install=(upgrade)
  # shellcheck disable=SC2086
  chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get "${install[@]}" -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $packages >/dev/null
  t1=$(now)
  umount "$dir/dev" "$dir/proc"
  rm -rf "$dir"
  times[baseline]+="$(echo "$t1 - $t0" | bc) "
}
earlier=${SALVE_EARLIER:-}
salve_run() {
  local kind=$1 round=$2 cache t0 t1 program=$salve engine=()
  if [[ $kind == earlier-* ]]; then program=$earlier; fi
  if [[ $kind == *native-* ]]; then engine=(--engine native); fi
  if [[ $kind == *cold ]]; then cache="$work/$kind-$round"; else cache="$work/$kind"; fi
  t0=$(now)
  "$program" patch -i "oci:$layout:$variant" "${report[@]}" --oci-dir "$work/out-$kind-$round" \
    --cache-dir "$cache" "${engine[@]}" 2>/dev/null
  t1=$(now)
  rm -rf "$work/out-$kind-$round" "$work/$kind-$round"
  times[$kind]+="$(echo "$t1 - $t0" | bc) "
}
kinds=(warm cold)
[[ -n $earlier ]] && kinds+=(earlier-warm earlier-cold)
[[ -n $native ]] && kinds+=(native-warm native-cold)
[[ -n $native && -n $earlier ]] && kinds+=(earlier-native-warm earlier-native-cold)
for kind in "${kinds[@]}"; do
  if [[ $kind == *warm ]]; then salve_run "$kind" 0 && times[$kind]=""; fi   # fills the warm cache
done
for round in $(seq "$rounds"); do
  if (( round % 2 )); then
    baseline "$round"
    for kind in "${kinds[@]}"; do salve_run "$kind" "$round"; done
  else
    for ((i = ${#kinds[@]} - 1; i >= 0; i--)); do salve_run "${kinds[i]}" "$round"; done
    baseline "$round"
  fi
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
median_of() { echo "${times[$1]}" | median; }
b=$(median_of baseline)
w=$(median_of warm)
c=$(median_of cold)
# One line of the summary: ROW LABEL WHAT SECONDS [THIS_BUILD_SECONDS] prints the median, its
# ratio to the baseline and, for an earlier build's row, this build's median against it.
row() {
  printf '%-27s%7.2fs   %s / baseline = %.2f' "$1" "$3" "$2" "$(echo "$3 / $b" | bc -l)"
  if [[ -n ${4:-} ]]; then printf '; this / earlier = %.2f' "$(echo "$4 / $3" | bc -l)"; fi
  printf '\n'
}
printf '%-27s%7.2fs\n' 'baseline (chroot apt-get)' "$b"
row 'salve warm' warm "$w"
row 'salve cold' cold "$c"
if [[ -n $native ]]; then
  nw=$(median_of native-warm)
  nc=$(median_of native-cold)
  row 'native warm' warm "$nw"
  row 'native cold' cold "$nc"
fi
if [[ -n $earlier ]]; then
  row 'earlier warm' warm "$(median_of earlier-warm)" "$w"
  row 'earlier cold' cold "$(median_of earlier-cold)" "$c"
  if [[ -n $native ]]; then
    row 'earlier native warm' warm "$(median_of earlier-native-warm)" "$nw"
    row 'earlier native cold' cold "$(median_of earlier-native-cold)" "$nc"
  fi
fi
