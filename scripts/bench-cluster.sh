#!/usr/bin/env bash
# bench-cluster.sh [SIZE_MIB] [N]: the two tiers of "Running on a cluster" (README).
#  1. A file re-read after a remount from the disk cache (--cache-dir), against dd of the same
#     bytes from a local file on the same disk.
#  2. Bytes the origin (nginx, counted from its access log) serves when N mounts read one
#     output at once: directly, and through a Squid site cache (--proxy).
# Everything runs on 127.0.0.1. Needs nginx and squid (scripts/test-deps.sh) and a release build.
set -euo pipefail
size_mib=${1:-256}
n=${2:-8}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${WEAVERFS_BIN:-$root/target/release/weaverfs}
[ -x "$bin" ] || (cd "$root" && cargo build --release -q)
work=$(mktemp -d /var/tmp/bench-cluster.XXXXXX)
# Squid, run as root, works as the `proxy` user: it must be able to reach $work/squid.
chmod 711 "$work"
pids=()
mounts=()
cleanup() {
  for m in "${mounts[@]}"; do fusermount3 -uz "$m" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
job=c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f607
mkdir -p "$work/jobs/$job/out" "$work/nginx" "$work/squid"
head -c $((size_mib << 20)) /dev/urandom >"$work/jobs/$job/out/big.bin"
src=$work/jobs/$job/out/big.bin

np=$(port)
cat >"$work/nginx/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
error_log $work/nginx/error.log; pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  log_format bytes '\$request_method \$uri \$status \$body_bytes_sent';
  access_log $work/nginx/access.log bytes;
  client_body_temp_path $work/nginx/b; proxy_temp_path $work/nginx/p; fastcgi_temp_path $work/nginx/f;
  uwsgi_temp_path $work/nginx/u; scgi_temp_path $work/nginx/s;
  server { listen 127.0.0.1:$np; root $work/jobs; }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" & pids+=($!)
ap=$(port)
"$bin" serve sample --addr 127.0.0.1:$ap --jobs-dir "$work/jobs" --files-url "http://127.0.0.1:$np" >/dev/null 2>&1 & pids+=($!)
sleep 1
api=http://127.0.0.1:$ap/weaver
origin_bytes() { awk -v u="/$job/out/big.bin" '$2 == u { b += $4 } END { printf "%.0f\n", b }' "$work/nginx/access.log"; }
mount_one() { # DIR ARGS...
  local d=$1; shift; mkdir -p "$d"; "$bin" mount "$api" "$d" "$@"; mounts+=("$d")
}
rate() { dd if="$1" of=/dev/null bs=1M 2>&1 | awk '/copied/ { print $(NF-1), $NF }'; }

echo "== 1. disk cache: re-read after a remount (${size_mib} MiB)"
mount_one "$work/m0" --cache-dir "$work/cache0" --cache-size 64M
cat "$work/m0/$job/out.bin" >/dev/null
# Complete on disk: its blocks are assembled into one data file in the background.
for _ in $(seq 300); do compgen -G "$work/cache0/weaverfs-v1/files/*/data" >/dev/null && break; sleep 0.1; done
"$bin" unmount "$work/m0"; sleep 1
cat "$src" >/dev/null # the local file's pages cached, as the cache's are
for mode in passthrough no-passthrough; do
  extra=(); [ "$mode" = no-passthrough ] && extra=(--no-passthrough)
  before=$(origin_bytes)
  mount_one "$work/m0" --cache-dir "$work/cache0" --cache-size 64M "${extra[@]}"
  got=$(rate "$work/m0/$job/out.bin")
  opens=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["passthrough_opens"])' "$work/m0/.weaverfs/stats.json")
  printf '  mount, %-15s %s  (origin bytes: %s, passthrough opens: %s)\n' "$mode:" "$got" "$(( $(origin_bytes) - before ))" "$opens"
  echo "  local file, dd:         $(rate "$src")"
  "$bin" unmount "$work/m0"; sleep 1
done
"$bin" cache "$work/cache0" | head -5 # (a closed pipe ends `weaverfs cache` quietly)

squid_conf() { # DIR PROXY_PORT
  cat <<EOF
http_port 127.0.0.1:$2
acl localnet src 127.0.0.0/8
acl outputs_host dstdomain 127.0.0.1
http_access allow localnet
http_access deny all
collapsed_forwarding on
range_offset_limit none outputs_host
quick_abort_min -1 KB
maximum_object_size 64 GB
maximum_object_size_in_memory 8 MB
cache_mem 64 MB
cache_dir ufs $1/cache 4096 16 256
refresh_pattern . 1440 100% 10080
pid_filename $1/squid.pid
access_log stdio:$1/access.log
cache_log $1/cache.log
cache_store_log none
coredump_dir $1
EOF
}

fanout() { # LABEL ARGS...
  local label=$1; shift
  local before; before=$(origin_bytes)
  local ms=()
  for i in $(seq 1 "$n"); do
    mount_one "$work/n$label$i" --cache-dir "$work/c$label$i" --cache-size 32M "$@"; ms+=("$work/n$label$i")
  done
  local t0; t0=$(date +%s.%N)
  for m in "${ms[@]}"; do
    ( cmp -s "$m/$job/out.bin" "$src" || { echo "  $m: bytes differ or unreadable" >&2; exit 1; } ) &
  done
  wait -n; for _ in $(seq 2 "$n"); do wait -n; done
  local t1; t1=$(date +%s.%N)
  local sent=$(( $(origin_bytes) - before ))
  printf "  %-22s origin served %6d MiB (%.2f x the file) in %.1f s\n" "$label" $((sent >> 20)) \
    "$(echo "$sent / ($size_mib * 1048576)" | bc -l)" "$(echo "$t1 - $t0" | bc -l)"
  for m in "${ms[@]}"; do "$bin" unmount "$m"; done
}

echo "== 2. $n mounts reading the same ${size_mib} MiB output at once"
fanout direct
sp=$(port)
squid_conf "$work/squid" "$sp" >"$work/squid/squid.conf"
[ "$(id -u)" = 0 ] && chown -R proxy:proxy "$work/squid"
squid -f "$work/squid/squid.conf" -z -N 2>/dev/null
squid -f "$work/squid/squid.conf" -N & pids+=($!)
up=0
for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/$sp) 2>/dev/null && { up=1; break; }; sleep 0.1; done
if [ "$up" = 0 ]; then
  echo "squid did not start:" >&2; cat "$work/squid/cache.log" >&2; exit 1
fi
fanout "through-squid" --proxy "http://127.0.0.1:$sp"
