#!/usr/bin/env bash
# The other recipes end to end on tiny configs, and data parallelism:
#   - 2 ranks (c10d, Gloo, 127.0.0.1) and 1 rank with the same global batch give the same losses;
#   - "bf16": true autocasts only where the CPU has bf16 instructions;
#   - sft fine-tunes a pre-trained model on the synthetic chat tasks, and afm eval scores it;
#   - upcycle turns it into a PT-MoE model that the runtime runs;
#   - distill trains a fresh student from that MoE teacher; with alpha = 1 and the student
#     starting as its own teacher, the first loss (pure KL) is zero;
#   - qat trains a 256-wide model through 2-bit fake quantization, resumes, and exports q2
#     matrices with a q4 embedding that the runtime runs;
#   - recovery trains LoRA adapters on that frozen q2 model, resumes, and exports the q2 tensors
#     unchanged plus the adapters; the adapters lower the loss the frozen model starts from, and
#     the runtime runs the result.
set -u
afm=$1
recipes=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0
fail=0
ok() { echo "PASS: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }
loss() { awk -F, -v s="$2" '$1 == s { print $3 }' "$1/log.csv"; }
close() { /usr/bin/python3 -c 'import sys; a, b, t = map(float, sys.argv[1:]); sys.exit(0 if abs(a - b) <= t * max(abs(a), 1e-9) else 1)' "$@"; }
falls() { /usr/bin/python3 -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(0 if b < a else 1)' "$@"; }

pre=$recipes/pretrain-tiny.json
"$afm" train "$pre" --out "$dir/one" --steps 4 --threads 1 2>"$dir/one.err" || { bad "1-rank run"; cat "$dir/one.err"; }
"$afm" train "$pre" --out "$dir/two" --steps 4 --threads 1 --nproc 2 2>"$dir/two.err" || { bad "2-rank run"; cat "$dir/two.err"; }
for s in 1 2 3 4; do
  a=$(loss "$dir/one" $s)
  b=$(loss "$dir/two" $s)
  [ -n "$a" ] && [ -n "$b" ] && close "$a" "$b" 1e-4 && ok "step $s: 2 ranks $b = 1 rank $a" || bad "step $s: 2 ranks '$b' vs 1 rank '$a'"
done
grep -q '"ranks": 2' "$dir/two/summary.json" && ok "summary records 2 ranks" || bad "summary ranks"
err=$("$afm" train "$pre" --out "$dir/x" --nproc 2 --world-size 2 2>&1 >/dev/null)
[ $? -ne 0 ] && grep -q "not both" <<<"$err" && ok "--nproc with --world-size is refused" || bad "--nproc with --world-size ($err)"

# "bf16": true autocasts only on a CPU with bf16 instructions (Linux's cpuinfo flags avx512_bf16
# or amx_bf16) and says it trains in f32 elsewhere; "always" autocasts anywhere; summary.json
# records what ran. Anything else is refused.
sed 's/"clip": 1.0,/"clip": 1.0, "bf16": true,/' "$pre" >"$dir/bf16.json"
sed -i "s#\"../../configs/#\"$(cd "$recipes/../.." && pwd)/configs/#" "$dir/bf16.json"
"$afm" train "$dir/bf16.json" --out "$dir/b1" --steps 1 --threads 1 2>"$dir/b1.err" || bad "bf16 recipe run"
if grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then want=true; else want=false; fi
grep -q "\"bf16\": $want" "$dir/b1/summary.json" && ok "bf16: true runs bf16 = $want on this CPU" \
  || bad "bf16: true on this CPU ($(grep bf16 "$dir/b1/summary.json"), expected $want)"
{ [ $want = true ] || grep -q "trains in f32 here" "$dir/b1.err"; } && ok "the f32 fallback is announced" \
  || bad "no fallback message ($(cat "$dir/b1.err"))"
sed 's/"bf16": true/"bf16": "always"/' "$dir/bf16.json" >"$dir/bf16a.json"
"$afm" train "$dir/bf16a.json" --out "$dir/b2" --steps 1 --threads 1 2>/dev/null || bad "bf16 always run"
grep -q '"bf16": true' "$dir/b2/summary.json" && ok "bf16: always autocasts" || bad "bf16: always ($(grep bf16 "$dir/b2/summary.json"))"
sed 's/"bf16": true/"bf16": "yes"/' "$dir/bf16.json" >"$dir/bf16y.json"
err=$("$afm" train "$dir/bf16y.json" --out "$dir/b3" --steps 1 2>&1 >/dev/null)
[ $? -ne 0 ] && grep -q 'train.bf16 must be' <<<"$err" && ok "a bad bf16 value is refused" || bad "bad bf16 value ($err)"

# A pre-trained base for the other recipes.
"$afm" train "$pre" --out "$dir/base" --steps 16 --threads 1 2>/dev/null || bad "pretrain base"
base=$dir/base/model.gguf

"$afm" train "$recipes/sft-tiny.json" --init "$base" --out "$dir/sft" --steps 12 --threads 1 2>"$dir/sft.err" \
  && ok "sft runs" || { bad "sft runs"; cat "$dir/sft.err"; }
falls "$(loss "$dir/sft" 1)" "$(loss "$dir/sft" 12)" && ok "sft response loss falls ($(loss "$dir/sft" 1) -> $(loss "$dir/sft" 12))" || bad "sft loss does not fall"
out=$("$afm" eval -m "$dir/sft/model.gguf" -n 2 --exclude-per-task 40 --threads 1 2>/dev/null)
grep -q "^event " <<<"$out" && grep -q "^tool " <<<"$out" && grep -q "^summary " <<<"$out" \
  && ok "afm eval scores every task" || bad "afm eval ($out)"
err=$("$afm" train "$recipes/sft-tiny.json" --init /nonexistent.gguf --out "$dir/y" 2>&1 >/dev/null)
[ $? -ne 0 ] && grep -q "nonexistent" <<<"$err" && ok "sft with a missing init model" || bad "missing init ($err)"

"$afm" train "$recipes/upcycle-tiny.json" --init "$base" --out "$dir/up" --steps 6 --threads 1 2>"$dir/up.err" \
  && ok "upcycle runs" || { bad "upcycle runs"; cat "$dir/up.err"; }
"$afm" bench -m "$dir/up/model.gguf" -p 16 -n 4 --no-probe --threads 1 2>&1 | grep -q "afm-pt-moe" \
  && ok "the upcycled model is a PT-MoE model the runtime runs" || bad "upcycled model does not run as PT-MoE"

"$afm" train "$recipes/distill-tiny.json" --teacher "$dir/up/model.gguf" --out "$dir/di" --steps 10 --threads 1 2>"$dir/di.err" \
  && ok "distill runs" || { bad "distill runs"; cat "$dir/di.err"; }
falls "$(loss "$dir/di" 1)" "$(loss "$dir/di" 10)" && ok "distill loss falls ($(loss "$dir/di" 1) -> $(loss "$dir/di" 10))" || bad "distill loss does not fall"
sed 's/"alpha": 0.5/"alpha": 1.0/' "$recipes/distill-tiny.json" >"$dir/kl.json"
sed -i "s#\"../../configs/#\"$(cd "$recipes/../.." && pwd)/configs/#" "$dir/kl.json"
"$afm" train "$dir/kl.json" --teacher "$base" --init "$base" --out "$dir/kl" --steps 1 --threads 1 2>/dev/null
/usr/bin/python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1])) < 1e-5 else 1)' "$(loss "$dir/kl" 1)" \
  && ok "student = teacher, alpha 1: first loss is zero ($(loss "$dir/kl" 1))" || bad "KL of a model to itself is $(loss "$dir/kl" 1)"
