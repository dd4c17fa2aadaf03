#!/usr/bin/env bash
# The performance guard: runs the three comparisons of BENCHMARKS.md in one go and prints each
# ratio beside its goal and beside the ratio recorded in scripts/bench-guard.recorded (the
# latest figures BENCHMARKS.md reports). A ratio more than 15% above the recorded one is a
# regression: the script says which and exits 1 (machines are shared and noisy, so a single
# regression is worth a second run before it is believed). Not a CI test: it takes minutes and
# needs what the benchmarks need (root, docker.io, docker-registry, mmdebstrap, umoci).
#
#   parse      cargo bench --bench report_parse: the sandboxed Trivy parser against the same
#              code compiled natively, on a 50 MB report          (goal <= 1.5)
#   patch      scripts/bench-patch.sh with SALVE_NATIVE=1: local warm, native warm and native
#              cold against the chroot apt-get floor              (goals <= 1.2, <= 0.5, <= 1)
#   buildkit   scripts/bench-buildkit.sh: BuildKit against the local engine (goal <= 1.5),
#              with the base pulled in every run (buildkit) and with the base already in the
#              daemon's image store (buildkit-warm)
#
# Usage: scripts/bench-guard.sh [ROUNDS]     (rounds of the two end-to-end scripts; default 3)
set -euo pipefail
rounds=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

echo "parse: cargo bench --bench report_parse" >&2
cargo bench --quiet --manifest-path "$root/Cargo.toml" -p salve --bench report_parse \
  >"$log/parse" 2>&1
median_ns() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"])' \
    "$target_dir/criterion/trivy_50mb/$1/new/estimates.json"
}
parse=$(echo "$(median_ns sandboxed) / $(median_ns native)" | bc -l)

echo "patch: SALVE_NATIVE=1 scripts/bench-patch.sh $rounds" >&2
SALVE_NATIVE=1 "$root/scripts/bench-patch.sh" "$rounds" >"$log/patch" 2>&1
ratio_of() { grep -F "$1" "$2" | sed -e 's/.*= \([0-9.]*\).*/\1/' | head -1; }
local_warm=$(ratio_of "salve warm" "$log/patch")
native_warm=$(ratio_of "native warm" "$log/patch")
native_cold=$(ratio_of "native cold" "$log/patch")

echo "buildkit: scripts/bench-buildkit.sh $rounds" >&2
"$root/scripts/bench-buildkit.sh" "$rounds" >"$log/buildkit" 2>&1
buildkit=$(ratio_of "buildkit / local" "$log/buildkit")
buildkit_warm=$(ratio_of "buildkit warm / local" "$log/buildkit")

recorded() { awk -v name="$1" '$1 == name { print $2 }' "$root/scripts/bench-guard.recorded"; }
regressions=0
printf '%-12s %8s %8s %10s\n' comparison ratio goal recorded
for row in "parse $parse 1.5" "local-warm $local_warm 1.2" "native-warm $native_warm 0.5" \
  "native-cold $native_cold 1.0" "buildkit $buildkit 1.5" "buildkit-warm $buildkit_warm 1.5"; do
  read -r name ratio goal <<<"$row"
  was=$(recorded "$name")
  verdict=""
  if [[ -z $ratio ]]; then
    verdict="(no figure: see the benchmark's output above)"
    regressions=$((regressions + 1))
  elif [[ -z $was ]]; then
    verdict="(nothing recorded to compare with)"
  elif (($(echo "$ratio > $was * 1.15" | bc -l))); then
    verdict="REGRESSION"
    regressions=$((regressions + 1))
  elif (($(echo "$ratio <= $goal" | bc -l))); then
    verdict="goal met"
  fi
  printf '%-12s %8.2f %8s %10s  %s\n' "$name" "${ratio:-0}" "$goal" "$was" "$verdict"
done
if ((regressions > 0)); then
  for part in parse patch buildkit; do
    echo "--- $part" >&2
    tail -n 15 "$log/$part" >&2
  done
  exit 1
fi
