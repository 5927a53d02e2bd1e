#!/usr/bin/env bash
# Installs weaverfs, the README's first command. Two ways:
#
#   scripts/install.sh                       from source: `cargo install --locked --path .`
#                                            into ~/.cargo/bin (needs Rust and a C compiler)
#   scripts/install.sh --from-tarball FILE   the prebuilt release tarball (scripts/release.sh):
#                                            no Rust, no compiler; into ~/.local (root: /usr/local)
#
# Without Rust (no cargo) and with a tarball in dist/, it takes that one. The system packages
# weaverfs needs (fuse3, and for a build a C compiler) come from apt-get, dnf, yum or zypper: as
# root it installs them; as a user it says so and uses sudo; without sudo (or when sudo fails) it
# prints the exact line an admin must run and goes on with what it can. Where fusermount3 (or
# fusermount) and a compiler are already there it needs no root and asks for none.
#
# --prefix DIR installs the tarball under DIR instead; --print-admin-line prints the line that
# installs what is missing on this machine (empty when nothing is) and exits.
set -euo pipefail
cd "$(dirname "$0")/.."
# Run as root in a user's clone, what the build makes is given back to the clone's owner.
if [ -f scripts/checkout-owner.sh ]; then . scripts/checkout-owner.sh; else give_checkout_back() { :; }; fi

say() { echo "install.sh: $*" >&2; }
usage() { sed -n '2,16s/^# \{0,1\}//p' "$0" >&2; }

tarball="" prefix="" print_line=false
while [ $# -gt 0 ]; do
  case "$1" in
    --from-tarball) tarball=${2:?--from-tarball needs a file}; shift 2 ;;
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --print-admin-line) print_line=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) say "unknown argument $1"; usage; exit 2 ;;
  esac
done

# No Rust here but a release already built: install that rather than fail.
if [ -z "$tarball" ] && ! command -v cargo >/dev/null; then
  for f in dist/weaverfs-*-x86_64-linux.tar.gz; do [ -e "$f" ] && tarball=$f; done
  [ -n "$tarball" ] && say "no cargo on the PATH; installing the prebuilt $tarball"
fi

# The package manager that installs system packages here, and the line that installs $@ with it.
package_manager() {
  local pm
  for pm in apt-get dnf yum zypper; do
    command -v "$pm" >/dev/null && { echo "$pm"; return; }
  done
}
install_line() {
  case "$(package_manager)" in
    apt-get) echo "apt-get update && apt-get install -y $*" ;;
    dnf) echo "dnf install -y $*" ;;
    yum) echo "yum install -y $*" ;;
    zypper) echo "zypper --non-interactive install $*" ;;
  esac
}
# Each package manager's names: FUSE 3 is fuse3 everywhere; the compiler and C headers (rustup
# brings no linker, and the TLS library has C code) differ.
needed_packages() {
  command -v fusermount3 >/dev/null || command -v fusermount >/dev/null || echo fuse3
  if [ -z "$tarball" ] && ! command -v cc >/dev/null; then
    case "$(package_manager)" in
      apt-get) echo gcc libc6-dev ;;
      *) echo gcc ;;
    esac
  fi
}