"$afm" create --config "$recipes/../../configs/afm-tiny.json" --out "$dir/v256.gguf" >/dev/null 2>&1
err=$("$afm" train "$recipes/distill-tiny.json" --teacher "$dir/v256.gguf" --init "$base" --out "$dir/z" 2>&1 >/dev/null)
[ $? -ne 0 ] && grep -q "one vocabulary" <<<"$err" && ok "distill refuses a teacher with another vocabulary" || bad "distill vocabulary mismatch ($err)"

# QAT on a 256-wide base (q2 and q4 need rows of 256), stopped and resumed on the way.
sed "s#\"../../configs/afm-tiny.json\"#\"$(cd "$recipes/../.." && pwd)/configs/afm-tiny-256.json\"#" "$pre" >"$dir/pre256.json"
"$afm" train "$dir/pre256.json" --out "$dir/base256" --steps 4 --threads 1 2>/dev/null || bad "pretrain 256-wide base"
"$afm" train "$recipes/qat-tiny.json" --init "$dir/base256/model.gguf" --out "$dir/qat" --steps 8 --stop-at 5 --threads 1 2>/dev/null
[ -f "$dir/qat/checkpoint/qat.pt" ] && ok "qat checkpoint holds the factors and the EMA" || bad "no qat checkpoint"
"$afm" train "$recipes/qat-tiny.json" --init "$dir/base256/model.gguf" --out "$dir/qat" --steps 8 --threads 1 2>"$dir/qat.err" \
  && ok "qat resumes and exports" || { bad "qat resumes and exports"; cat "$dir/qat.err"; }
