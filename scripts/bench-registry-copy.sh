#!/usr/bin/env bash
# Pull and push of a ~100 MB image on loopback: salve copy against skopeo copy, in one run.
#
# Starts two docker-registry instances on free 127.0.0.1 ports, builds an image of four 25 MB
# layers of random bytes with umoci, pushes it to the first registry with skopeo, then times
# for each tool (alternating, ROUNDS rounds, median reported):
#   pull: registry A -> fresh OCI layout
#   push: that layout -> a registry started empty for that push, so every blob is sent (and
#         no tool can mount blobs it pushed in an earlier round)
# Usage: scripts/bench-registry-copy.sh [ROUNDS]   (needs docker-registry, skopeo, umoci, python3)
set -euo pipefail
rounds=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p salve
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
salve="$target_dir/release/salve"
work=$(mktemp -d)
cleanup() { [[ -f $work/pids ]] && kill $(cat "$work/pids") 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_registry() {
  local name=$1 port
  port=$(free_port)
  mkdir -p "$work/$name"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$work/$name/data" "$port" > "$work/$name/config.yml"
  docker-registry serve "$work/$name/config.yml" >/dev/null 2>&1 &
  echo $! >> "$work/pids"
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
  echo "127.0.0.1:$port"
}
a=$(start_registry a)

umoci init --layout "$work/src" >/dev/null
umoci new --image "$work/src:big" >/dev/null
for i in 1 2 3 4; do
  head -c 25000000 /dev/urandom > "$work/blob$i"
  umoci insert --image "$work/src:big" "$work/blob$i" "/data/blob$i" >/dev/null
done
skopeo copy -q --dest-tls-verify=false "oci:$work/src:big" "docker://$a/big:v1"
size=$(du -sb "$work/src/blobs" | cut -f1)
echo "image: $((size / 1000000)) MB of blobs in 4 layers; rounds: $rounds"

now() { date +%s.%N; }
declare -A times
run_tool() {
  local tool=$1 round=$2 t0 t1 t2 b
  b=$(start_registry "b-$tool-$round")
  rm -rf "$work/pulled-$tool"
  t0=$(now)
  if [[ $tool == salve ]]; then
    "$salve" copy "docker://$a/big:v1" "oci:$work/pulled-$tool:v1" >/dev/null
  else
    skopeo copy -q --src-tls-verify=false "docker://$a/big:v1" "oci:$work/pulled-$tool:v1"
  fi
  t1=$(now)
  if [[ $tool == salve ]]; then
    "$salve" copy "oci:$work/pulled-$tool:v1" "docker://$b/$tool-$round:v1" >/dev/null
  else
    skopeo copy -q --dest-tls-verify=false "oci:$work/pulled-$tool:v1" "docker://$b/$tool-$round:v1"
  fi
  t2=$(now)
  times[$tool-pull]+="$(echo "$t1 - $t0" | bc) "
  times[$tool-push]+="$(echo "$t2 - $t1" | bc) "
}
for round in $(seq "$rounds"); do
  if (( round % 2 )); then run_tool skopeo "$round"; run_tool salve "$round"
  else run_tool salve "$round"; run_tool skopeo "$round"; fi
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
printf '%-6s %10s %10s\n' step skopeo salve
for step in pull push; do
  s=$(echo "${times[skopeo-$step]}" | median)
  v=$(echo "${times[salve-$step]}" | median)
  printf '%-6s %9.3fs %9.3fs   salve/skopeo = %.2f\n' "$step" "$s" "$v" "$(echo "$v / $s" | bc -l)"
done
