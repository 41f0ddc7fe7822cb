#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs afm's main job: generation on the
# default model, then a short benchmark of it.
#
# There is no trained default model yet (that is the training issue's work), so this creates a
# small model with RANDOM weights on the spot (configs/afm-tiny.json): its output is gibberish
# by construction. It shows the pipeline working, not a language model.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
mkdir -p build/models
model=build/models/afm-tiny-random.gguf
[ -f "$model" ] || ./build/afm create --config configs/afm-tiny.json --out "$model" --seed 1 --std 0.3
echo "== afm generate (random weights: expect gibberish) =="
./build/afm generate -m "$model" -p "Apple Intelligence on device: " -n 48 --seed 7
echo "== afm bench =="
./build/afm bench -m "$model" -p 128 -n 64 --no-probe
