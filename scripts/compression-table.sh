#!/usr/bin/env bash
# The quality table of docs/compression.md (the report's Table 3, on afm's default model): each
# row is the trained model in one weight format, measured by the runtime from its file.
#   scripts/compression-table.sh F32_MODEL QAT_MODEL CONTROL_MODEL OUT_DIR [EVAL_N]
# F32_MODEL: the default model exported in f32 (models/README.md: the SFT recipe with
# "export_dtype": "f32"); QAT_MODEL: train/recipes/afm-default-qat.json's output; CONTROL_MODEL:
# train/recipes/afm-default-qat-control.json's (the same training without fake quantization),
# which also gets a q2 post-training row. "-" skips either.
# Columns: bits per weight over all tensors, held-out perplexity of the synthetic tasks'
# responses and of dictionary text (scripts/heldout-text.sh), afm eval's mean exact and field
# accuracy over the four tasks, file size, decode tokens/s (afm bench, 2 threads).
set -euo pipefail
f32=${1:?usage: compression-table.sh F32_MODEL QAT_MODEL CONTROL_MODEL OUT_DIR [EVAL_N]}
qat=${2:?}
control=${3:?}
out=${4:?}
n=${5:-100}
afm=${AFM:-build/afm}
mkdir -p "$out"
scripts/heldout-text.sh "$out/heldout.txt"
rows=("f32|$f32")
# Reruns: ONLY_EXTRA=1 skips the f32 and 8-bit KV rows, and the post-training rows unless
# FORMATS names some (e.g. ONLY_EXTRA=1 FORMATS=astc ... - - OUT for the astc row alone; any
# --weights value works: pal:3.5, astc:svd=8).
only_extra=${ONLY_EXTRA:-0}
[ "$only_extra" = 1 ] && rows=()
formats=${FORMATS-$([ "$only_extra" = 1 ] || echo bf16 q8 q4 pal:3.5 astc astc:svd=8 q2)}
for w in $formats; do
  "$afm" quantize -m "$f32" -o "$out/$w.gguf" --weights "$w" -q >/dev/null 2>&1
  rows+=("$w post-training|$out/$w.gguf")
done
if [ "$only_extra" != 1 ]; then
  "$afm" quantize -m "$f32" -o "$out/q4-kv8.gguf" --weights q4 --kv q8 -q >/dev/null 2>&1
  rows+=("q4, 8-bit KV cache|$out/q4-kv8.gguf")
fi
if [ "$control" != "-" ]; then
  "$afm" quantize -m "$control" -o "$out/control-q2.gguf" --weights q2 -q >/dev/null 2>&1
  rows+=("control: f32, 300 more steps|$control" "control, q2 post-training|$out/control-q2.gguf")
fi
[ "$qat" != "-" ] && rows+=("q2 QAT (300 steps)|$qat")
# RECOVERED=FILE adds the QAT model with its recovery adapters (train/recipes/afm-default-recovery.json).
[ -n "${RECOVERED:-}" ] && rows+=("q2 QAT + recovery adapters (rank 16, 150 steps)|$RECOVERED")
printf '| model | bits/weight | response ppl | text ppl | exact | fields | size | decode tok/s |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for row in "${rows[@]}"; do
  name=${row%%|*}
  m=${row#*|}
  size=$(stat -c %s "$m")
  rppl=$("$afm" perplexity -m "$m" --synthetic 50 --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["perplexity"])')
  tppl=$("$afm" perplexity -m "$m" -f "$out/heldout.txt" --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["perplexity"])')
  acc=$("$afm" eval -m "$m" -n "$n" --json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print("%.1f%% | %.1f%%" % (100 * sum(t["exact"] for t in d.values()) / len(d), 100 * sum(t["fields"] for t in d.values()) / len(d)))')
  tps=$("$afm" bench -m "$m" -p 64 -n 128 --threads 2 --no-probe --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["decode_tok_s"])')
  bits=$(/usr/bin/python3 - "$m" <<'PY'
import sys
sys.path.insert(0, "tests/reference")
from gguf_read import Reader
import numpy as np
r = Reader(sys.argv[1])
n = sum(int(np.prod(d)) for d, t, o in r.tensors.values())
data = len(r.buf) - r.data_start
print("%.2f" % (8 * data / n))
PY
)
  printf '| %s | %s | %s | %s | %s | %s MB | %s |\n' "$name" "$bits" "$rppl" "$tppl" "$acc" "$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1e6 }')" "$tps"
done
