#!/usr/bin/env bash
# End-to-end patch time on BuildKit against the local engine, in one run, on the same fixture:
# the bookworm minbase image pushed to a `docker-registry` on loopback, patched from a Trivy
# report of 5 packages bookworm-security upgrades, written to an OCI layout.
#
#   local     salve patch on the local engine, its root filesystem cache filled by an earlier run
#   buildkit  salve patch --addr docker://SOCKET on Docker's built-in BuildKit (Debian's
#             dockerd, started here with its own data root, no bridge, no iptables or forwarding
#             changes, so steps use --buildkit-host-network), its build cache pruned before each
#             run so that it pulls the base and runs every step
#   buildkit-warm  the same with the base image already in the daemon's image store (pulled
#             once, as an image a pipeline built or pulled on that daemon is): the build cache
#             is pruned before each run, so every step runs, but BuildKit takes the base from
#             the image store instead of pulling it (the counterpart of the local engine's
#             warm root filesystem cache)
# With SALVE_EARLIER=PATH (another build of salve, say of an earlier commit), its local and
# BuildKit runs are timed in the same rounds (with a cache folder of their own), so a change in
# salve is told apart from a change in what the mirror has that day.
# With SALVE_STAGES=1, each run's `--progress json` events are timed as they arrive, and the
# median time of each stage is printed per kind (which stage a change moved).
# Rounds alternate the order; medians are reported. Needs root, docker.io, docker-registry,
# mmdebstrap, umoci, python3.
# Usage: [SALVE_EARLIER=PATH] [SALVE_STAGES=1] scripts/bench-buildkit.sh [ROUNDS]
set -euo pipefail
rounds=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p salve
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
salve="$target_dir/release/salve"
layout=$("$root/fixtures/images/debian-image.sh" minbase)
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done; done
  rm -rf "$work"
}
trap cleanup EXIT

# A registry on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
pids+=($!)

# A Docker engine of its own.
echo '{}' > "$work/daemon.json"
dockerd --data-root "$work/docker" --exec-root "$work/docker-exec" --pidfile "$work/dockerd.pid" \
  --config-file "$work/daemon.json" -H "unix://$work/docker.sock" \
  --iptables=false --ip-forward=false --bridge=none > "$work/dockerd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -sf --unix-socket "$work/docker.sock" http://docker/_ping >/dev/null && break
  sleep 0.2
done

image="127.0.0.1:$port/bench/minbase:1"
"$salve" copy "oci:$layout:minbase" "$image" >/dev/null

# Five packages bookworm-security upgrades, as a Trivy report.
mkdir "$work/rootfs"
manifest=$(python3 -c "import json;print(json.load(open('$layout/index.json'))['manifests'][0]['digest'][7:])")
layer=$(python3 -c "import json;print(json.load(open('$layout/blobs/sha256/$manifest'))['layers'][0]['digest'][7:])")
tar -C "$work/rootfs" -xzf "$layout/blobs/sha256/$layer" ./var/lib/dpkg/status
python3 "$root/fixtures/images/security-updates.py" "$work/rootfs/var/lib/dpkg/status" > "$work/updates.json"
packages=$(python3 "$root/scripts/bench-report.py" "$work/updates.json" "$work/report.json")
echo "packages: $packages; rounds: $rounds"

