#!/usr/bin/env bash
# Installs the Debian packages acgan_mpi needs (as root, or through sudo). Skips apt when all are present.
set -euo pipefail
PKGS=(build-essential cmake pkg-config openmpi-bin libopenmpi-dev libopenblas-dev libhdf5-dev check
      libsubunit-dev libpng-dev libinih-dev zlib1g-dev dataset-fashion-mnist procps)
PKGS+=("$@")
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install_deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
