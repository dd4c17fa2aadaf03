#!/usr/bin/env bash
# Native apk patch time on the synthetic Alpine repository (fixtures/alpine): the x86_64
# fixture image brought up to date (four packages, one of them new) by the native engine, warm
# (package store and compiled plugins kept from an earlier run) and cold (package store emptied
# before each run; plugins still compiled), against `salve copy` of the same image into an OCI
# layout, the floor any patch pays to read and write the image. Rounds alternate the order;
# medians are reported. Needs python3, openssl and umoci.
# Usage: scripts/bench-apk.sh [ROUNDS]
set -euo pipefail
rounds=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p salve
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
salve="$target_dir/release/salve"
fixtures=$("$root/fixtures/alpine/build.sh")
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$fixtures/repo" >/dev/null 2>&1 &
server=$!
trap 'kill $server; rm -rf "$work"' EXIT
cp -r "$fixtures/layout" "$work/layout"
printf 'http://127.0.0.1:%s/v3.22/main\n@edge http://127.0.0.1:%s/edge/main\n' "$port" "$port" \
  > "$work/repositories"
umoci insert --image "$work/layout:x86_64" "$work/repositories" /etc/apk/repositories
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null && break; sleep 0.1; done
echo "rounds: $rounds"

now() { date +%s.%N; }
declare -A times
run() {
  local kind=$1 round=$2 t0 t1
  case $kind in
    copy) t0=$(now)
      "$salve" copy "oci:$work/layout:x86_64" "oci:$work/out-$round:copy" --cache-dir "$work/cache" >/dev/null 2>&1
      t1=$(now) ;;
    warm|cold) [[ $kind == cold ]] && rm -rf "$work/cache/packages"
      t0=$(now)
      "$salve" patch -i "oci:$work/layout:x86_64" --engine native --oci-dir "$work/out-$round" \
        --cache-dir "$work/cache" 2>/dev/null
      t1=$(now) ;;
  esac
  rm -rf "$work/out-$round"
  times[$kind]+="$(echo "$t1 - $t0" | bc) "
}
run warm 0 && run copy 0
times=()
for round in $(seq "$rounds"); do
  if (( round % 2 )); then run copy "$round"; run warm "$round"; run cold "$round"
  else run cold "$round"; run warm "$round"; run copy "$round"; fi
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
c=$(echo "${times[copy]}" | median)
w=$(echo "${times[warm]}" | median)
k=$(echo "${times[cold]}" | median)
printf 'salve copy (floor)          %7.3fs\n' "$c"
printf 'native apk patch, warm      %7.3fs   warm / copy = %.2f\n' "$w" "$(echo "$w / $c" | bc -l)"
printf 'native apk patch, cold      %7.3fs   cold / copy = %.2f\n' "$k" "$(echo "$k / $c" | bc -l)"
