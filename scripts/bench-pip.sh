#!/usr/bin/env bash
# Native pip patch time against `pip install` in a chroot, in one run: the Python fixture
# (fixtures/images/debian-image.sh python) with urllib3 and idna updated to their newest
# releases (urllib3 within 1.26) in two environments (/usr/local's dist-packages and the /opt/app
# virtual environment). The baseline runs the image's own pip in a chroot of the unpacked image
# (`pip install --no-deps --no-cache-dir`, once per environment; unpacking is not timed); salve
# reads the image, resolves against PyPI, installs natively and writes the patched image to an
# OCI layout: cold (package store emptied) and warm. Rounds alternate the order; medians are
# reported. Needs root, mmdebstrap, umoci and python3; reaches PyPI.
# Usage: scripts/bench-pip.sh [ROUNDS]
set -euo pipefail
rounds=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p salve
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
salve="$target_dir/release/salve"
layout=$("$root/fixtures/images/debian-image.sh" python)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
urllib3=$(python3 "$root/fixtures/images/pypi-latest.py" urllib3 1.26.)
idna=$(python3 "$root/fixtures/images/pypi-latest.py" idna "")
python3 - "$work/report.json" "$urllib3" "$idna" <<'PY'
import json, sys
path, urllib3, idna = sys.argv[1:]
findings = []
for at, folder in enumerate(["usr/local/lib/python3.11/dist-packages", "opt/app/lib/python3.11/site-packages"]):
    for name, installed, fixed in [("urllib3", "1.26.5", urllib3), ("idna", "2.10", idna)]:
        findings.append({"VulnerabilityID": f"CVE-2099-4{at}{len(findings)}", "PkgName": name,
                         "InstalledVersion": installed, "FixedVersion": fixed,
                         "PkgPath": f"{folder}/{name}-{installed}.dist-info/METADATA"})
json.dump({"SchemaVersion": 2, "ArtifactName": "python-app",
           "Metadata": {"OS": {"Family": "debian", "Name": "12"}},
           "Results": [{"Target": "Python", "Class": "lang-pkgs", "Type": "python-pkg",
                        "Vulnerabilities": findings}]}, open(path, "w"))
PY
umoci raw unpack --image "$layout:python" "$work/pristine" >/dev/null
cp /etc/resolv.conf "$work/pristine/etc/resolv.conf"
# pip in the image trusts what this machine trusts (a proxy's CA, say), as the tests arrange.
cp "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$work/pristine/salve-ca.crt"
echo "urllib3 $urllib3, idna $idna; rounds: $rounds"

# The image's pip with a clean environment (this machine's variables name its own files).
in_image=(env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root PIP_ROOT_USER_ACTION=ignore PIP_CERT=/salve-ca.crt
  SSL_CERT_FILE=/salve-ca.crt REQUESTS_CA_BUNDLE=/salve-ca.crt "$(command -v chroot)" "$work/root")
now() { date +%s.%N; }
declare -A times
run() {
  local kind=$1 round=$2 t0 t1
  case $kind in
    pip)
      rm -rf "$work/root" && cp -a "$work/pristine" "$work/root"
      local options=(install --no-deps --no-cache-dir --disable-pip-version-check --quiet)
      t0=$(now)
      "${in_image[@]}" /usr/bin/python3 -m pip "${options[@]}" --break-system-packages \
        "urllib3==$urllib3" "idna==$idna" >/dev/null
      "${in_image[@]}" /opt/app/bin/python3 -m pip "${options[@]}" \
        "urllib3==$urllib3" "idna==$idna" >/dev/null
      t1=$(now) ;;
    cold|warm)
      [[ $kind == cold ]] && rm -rf "$work/cache/packages"
      t0=$(now)
      "$salve" patch -i "oci:$layout:python" -r "$work/report.json" --engine native \
        --oci-dir "$work/out-$round" --cache-dir "$work/cache" >/dev/null 2>&1
      t1=$(now)
      rm -rf "$work/out-$round" ;;
  esac
  times[$kind]+="$(echo "$t1 - $t0" | bc) "
}
run warm 0 && run pip 0
times=()
for round in $(seq "$rounds"); do
  if (( round % 2 )); then run pip "$round"; run cold "$round"; run warm "$round"
  else run warm "$round"; run cold "$round"; run pip "$round"; fi
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
p=$(echo "${times[pip]}" | median)
c=$(echo "${times[cold]}" | median)
w=$(echo "${times[warm]}" | median)
printf 'pip install in a chroot     %7.2fs\n' "$p"
printf 'native, cold                %7.2fs   cold / pip = %.2f\n' "$c" "$(echo "$c / $p" | bc -l)"
printf 'native, warm                %7.2fs   warm / pip = %.2f\n' "$w" "$(echo "$w / $p" | bc -l)"
