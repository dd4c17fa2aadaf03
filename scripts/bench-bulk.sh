#!/usr/bin/env bash
# What running images at once buys `salve bulk`: the ten-image configuration of the bulk test
# (Debian from reports and one update-all, two Python images with pip, both RPM fixture images,
# one broken image) patched with --jobs 1 (one `salve patch` after another: ten sequential runs),
# --jobs 2 and --jobs 4, alternately, after a warm-up run; release build. The test prints each
# setting's median wall time and its ratio to --jobs 1.
# Needs root and what `cargo xtask test` installs (docker-registry, mmdebstrap, umoci, rpm, dnf,
# createrepo-c, slirp4netns), and PyPI and Debian's mirrors.
# Usage: scripts/bench-bulk.sh [ROUNDS]
set -euo pipefail
rounds=${1:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
SALVE_BENCH_ROUNDS=$rounds cargo test --release --quiet --manifest-path "$root/Cargo.toml" \
  -p salve --test tests -- --ignored --exact bulk::bench_bulk_against_one_at_a_time --nocapture \
  2>&1 | grep '^bench-bulk:'