mapfile -t need < <(needed_packages)
line=""
if [ ${#need[@]} -gt 0 ]; then
  line=$(install_line "${need[@]}")
  [ -n "$line" ] || line="(install ${need[*]} with this system's package manager)"
fi
if $print_line; then
  echo "$line"
  exit 0
fi

# Installs what is missing, or says who must; returns 1 when it is still missing.
install_system_packages() {
  [ ${#need[@]} -eq 0 ] && return 0
  if [ -z "$(package_manager)" ]; then
    say "weaverfs needs ${need[*]}, and there is no apt-get, dnf, yum or zypper here: ask an admin"
    return 1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    say "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive sh -c "$line" >/dev/null && return 0
  elif command -v sudo >/dev/null; then
    say "installing ${need[*]} with sudo"
    sudo env DEBIAN_FRONTEND=noninteractive sh -c "$line" >/dev/null && return 0
  fi
  say "weaverfs needs ${need[*]}; an admin must run (as root): $line"
  return 1
}

# A user mounts through fusermount3, which needs /dev/fuse open to all. udev makes it so on
# most machines; containers and chroots often keep the kernel's 0600.
check_dev_fuse() {
  [ "$(id -u)" -eq 0 ] && return 0
  [ -e /dev/fuse ] || { say "there is no /dev/fuse on this machine: mounting needs the fuse kernel module (an admin: modprobe fuse)"; return 0; }
  { : <>/dev/fuse; } 2>/dev/null && return 0
  if command -v sudo >/dev/null && sudo chmod 0666 /dev/fuse; then
    say "/dev/fuse was not open to users here (no udev rule); ran sudo chmod 0666 /dev/fuse"
  else
    say "/dev/fuse is not open to you; an admin must run (as root): chmod 0666 /dev/fuse"
  fi
}

# "$1" on the PATH ahead of any other weaverfs, or the line that puts it there.
check_path() {
  if [ "$(command -v weaverfs || true)" != "$1/weaverfs" ]; then
    say "weaverfs is in $1, which is not first on your PATH; add it (e.g. in ~/.bashrc):"
    say "  export PATH=\"$1:\$PATH\""
  fi
}

from_tarball() {
  [ -f "$tarball" ] || { say "no such file: $tarball"; exit 1; }
  if [ -f "$tarball.sha256" ]; then
    (cd "$(dirname "$tarball")" && sha256sum --quiet -c "$(basename "$tarball").sha256") ||
      { say "$tarball does not match $tarball.sha256"; exit 1; }
  fi
  [ -n "$prefix" ] || if [ "$(id -u)" -eq 0 ]; then prefix=/usr/local; else prefix=$HOME/.local; fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  tar -C "$tmp" --strip-components=1 -xzf "$tarball"
  # Refuse a binary that does not start here (another architecture, a C library too old).
  "$tmp/bin/weaverfs" --version >/dev/null || { say "the binary in $tarball does not run here"; exit 1; }
  mkdir -p "$prefix"
  cp -R "$tmp/bin" "$tmp/share" "$prefix/"
  # fish reads a user's completions from ~/.config/fish, not from ~/.local/share.
  if [ "$prefix" = "$HOME/.local" ] && command -v fish >/dev/null; then
    mkdir -p "$HOME/.config/fish/completions"
    cp "$tmp/share/fish/vendor_completions.d/weaverfs.fish" "$HOME/.config/fish/completions/"
  fi
  say "$("$prefix/bin/weaverfs" --version) installed in $prefix/bin (man page and completions under $prefix/share)"
  check_path "$prefix/bin"
}

from_source() {
  if ! command -v cargo >/dev/null; then
    say "building from source needs Rust (https://rustup.rs); or install a prebuilt release:"
    say "  scripts/install.sh --from-tarball weaverfs-VERSION-x86_64-linux.tar.gz"
    exit 1
  fi
  command -v cc >/dev/null || { say "no C compiler (cc): the build cannot run until ${need[*]} are installed"; exit 1; }
  # target/ (not a temporary directory): a second run, or scripts/test.sh as root, reuses the build
  local status=0
  cargo install --locked --path . --target-dir target --quiet --force || status=$?
  give_checkout_back target
  [ "$status" -eq 0 ] || exit "$status"
  local bin="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin"
  say "$("$bin/weaverfs" --version) installed in $bin"
  check_path "$bin"
}

install_system_packages || true
if [ -n "$tarball" ]; then from_tarball; else from_source; fi
check_dev_fuse
if [ ${#need[@]} -gt 0 ] && ! command -v fusermount3 >/dev/null && ! command -v fusermount >/dev/null; then
  say "installed, but mounting needs fuse3 first: $line"
fi
