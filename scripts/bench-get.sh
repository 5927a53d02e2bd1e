#!/usr/bin/env bash
# Times `weaverfs get` of the sample FILES job (a big output and eight small ones) against a
# plain sequential `curl` of the same hrefs (what `weaver results -D` does), on the built-in
# server with an added per-response latency, and prints a Markdown table.
#   scripts/bench-get.sh [BIG_FILE_SIZE] [LATENCIES_MS...]     (default 512M, 0 and 50)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-512M}
shift || true
if [ $# -gt 0 ]; then latencies=("$@"); else latencies=(0 50); fi
cargo build --release --quiet
bin=$PWD/target/release/weaverfs
job=1f2e3d4c-5b6a-4978-8a69-5b4c3d2e1f02
work=$(mktemp -d)
cleanup() {
  kill "${server:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { printf "%.2f" "$(echo "$2 - $1" | bc)"; }

echo "| latency per response | tool | files | MiB | seconds | MiB/s |"
echo "| --- | --- | --- | --- | --- | --- |"
for latency in "${latencies[@]}"; do
  port=$((20000 + RANDOM % 20000))
  "$bin" serve sample --addr "127.0.0.1:$port" --big-file-size "$size" --latency-ms "$latency" \
    >"$work/url" 2>/dev/null &
  server=$!
  for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
  api=$(cat "$work/url")
  # The file hrefs of the job's results (directory outputs end in / and are not files).
  curl -sf "$api/jobs/$job/results" | python3 -c '
import json, sys
def hrefs(v):
    if isinstance(v, dict):
        if isinstance(v.get("href"), str) and not v["href"].endswith("/"):
            yield v["href"]
        for x in v.values():
            yield from hrefs(x)
    elif isinstance(v, list):
        for x in v:
            yield from hrefs(x)
print("\n".join(hrefs(json.load(sys.stdin))))' >"$work/hrefs"
  count=$(wc -l <"$work/hrefs")

  mkdir -p "$work/curl"
  start=$(now)
  i=0
  while read -r href; do
    i=$((i + 1))
    curl -sf -o "$work/curl/$i" "$href"
  done <"$work/hrefs"
  curl_s=$(secs "$start" "$(now)")
  bytes=$(du -sb "$work/curl" | cut -f1)
  mib=$(echo "scale=1; $bytes / 1048576" | bc)

  start=$(now)
  "$bin" get "$api" "$job" -o "$work/get8" --quiet --block-size 8M --parallel-ranges 16
  big_s=$(secs "$start" "$(now)")
  start=$(now)
  "$bin" get "$api" "$job" -o "$work/get" --quiet
  get_s=$(secs "$start" "$(now)")
  start=$(now)
  "$bin" get "$api" "$job" -o "$work/get" --quiet
  again_s=$(secs "$start" "$(now)")

  big_href=$(grep big.dat "$work/hrefs")
  want=$(curl -sf "$big_href" | sha256sum)
  for dir in get get8; do
    [ "$(sha256sum <"$work/$dir/output_big.dat")" = "$want" ] ||
      { echo "bench-get: get wrote other bytes than curl" >&2; exit 1; }
  done

  rate() { echo "scale=1; $mib / $1" | bc; }
  echo "| ${latency} ms | sequential curl | $count | $mib | $curl_s | $(rate "$curl_s") |"
  echo "| ${latency} ms | weaverfs get | the same, output_dir/, .job/, literals | $mib | $get_s | $(rate "$get_s") |"
  echo "| ${latency} ms | weaverfs get --block-size 8M --parallel-ranges 16 | the same | $mib | $big_s | $(rate "$big_s") |"
  echo "| ${latency} ms | weaverfs get, rerun (all present) | - | - | $again_s | - |"
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=
  rm -rf "$work/curl" "$work/get" "$work/get8"
done
echo
echo "Big file $size; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)."
