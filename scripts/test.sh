#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the whole test suite: the release
# build (warnings are errors), an AddressSanitizer + UndefinedBehaviorSanitizer build, and the
# libFuzzer targets for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
jobs=$(nproc)

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DAFM_WERROR=ON
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAFM_WERROR=ON \
  -DAFM_SANITIZE=ON -DAFM_BUILD_BENCH=OFF
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"

# libFuzzer (clang): the tokenizer and partial-JSON targets, for a bounded time.
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAFM_FUZZ=ON \
  -DAFM_BUILD_TESTS=OFF -DAFM_BUILD_BENCH=OFF
cmake --build build-fuzz -j "$jobs" --target afm_tokenizer_fuzz afm_partial_json_fuzz \
  afm_grammar_fuzz
mkdir -p build-fuzz/corpus-tokenizer build-fuzz/corpus-partial-json build-fuzz/corpus-grammar
build-fuzz/fuzz/afm_tokenizer_fuzz -max_total_time=60 -max_len=1024 -print_final_stats=1 \
  -artifact_prefix=build-fuzz/ build-fuzz/corpus-tokenizer
build-fuzz/fuzz/afm_partial_json_fuzz -max_total_time=30 -max_len=512 -print_final_stats=1 \
  -artifact_prefix=build-fuzz/ build-fuzz/corpus-partial-json
# Seeds: the test schemas, each prefixed with the byte that selects JSON Schema.
for f in tests/guided/schemas/*.json; do
  { printf '\x00'; cat "$f"; } > "build-fuzz/corpus-grammar/$(basename "$f")"
done
build-fuzz/fuzz/afm_grammar_fuzz -max_total_time=60 -max_len=512 -timeout=30 -print_final_stats=1 \
  -artifact_prefix=build-fuzz/ build-fuzz/corpus-grammar
echo "fuzz: afm_tokenizer_fuzz (60 s), afm_partial_json_fuzz (30 s) and afm_grammar_fuzz (60 s) ran without a finding"
