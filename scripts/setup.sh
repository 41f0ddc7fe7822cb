#!/usr/bin/env bash
# Installs every package afm needs to build, test and benchmark on Debian 12.
# Safe to run again: apt-get skips what is already installed.
set -euo pipefail
packages=(
  cmake ninja-build g++ pkg-config git clang libclang-rt-14-dev
  libhwy-dev nlohmann-json3-dev libcli11-dev libastcenc-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-numpy python3-torch python3-jsonschema python3-rfc3987
  libtorch-dev  # train/ (optional for the runtime; built and tested where present)
  libgloo-dev   # headers of the Gloo backend compiled into libtorch (data-parallel training)
  # Debian's libtorch calls the reference BLAS unless an optimised one is installed: OpenBLAS
  # (OpenMP build, like libtorch) makes training ~15x faster here.
  libopenblas0-openmp
  # The default model's training text (scripts/prepare-corpus.sh, models/README.md).
  dict-gcide wordnet-base fortunes fortunes-min gnu-standards
)
# Node runs the tokenizer tests' reference encoder; this image's nodejs (with npm) may come from
# outside Debian, so install Debian's only when there is no node at all.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi

# The tokenizer tests' reference encoder (js-tiktoken), pinned by tests/tokenizer/package-lock.json.
here=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$here/tests/tokenizer/node_modules/js-tiktoken" ]; then
  echo "setup: npm ci in tests/tokenizer (js-tiktoken)"
  (cd "$here/tests/tokenizer" && npm ci --no-audit --no-fund --loglevel=error)
fi
