#!/usr/bin/env bash
# Reproduces models/afm-default.gguf (models/README.md): writes the training text from Debian
# packages, runs the committed recipe, evaluates the result and copies it here.
#   models/train-default.sh [--nproc N]    (about 70 minutes on a 2-core machine)
# Rerunning resumes from runs/afm-default/checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/prepare-corpus.sh runs/corpus
./build/afm train train/recipes/afm-default.json --out runs/afm-default "$@"
./build/afm eval -m runs/afm-default/model.gguf -n 100 | tee runs/afm-default/eval.txt
cp runs/afm-default/model.gguf models/afm-default.gguf
cp runs/afm-default/loss.svg models/afm-default-loss.svg
