#!/usr/bin/env bash
# The test command: unit and property tests, then the real-mount tests (needs /dev/fuse and
# fusermount3; run as root or as a user allowed to mount FUSE filesystems).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --release "$@"
