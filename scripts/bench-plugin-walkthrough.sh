#!/usr/bin/env bash
# Tool time of sdk/README.md's walkthrough, from an empty folder to a scanner plugin that
# `salve report` uses: `salve plugins new scanner lines`, `cargo test`, `salve plugins build`,
# `salve report --plugin ... sample-report.txt`. Each step is timed (tool time, not typing) with
# fresh salve data and cache folders and a fresh cargo target folder; the crates.io download
# cache is the user's unless COLD=1, which uses an empty CARGO_HOME (every dependency
# downloaded). With BASELINE=1 the route the README described before `plugins new` and `build`
# existed runs first in the same run: a crate by hand with a path dependency on sdk/, cargo for
# wasm32, `cargo install wasm-tools --locked` into an empty root, `wasm-tools component new`,
# `salve plugins inspect`.
# Usage: [COLD=1] [BASELINE=1] scripts/bench-plugin-walkthrough.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p salve
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
salve="$target_dir/release/salve"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_DATA_HOME="$work/data" XDG_CACHE_HOME="$work/cache"
unset CARGO_TARGET_DIR RUSTFLAGS
if [[ ${COLD:-0} == 1 ]]; then
  export CARGO_HOME="$work/cargo-home"
fi

now() { date +%s.%N; }
total=0
step() {
  local label=$1 t0 t1 seconds
  shift
  t0=$(now)
  "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log" >&2; exit 1; }
  t1=$(now)
  seconds=$(python3 -c "print(f'{$t1 - $t0:.1f}')")
  total=$(python3 -c "print(f'{$total + $seconds:.1f}')")
  printf '  %-58s %6ss\n' "$label" "$seconds"
}

# The Debian route's cargo settings, as `salve plugins build` sets them, for the baseline.
wasm_cargo() {
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    cargo build --release --target wasm32-unknown-unknown
  else
    RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-22 \
      cargo -Z build-std=std,panic_abort build --release --target wasm32-unknown-unknown
  fi
}

if [[ ${BASELINE:-0} == 1 ]]; then
  echo "baseline: the walkthrough before plugins new/build"
  mkdir "$work/baseline" && cd "$work/baseline"
  step "cargo new --lib salve-lines" cargo new --quiet --lib salve-lines
  cd salve-lines
  cat > Cargo.toml <<TOML
[package]
name = "salve-lines"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
salve-plugin-sdk = { path = "$root/sdk" }

[profile.release]
panic = "abort"
lto = true
opt-level = "s"
strip = true
TOML
  "$salve" plugins new scanner lines --dir "$work/template" >/dev/null 2>&1
  cp "$work/template/src/lib.rs" src/lib.rs
  cp "$work/template/sample-report.txt" .
  step "cargo build for wasm32 (path dependency on sdk/)" wasm_cargo
  step "cargo install wasm-tools --locked" cargo install --quiet --locked wasm-tools --root "$work/tools"
  step "wasm-tools component new" "$work/tools/bin/wasm-tools" component new \
    target/wasm32-unknown-unknown/release/salve_lines.wasm -o lines.wasm
  step "salve plugins inspect ./lines.wasm" "$salve" plugins inspect ./lines.wasm
  step "salve report --plugin lines.wasm sample-report.txt" \
    "$salve" report --plugin lines.wasm sample-report.txt
  echo "  total ${total}s"
  baseline=$total
  total=0
  rm -rf "$work/data" "$work/cache"
fi

echo "walkthrough: plugins new, cargo test, plugins build, report"
mkdir "$work/new" && cd "$work/new"
step "salve plugins new scanner lines" "$salve" plugins new scanner lines
cd lines
step "cargo test" cargo test
step "salve plugins build" "$salve" plugins build
step "salve report --plugin target/salve/lines.wasm sample-report.txt" \
  "$salve" report --plugin target/salve/lines.wasm sample-report.txt
echo "  total ${total}s"
if [[ ${BASELINE:-0} == 1 ]]; then
  python3 -c "print(f'ratio walkthrough / baseline: {$total / $baseline:.2f}')"
fi
