#!/usr/bin/env bash
# The test command: unit and property tests, kernel-free core tests against the built-in
# server, then real-mount tests (needs /dev/fuse and fusermount3; run as root or as a user
# allowed to mount FUSE filesystems). Ends with one "N passed, N failed" line for all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --locked --release "$@" 2>&1 | tee "$log"
awk '/^test result:/ {p += $4; f += $6} END {printf "%d passed, %d failed\n", p, f}' "$log"
