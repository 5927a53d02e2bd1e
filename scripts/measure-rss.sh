#!/usr/bin/env bash
# Reads the built-in server's 256 MiB file through a mount with a 32 MiB block cache, checks
# its SHA-256 against a direct download, and reports the daemon's peak RSS and CPU time.
#   scripts/measure-rss.sh [CACHE_SIZE]     (default 32M)
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${1:-32M}
cargo build --release --quiet
bin=target/release/weaverfs
work=$(mktemp -d)
mnt=$work/mnt
mkdir -p "$mnt"
port=$((20000 + RANDOM % 20000))
cleanup() {
  fusermount3 -uz "$mnt" 2>/dev/null || true
  kill "${server:-}" "${daemon:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" serve sample --addr "127.0.0.1:$port" --big-file-size 256M >"$work/url" 2>/dev/null &
server=$!
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(cat "$work/url")

/usr/bin/time -v -o "$work/time.txt" "$bin" mount "$url" "$mnt" --foreground --cache-size "$cache" 2>"$work/daemon.log" &
daemon=$!
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
mountpoint -q "$mnt" || { cat "$work/daemon.log"; exit 1; }

file=$(ls -d "$mnt"/*/output_big.dat | head -1)
job=$(basename "$(dirname "$file")")
href="http://127.0.0.1:$port/wpsoutputs/$job/output_big/big.dat"
expected=$(curl -s "$href" | sha256sum | cut -d' ' -f1)
# The limit in the same run: one plain HTTP stream of the same file from the same server.
curl_secs=$(curl -s -o /dev/null -w '%{time_total}' "$href")
start=$(date +%s.%N)
dd if="$file" of=/dev/null bs=1M status=none
end=$(date +%s.%N)
got=$(sha256sum <"$file" | cut -d' ' -f1)

# /usr/bin/time ignores SIGINT itself: signal the daemon, its child.
pkill -INT -P "$daemon"
wait "$daemon" || true
daemon=
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u + s}' "$work/time.txt")
secs=$(echo "$end - $start" | bc -l)
mbps=$(echo "256 / $secs" | bc -l)
printf 'file: 256 MiB   cache: %s   sha256 match: %s\n' "$cache" "$([ "$got" = "$expected" ] && echo yes || echo NO)"
printf 'cold sequential read (dd bs=1M): %.2f s (%.0f MiB/s)\n' "$secs" "$mbps"
printf 'same file by curl -o /dev/null: %.2f s (%.0f MiB/s)\n' "$curl_secs" "$(echo "256 / $curl_secs" | bc -l)"
printf 'daemon peak RSS: %.1f MiB   daemon CPU: %.2f s\n' "$(echo "$rss_kb / 1024" | bc -l)" "$cpu"
[ "$got" = "$expected" ]
