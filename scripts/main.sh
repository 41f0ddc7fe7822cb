#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs afm's main job on the default model,
# models/afm-default.gguf — an 8M-parameter model this project trained (models/README.md):
#   1. a flyer becomes a C++ struct through guided generation (examples/flyer_event.cc);
#   2. the model's accuracy on held-out synthetic tasks, run through sessions (afm eval);
#   3. a short benchmark of it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
model=models/afm-default.gguf
echo "== flyer -> event (build/examples/afm_example_flyer $model) =="
./build/examples/afm_example_flyer "$model"
echo "== held-out synthetic tasks, 2 shown per task (build/afm eval -m $model -n 25 --show 2) =="
./build/afm eval -m "$model" -n 25 --show 2
echo "== afm bench =="
./build/afm bench -m "$model" -p 128 -n 64 --no-probe
