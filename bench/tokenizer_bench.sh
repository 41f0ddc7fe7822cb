#!/usr/bin/env bash
# afm's tokenizer against js-tiktoken, single thread, same corpus, same run.
#   bench/tokenizer_bench.sh [build dir] [shared vocab dir]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
vocab=${2:-$root/../shared/vocab}
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
/usr/bin/python3 "$root/tests/tokenizer/make_corpus.py" "$corpus" "$root"
cat "$corpus"/*.txt >"$corpus/all.txt"
for enc in o200k_base cl100k_base; do
  "$build/bench/afm_tokenizer_bench" --vocab "$vocab/$enc.tiktoken" --file "$corpus/all.txt"
  NODE_PATH="$root/tests/tokenizer/node_modules" node "$root/bench/tokenizer_bench.js" "$enc" "$corpus/all.txt" 2
done
