#!/usr/bin/env bash
# The README's first command: installs what weaverfs needs from Debian/Ubuntu (fuse3, and a C
# compiler for the build), then `cargo install --locked --path .`, which puts `weaverfs` in
# ~/.cargo/bin (on the PATH where Rust came from rustup). As root it runs apt-get itself; as a
# user it says so and uses sudo, or prints the exact line to run.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v fusermount3 >/dev/null || need+=(fuse3)
command -v cc >/dev/null || need+=(gcc libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  line="apt-get update && apt-get install -y ${need[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    echo "install.sh: installing ${need[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  elif command -v sudo >/dev/null; then
    echo "install.sh: installing ${need[*]} with sudo" >&2
    sudo sh -c "$line" >/dev/null
  else
    echo "install.sh: weaverfs needs ${need[*]}; as root run: $line" >&2
    exit 1
  fi
fi

# target/ (not a temporary directory): a second run, or scripts/test.sh as root, reuses the build
cargo install --locked --path . --target-dir target --quiet --force
bin="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin"
if [ "$(command -v weaverfs || true)" != "$bin/weaverfs" ]; then
  echo "install.sh: weaverfs is in $bin, which is not first on your PATH; add it:" >&2
  echo "  export PATH=\"$bin:\$PATH\"" >&2
fi

# A user mounts through fusermount3, which needs /dev/fuse open to all. udev makes it so on
# most machines; containers and chroots often keep the kernel's 0600.
if [ "$(id -u)" -ne 0 ] && ! { : <>/dev/fuse; } 2>/dev/null; then
  if command -v sudo >/dev/null; then
    echo "install.sh: /dev/fuse is not open to users here (no udev rule); sudo chmod 0666 /dev/fuse" >&2
    sudo chmod 0666 /dev/fuse
  else
    echo "install.sh: /dev/fuse is not open to you; as root run: chmod 0666 /dev/fuse" >&2
  fi
fi
echo "install.sh: $("$bin/weaverfs" --version) installed in $bin" >&2