now() { date +%s.%N; }
declare -A times
earlier=${SALVE_EARLIER:-}
stages=${SALVE_STAGES:-}
run() {
  local kind=$1 round=$2 t0 t1 engine=() program=$salve cache="$work/cache"
  if [[ $kind == earlier-* ]]; then program=$earlier; cache="$work/cache-earlier"; fi
  if [[ $kind == *buildkit* ]]; then
    # The base in the daemon's image store for the warm kinds (pulled, untimed), not for the
    # others; the build cache pruned for both.
    if [[ $kind == *warm ]]; then
      curl -sf --unix-socket "$work/docker.sock" -X POST \
        "http://docker/images/create?fromImage=127.0.0.1:$port/bench/minbase&tag=1" >/dev/null
    else
      curl -s --unix-socket "$work/docker.sock" -X DELETE \
        "http://docker/images/127.0.0.1:$port%2Fbench%2Fminbase:1" >/dev/null
    fi
    curl -sf --unix-socket "$work/docker.sock" -X POST "http://docker/build/prune?all=true" >/dev/null
    engine=(--addr "docker://$work/docker.sock" --buildkit-host-network)
  fi
  t0=$(now)
  if [[ -n $stages ]]; then
    "$program" patch -i "$image" -r "$work/report.json" --oci-dir "$work/out-$kind-$round" \
      --cache-dir "$cache" "${engine[@]}" --progress json 2>/dev/null \
      | while IFS= read -r line; do printf '%s %s\n' "$(now)" "$line"; done \
      > "$work/stages-$kind-$round"
  else
    "$program" patch -i "$image" -r "$work/report.json" --oci-dir "$work/out-$kind-$round" \
      --cache-dir "$cache" "${engine[@]}" 2>/dev/null
  fi
  t1=$(now)
  [[ -n $stages ]] && echo "$t0 start" >> "$work/stages-$kind-$round" \
    && echo "$t1 end" >> "$work/stages-$kind-$round"
  rm -rf "$work/out-$kind-$round"
  times[$kind]+="$(echo "$t1 - $t0" | bc) "
}
kinds=(local buildkit buildkit-warm)
[[ -n $earlier ]] && kinds+=(earlier-local earlier-buildkit earlier-buildkit-warm)
for kind in "${kinds[@]}"; do
  if [[ $kind == *local ]]; then run "$kind" 0 && times[$kind]=""; fi   # fills the local cache
done
for round in $(seq "$rounds"); do
  if (( round % 2 )); then
    for kind in "${kinds[@]}"; do run "$kind" "$round"; done
  else
    for ((i = ${#kinds[@]} - 1; i >= 0; i--)); do run "${kinds[i]}" "$round"; done
  fi
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
l=$(echo "${times[local]}" | median)
b=$(echo "${times[buildkit]}" | median)
w=$(echo "${times[buildkit-warm]}" | median)
printf 'local engine (warm)   %7.2fs\n' "$l"
printf 'buildkit (docker://)  %7.2fs   buildkit / local = %.2f\n' "$b" "$(echo "$b / $l" | bc -l)"
printf 'buildkit, base in the image store %7.2fs   buildkit warm / local = %.2f\n' "$w" \
  "$(echo "$w / $l" | bc -l)"
if [[ -n $earlier ]]; then
  el=$(echo "${times[earlier-local]}" | median)
  eb=$(echo "${times[earlier-buildkit]}" | median)
  ew=$(echo "${times[earlier-buildkit-warm]}" | median)
  printf 'earlier local         %7.2fs   this / earlier = %.2f\n' "$el" "$(echo "$l / $el" | bc -l)"
  printf 'earlier buildkit      %7.2fs   buildkit / local = %.2f; this / earlier = %.2f\n' \
    "$eb" "$(echo "$eb / $el" | bc -l)" "$(echo "$b / $eb" | bc -l)"
  printf 'earlier buildkit, base in the image store %7.2fs   buildkit warm / local = %.2f; this / earlier = %.2f\n' \
    "$ew" "$(echo "$ew / $el" | bc -l)" "$(echo "$w / $ew" | bc -l)"
fi
if [[ -n $stages ]]; then
  python3 - "$work" "${kinds[@]}" <<'PY'
import glob, json, statistics, sys
work, kinds = sys.argv[1], sys.argv[2:]
for kind in kinds:
    durations = {}
    for path in sorted(glob.glob(f"{work}/stages-{kind}-*")):
        if path.endswith("-0"):
            continue
        marks = []
        for line in open(path, encoding="utf-8"):
            at, _, rest = line.partition(" ")
            if rest.strip() in ("start", "end"):
                marks.append((float(at), rest.strip()))
                continue
            event = json.loads(rest)
            if event.get("event") == "stage":
                marks.append((float(at), event["stage"]))
        marks.sort()
        for (at, stage), (after, _) in zip(marks, marks[1:]):
            if stage != "end":
                durations.setdefault(stage, []).append(after - at)
    shown = ", ".join(f"{stage} {statistics.median(times):.2f}s"
                      for stage, times in durations.items())
    print(f"stages of {kind}: {shown}")
PY
fi
