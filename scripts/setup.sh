#!/usr/bin/env bash
# Installs the Debian packages aifsim needs, only those missing (idempotent). --fuzz adds clang and its runtime
# (libFuzzer and the sanitizers' clang libraries) for `make fuzz`; --python adds pandas and matplotlib for the notebook
# example of analysis/python/ (its test is skipped without them: some 60 MB and a minute or two to install, left out of
# the default set for CI's time).
set -euo pipefail
packages=(
  g++ cmake make pkg-config
  libsimgrid-dev libboost-graph-dev libhdf5-dev hdf5-tools libtbb-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libgtest-dev libopenblas-dev libopenmpi-dev openmpi-bin libabsl-dev
  qt6-base-dev qt6-charts-dev qt6-svg-dev libqt6opengl6-dev libgl-dev libegl-dev libxkbcommon-dev xvfb xauth
  fonts-dejavu-core
  python3 python3-yaml python3-jsonschema python3-h5py python3-numpy
)
if [ "${1:-}" = "--fuzz" ]; then packages+=(clang libclang-rt-14-dev); fi
if [ "${1:-}" = "--python" ]; then packages+=(python3-pandas python3-matplotlib); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} Debian packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "setup: these Debian packages are missing and installing them needs root:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
else SUDO=""; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
