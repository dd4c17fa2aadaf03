#!/usr/bin/env bash
# What reading an image costs before any step runs: `salve patch` of the Python fixture image
# (`fixtures/images/debian-image.sh python`: Debian with seven Python environments) with a report
# whose every finding is already at its fixed version, so the run reads the report, loads the
# plugins, reads the image from an OCI layout, probes its layers (every `*.dist-info/METADATA`
# anywhere, the dpkg status) and ends "image is already up to date". Nothing is unpacked or run.
# With SALVE_EARLIER=PATH (another build of salve, say of an earlier commit) its runs are timed
# in the same rounds, alternating the order; medians are reported.
# Usage: [SALVE_EARLIER=PATH] scripts/bench-probe.sh [ROUNDS]
set -euo pipefail
rounds=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p salve
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
salve="$target_dir/release/salve"
layout=$("$root/fixtures/images/debian-image.sh" python)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Findings for the packages each environment has, at the versions installed.
python3 - "$work/report.json" <<'PY'
import json, sys
folders = ["usr/local/lib/python3.11/dist-packages", "opt/app/lib/python3.11/site-packages",
           "app/.venv/lib/python3.11/site-packages", "venv/lib/python3.11/site-packages",
           "srv/service/env/lib/python3.11/site-packages",
           "home/app/.local/lib/python3.11/site-packages"]
findings = []
for index, folder in enumerate(folders):
    for name, version in [("urllib3", "1.26.5"), ("idna", "2.10")]:
        findings.append({"VulnerabilityID": f"CVE-2099-{index}{len(findings)}", "PkgName": name,
                         "InstalledVersion": version, "FixedVersion": version,
                         "PkgPath": f"{folder}/{name}-{version}.dist-info/METADATA"})
report = {"SchemaVersion": 2, "ArtifactName": "python",
          "Metadata": {"OS": {"Family": "debian", "Name": "12"},
                       "ImageConfig": {"architecture": "amd64", "os": "linux"}},
          "Results": [{"Target": "Python", "Class": "lang-pkgs", "Type": "python-pkg",
                       "Vulnerabilities": findings}]}
json.dump(report, open(sys.argv[1], "w"))
PY

# One timed run of a binary, with its compiled-plugin cache filled by an untimed first run.
run() {
  local binary=$1 name=$2
  local cache=$work/cache-$name
  local args=(patch -i "oci:$layout:python" -r "$work/report.json" --oci-dir "$work/out-$name"
              --cache-dir "$cache")
  if [[ ! -d $cache ]]; then
    "$binary" "${args[@]}" > /dev/null 2>&1
  fi
  local start end
  start=$(date +%s.%N)
  "$binary" "${args[@]}" > /dev/null 2> "$work/stderr-$name"
  end=$(date +%s.%N)
  grep -q "already up to date" "$work/stderr-$name" || { cat "$work/stderr-$name" >&2; exit 1; }
  python3 -c "print(f'{$end - $start:.3f}')"
}

names=(current)
binaries=("$salve")
if [[ -n ${SALVE_EARLIER:-} ]]; then
  names+=(earlier)
  binaries+=("$SALVE_EARLIER")
fi
declare -A times
for ((round = 0; round < rounds; round++)); do
  order=("${!names[@]}")
  if ((round % 2)); then order=($(printf '%s\n' "${order[@]}" | tac)); fi
  for index in "${order[@]}"; do
    times[${names[$index]}]+="$(run "${binaries[$index]}" "${names[$index]}") "
  done
done
for name in "${names[@]}"; do
  python3 -c "import statistics,sys; t=[float(x) for x in sys.argv[2:]]; print(f'{sys.argv[1]:8} median {statistics.median(t):.3f}s  runs {\" \".join(f\"{x:.3f}\" for x in t)}')" "$name" ${times[$name]}
done
