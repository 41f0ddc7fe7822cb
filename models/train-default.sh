#!/usr/bin/env bash
# Reproduces models/afm-default.gguf (models/README.md): writes the training text from Debian
# packages, runs the two committed recipes (pre-training, then SFT on the synthetic tasks),
# evaluates the result and copies it here.
#   models/train-default.sh [--nproc N]    (about 85 minutes on a 2-core machine)
# Rerunning resumes from the checkpoints under runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/prepare-corpus.sh runs/corpus
./build/afm train train/recipes/afm-default.json --out runs/afm-default "$@"
./build/afm train train/recipes/afm-default-sft.json --out runs/afm-default-sft "$@"
./build/afm eval -m runs/afm-default-sft/model.gguf -n 200 | tee runs/afm-default-sft/eval.txt
cp runs/afm-default-sft/model.gguf models/afm-default.gguf
cp runs/afm-default/loss.svg models/afm-default-pretrain-loss.svg
cp runs/afm-default-sft/loss.svg models/afm-default-sft-loss.svg
