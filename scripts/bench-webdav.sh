#!/usr/bin/env bash
# Cold and warm GET of a large output through `weaverfs serve webdav` against `curl` straight
# from the origin (the sample server), in the same run, on loopback.
#   scripts/bench-webdav.sh [SIZE, default 512M] [LATENCY_MS, default 0]
set -euo pipefail
size="${1:-512M}" latency="${2:-0}"
bin="$(dirname "$0")/../target/release/weaverfs"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
tmp="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
"$bin" serve sample --addr 127.0.0.1:0 --big-file-size "$size" --latency-ms "$latency" \
  >"$tmp/sample" 2>/dev/null &
pids+=($!)
until [ -s "$tmp/sample" ]; do sleep 0.1; done
api="$(head -1 "$tmp/sample")"
"$bin" serve webdav "$api" --addr 127.0.0.1:0 --cache-size 1G >"$tmp/gw" 2>/dev/null &
pids+=($!)
until [ -s "$tmp/gw" ]; do sleep 0.1; done
gw="$(head -1 "$tmp/gw")"
job=1f2e3d4c-5b6a-4978-8a69-5b4c3d2e1f02
origin="${api%/weaver}/wpsoutputs/$job/output_big/big.dat"
get() { curl -sf -o /dev/null -w '%{size_download} %{time_total} %{speed_download}\n' "$1"; }
printf '%-22s %12s %8s %10s\n' what bytes seconds MiB/s
report() {
  read -r bytes secs speed <<<"$2"
  printf '%-22s %12s %8s %10.1f\n' "$1" "$bytes" "$secs" "$(echo "$speed / 1048576" | bc -l)"
}
report "origin (curl)" "$(get "$origin")"
report "gateway cold" "$(get "${gw}$job/output_big.dat")"
report "gateway warm" "$(get "${gw}$job/output_big.dat")"
report "origin again (curl)" "$(get "$origin")"
