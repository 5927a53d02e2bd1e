#!/usr/bin/env bash
# The test command: unit and property tests, kernel-free core tests against the built-in
# server, then real-mount tests (needs /dev/fuse and fusermount3; run as root or as a user
# allowed to mount FUSE filesystems). Installs what the tests need first (scripts/test-deps.sh),
# runs every test file even when one fails, and ends with one "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/test-deps.sh || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked --release --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
awk '/^test result:/ {p += $4; f += $6} END {printf "%d passed, %d failed\n", p, f}' "$log"
exit "$status"