grep -q "QAT export 2\.[0-9]* bits per weight" "$dir/qat.err" && ok "qat export: $(grep -o 'QAT export.*' "$dir/qat.err")" || bad "qat export summary"
/usr/bin/python3 - "$dir/qat/model.gguf" "$recipes/../../tests/reference" <<'PY' && ok "qat model: q2 matrices, q4 embedding" || bad "qat model types"
import sys
sys.path.insert(0, sys.argv[2])
from gguf_read import Reader, AFM_Q2, AFM_Q4
r = Reader(sys.argv[1])
types = {n: t for n, (d, t, o) in r.tensors.items() if len(d) > 1}
assert types.pop("token_embd.weight") == AFM_Q4, types
assert set(types.values()) == {AFM_Q2}, types
PY
"$afm" generate -m "$dir/qat/model.gguf" -p "GNU" -n 8 -q --threads 1 >/dev/null && ok "the QAT model generates" || bad "QAT model generate"


"$afm" train "$recipes/recovery-tiny.json" --init "$dir/qat/model.gguf" --out "$dir/rec" --steps 12 --stop-at 4 --threads 1 2>/dev/null
[ -f "$dir/rec/checkpoint/lora.pt" ] && ok "recovery checkpoint holds the adapters" || bad "no lora checkpoint"
"$afm" train "$recipes/recovery-tiny.json" --init "$dir/qat/model.gguf" --out "$dir/rec" --steps 12 --threads 1 2>"$dir/rec.err" \
  && ok "recovery resumes and exports" || { bad "recovery resumes and exports"; cat "$dir/rec.err"; }
# B starts at 0, so training starts from the frozen model; 12 steps must lower its perplexity on
# the text they trained on (batch losses vary too much from batch to batch to compare).
ppl() { "$afm" perplexity -m "$1" -f /usr/share/common-licenses/GPL-3 --threads 1 --json 2>/dev/null |
  /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["perplexity"])'; }
before=$(ppl "$dir/qat/model.gguf")
after=$(ppl "$dir/rec/model.gguf")
/usr/bin/python3 -c 'import sys; sys.exit(0 if float(sys.argv[2]) < float(sys.argv[1]) else 1)' "$before" "$after" \
  && ok "adapters lower the frozen model's perplexity ($before -> $after)" || bad "adapter perplexity $before -> $after"
/usr/bin/python3 - "$dir/qat/model.gguf" "$dir/rec/model.gguf" "$recipes/../../tests/reference" <<'PY' && ok "recovered model: the q2 tensors byte for byte, f16 adapters on every matrix" || bad "recovered model tensors"
import sys
sys.path.insert(0, sys.argv[3])
from gguf_read import Reader
import numpy as np
base, rec = Reader(sys.argv[1]), Reader(sys.argv[2])
for name, (dims, t, off) in base.tensors.items():
    d2, t2, off2 = rec.tensors[name]
    assert (d2, t2) == (dims, t), name
    if len(dims) > 1 and name != "token_embd.weight":
        a, b = rec.tensor(name + ".lora_a"), rec.tensor(name + ".lora_b")
        assert a.shape == (4, dims[0]) and b.shape == (dims[1], 4), (name, a.shape, b.shape)
        assert rec.tensors[name + ".lora_a"][1] == 1, "f16"
    assert np.array_equal(base.tensor(name), rec.tensor(name)), name
assert any(np.abs(rec.tensor(n)).max() > 0 for n in rec.tensors if n.endswith(".lora_b"))
PY
"$afm" generate -m "$dir/rec/model.gguf" -p "GNU" -n 8 -q --threads 1 >/dev/null && ok "the recovered model generates" || bad "recovered model generate"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
