#!/usr/bin/env bash
# Guided-generation benchmark: per-token mask time (mean, median, p99, max) and schema compile
# time over the 125 test schemas, with o200k_base (200k tokens) and cl100k_base. Random walks
# under the mask, one thread, a cold mask cache per schema (first visits of each grammar state
# are included in the mask times).
#   bench/guided_bench.sh [build dir] [shared vocab dir]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
vocab=${2:-$here/../shared/vocab}
for v in o200k_base cl100k_base; do
  echo "== $v"
  "$build/afm" schema bench --schemas "$here/tests/guided/schemas" --vocab "$vocab/$v.tiktoken" \
    --samples 8 --seed 1
done
