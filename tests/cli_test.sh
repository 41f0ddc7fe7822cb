#!/usr/bin/env bash
# Checks the afm command line end to end: help on every subcommand, a working create/generate/
# logits/bench round, and clear errors (exit 1, "afm: error:" and the reason) for bad input.
set -u
afm=$1
config=$2
vocab_dir=${3:-$(dirname "$0")/../../shared/vocab}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0
fail=0
ok() { echo "PASS: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }

for cmd in create generate logits bench tokenize detokenize "tokenizer train" schema "schema accepts" \
  "schema sample" "schema bench" respond chat train eval quantize perplexity; do
  # shellcheck disable=SC2086
  if "$afm" $cmd --help | grep -q "Usage"; then ok "$cmd --help"; else bad "$cmd --help"; fi
done

"$afm" create --config "$config" --out "$dir/m.gguf" --seed 2 2>/dev/null && ok "create" || bad "create"
out=$("$afm" generate -m "$dir/m.gguf" -p "abc" -n 5 --seed 1 -q) && [ -n "$out" ] && ok "generate" || bad "generate"
"$afm" logits -m "$dir/m.gguf" --tokens 1,2,3 | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["logits"][0]) == d["n_vocab"]' \
  && ok "logits JSON" || bad "logits JSON"
"$afm" bench -m "$dir/m.gguf" -p 8 -n 4 --no-probe --json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["decode_tok_s"] > 0' \
  && ok "bench JSON" || bad "bench JSON"
# The weights are read into memory by default (huge pages where the kernel gives them, never more
# than the file) and mapped with --mmap; both decode the same tokens.
"$afm" bench -m "$dir/m.gguf" -p 8 -n 4 --no-probe --json | /usr/bin/python3 -c '
import json, os, sys
d = json.load(sys.stdin)
assert d["weights_load"] == "read", d
assert 0 <= d["weights_huge_page_bytes"] <= os.path.getsize(sys.argv[1]), d
' "$dir/m.gguf" && ok "bench reads weights" || bad "bench reads weights"
"$afm" bench -m "$dir/m.gguf" -p 8 -n 4 --no-probe --mmap --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["weights_load"] == "map" and d["weights_huge_page_bytes"] == 0, d
' && ok "bench --mmap" || bad "bench --mmap"
[ "$("$afm" generate -m "$dir/m.gguf" -p "abc" -n 8 --greedy -q --mmap)" = \
  "$("$afm" generate -m "$dir/m.gguf" -p "abc" -n 8 --greedy -q)" ] \
  && ok "generate --mmap same tokens" || bad "generate --mmap same tokens"
# Decode split into rounds, each paired with the read ceiling probed around it: the rounds cover
# the decoded tokens in order, and the summary is the median and range of their fractions.
"$afm" bench -m "$dir/m.gguf" -p 8 -n 10 --rounds 4 --threads 2 --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
r = d["paired_rounds"]
assert [x["tokens"] for x in r] == [2, 3, 2, 3], r  # 10 * (k + 1) / 4 boundaries
assert [x["first_position"] for x in r] == [8, 10, 13, 15], r
assert all(x["ceiling_gb_s"] > 0 and x["decode_gb_s"] > 0 for x in r), r
f = sorted(x["decode_gb_s"] / x["ceiling_gb_s"] for x in r)
p = d["paired_decode_fraction"]
assert abs(p["min"] - f[0]) < 1e-9 and abs(p["max"] - f[-1]) < 1e-9, (p, f)
assert abs(p["median"] - (f[1] + f[2]) / 2) < 1e-9, (p, f)
' && ok "bench paired rounds" || bad "bench paired rounds"
"$afm" bench -m "$dir/m.gguf" -p 8 -n 3 --rounds 8 --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert [x["tokens"] for x in d["paired_rounds"]] == [1, 1, 1], d  # no more rounds than tokens
' && ok "bench rounds capped" || bad "bench rounds capped"
"$afm" bench -m "$dir/m.gguf" -p 8 -n 4 --rounds 0 --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert "paired_rounds" not in d and d["read_bandwidth_gb_s"] > 0, d
' && ok "bench without rounds" || bad "bench without rounds"

# PT-MoE: the same round on the tiny server model, both ways of running it.
pt_config=$(dirname "$config")/pt-moe-tiny.json
"$afm" create --config "$pt_config" --out "$dir/pt.gguf" --dtype q8 2>/dev/null && ok "create PT-MoE" || bad "create PT-MoE"
out=$("$afm" generate -m "$dir/pt.gguf" -p "abc" -n 30 --seed 1 -q --execution layer) && [ -n "$out" ] \
  && ok "generate PT-MoE" || bad "generate PT-MoE"
"$afm" bench -m "$dir/pt.gguf" -p 20 -n 30 --no-probe --threads 2 --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["decode_syncs_per_token"] < d["layer_parallel"]["decode_syncs_per_token"], d
assert d["layer_parallel"]["decode_syncs_per_token"] == 17, d  # 2 x 8 layers + the head
assert sum(d["expert_load"]) == 2 * 2 * 4 * (1 + 20 + 30), d  # k x tracks x MoE layers x tokens
' && ok "bench PT-MoE" || bad "bench PT-MoE"

# expect_error NAME PATTERN COMMAND...: exit status 1 and PATTERN in the error message.
expect_error() {
  local name=$1 pattern=$2
  shift 2
  local err
  err=$("$@" 2>&1 >/dev/null)
  local rc=$?
  if [ $rc -eq 1 ] && grep -q -- "$pattern" <<<"$err"; then ok "$name"; else bad "$name (rc=$rc: $err)"; fi
}
head -c 100 "$dir/m.gguf" >"$dir/truncated.gguf"
echo "not a model" >"$dir/text.gguf"
: >"$dir/empty.gguf"
expect_error "truncated model" "truncated or corrupt" "$afm" generate -m "$dir/truncated.gguf" -p x
expect_error "not a GGUF file" "not a GGUF file" "$afm" logits -m "$dir/text.gguf" --tokens 1
expect_error "empty file" "file is empty" "$afm" bench -m "$dir/empty.gguf"
expect_error "token out of range" "outside the vocabulary" "$afm" logits -m "$dir/m.gguf" --tokens 1,999
expect_error "bad token list" "is not a token id" "$afm" logits -m "$dir/m.gguf" --tokens 1,x
expect_error "context overflow" "exceed" "$afm" generate -m "$dir/m.gguf" -p "$(head -c 300 /dev/zero | tr '\0' a)" -n 1
expect_error "bad dtype" "unknown dtype" "$afm" create --config "$config" --out "$dir/x.gguf" --dtype q3
expect_error "bad weight format" "unknown weight format 'q3'" "$afm" quantize -m "$dir/m.gguf" -o "$dir/x.gguf" --weights q3
expect_error "bad palette mean" "pal:BITS takes a mean between 2.1 and 4.0" "$afm" quantize -m "$dir/m.gguf" -o "$dir/x.gguf" --weights pal:5
# afm-tiny is 64 wide: q2's 256-value blocks do not fit, and the error names the tensor.
expect_error "shape the format cannot take" "tensor 'token_embd.weight' has rows of 64 values, which q4" \
  "$afm" quantize -m "$dir/m.gguf" -o "$dir/x.gguf" --weights q2
expect_error "bad astc option" "astc takes one option, svd=R" "$afm" quantize -m "$dir/m.gguf" -o "$dir/x.gguf" --weights astc:rank=4
expect_error "bad svd rank" "SVD rank must be a positive integer" "$afm" quantize -m "$dir/m.gguf" -o "$dir/x.gguf" --weights astc:svd=0
# afm-tiny's K projection is 32 x 64: a rank-40 split cannot fit, and the error names it.
expect_error "svd rank too large" "tensor 'blk.0.attn_k.weight' (32 x 64) cannot take an SVD split of rank 40" \
  "$afm" quantize -m "$dir/m.gguf" -o "$dir/x.gguf" --weights astc:svd=40 --embed f16
expect_error "quantize over its input" "is the input file" "$afm" quantize -m "$dir/m.gguf" -o "$dir/m.gguf" --weights q8
expect_error "perplexity without vocabulary" "has no vocabulary" "$afm" perplexity -m "$dir/m.gguf"
/usr/bin/python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); c["n_experts_used"]=9; print(json.dumps(c))' \
  "$pt_config" >"$dir/bad-moe.json"
expect_error "bad PT-MoE config" "n_experts_used 9" "$afm" create --config "$dir/bad-moe.json" --out "$dir/x.gguf"
expect_error "KV sharing in PT-MoE" "kv_shared_fraction" "$afm" create --config "$pt_config" --out "$dir/x.gguf" --kv-shared-fraction 0.5
err=$("$afm" logits -m "$dir/pt.gguf" --tokens 1 --execution diagonal 2>&1 >/dev/null)
[ $? -ne 0 ] && grep -q -- "--execution: diagonal not in {track,layer}" <<<"$err" && ok "bad execution" || bad "bad execution ($err)"
# Heads of 8 values in pairs: 3 threads would cut attn_output inside a 32-value q8 block.
/usr/bin/python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); c.update(n_heads=8, n_kv_heads=4, head_dim=8); print(json.dumps(c))' \
  "$pt_config" >"$dir/narrow-heads.json"
"$afm" create --config "$dir/narrow-heads.json" --out "$dir/narrow.gguf" --dtype q8 2>/dev/null
expect_error "layer split inside a q8 block" "inside a 32-value block" "$afm" logits -m "$dir/narrow.gguf" --tokens 1,2 --execution layer --threads 3
echo '{"vocab_size": 10}' >"$dir/bad.json"
expect_error "bad config" "d_model" "$afm" create --config "$dir/bad.json" --out "$dir/x.gguf"
mkdir -p "$dir/vocab"
printf 'QQ== 0\n' >"$dir/vocab/cl100k_base.tiktoken"
expect_error "bad vocabulary" "no token for byte" "$afm" tokenize --vocab "$dir/vocab/cl100k_base.tiktoken" --text hi
cp "$vocab_dir/cl100k_base.tiktoken" "$dir/vocab/custom.tiktoken"  # a name that says no pattern
expect_error "unknown pre-tokenizer" "unknown pre-tokenizer 'custom'" "$afm" tokenize --vocab "$dir/vocab/custom.tiktoken" --text hi
expect_error "missing vocabulary" "cannot open" "$afm" tokenize --vocab "$dir/none.tiktoken" --text hi
expect_error "model without vocabulary" "holds no vocabulary" "$afm" detokenize -m "$dir/m.gguf" --ids 1
expect_error "bad token id" "outside the vocabulary" "$afm" detokenize --vocab "$vocab_dir/gpt2" --ids 1,99999999
expect_error "vocab size mismatch" "vocab_size" "$afm" create --config "$config" --out "$dir/y.gguf" --vocab "$vocab_dir/gpt2"
# afm schema: exit 0 accepted, 1 rejected (with the reason), 2 error.
echo '{"type":"object","properties":{"n":{"type":"integer","minimum":1}},"required":["n"]}' >"$dir/s.json"
printf '{"n":5}' >"$dir/good.json"
printf '{"n":0}' >"$dir/bad.json"
"$afm" schema accepts --schema "$dir/s.json" --instance "$dir/good.json" | grep -q accepted && ok "schema accepts" || bad "schema accepts"
out=$("$afm" schema accepts --schema "$dir/s.json" --instance "$dir/bad.json"); rc=$?
[ $rc -eq 1 ] && grep -q "at byte 5" <<<"$out" && ok "schema rejects with reason" || bad "schema rejects ($rc: $out)"
echo '{"type":"object","uniqueItems":true}' >"$dir/u.json"
err=$("$afm" schema accepts --schema "$dir/u.json" --instance "$dir/good.json" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "unsupported keyword 'uniqueItems'" <<<"$err" && ok "schema unsupported keyword" || bad "schema unsupported keyword ($rc: $err)"
printf '[0-9]+(px|em)' >"$dir/r.txt"
printf '12em' >"$dir/r-in.txt"
"$afm" schema accepts --regex "$dir/r.txt" --instance "$dir/r-in.txt" >/dev/null && ok "regex accepts" || bad "regex accepts"
printf 'root ::= "a" b\nb ::= "b"+\n' >"$dir/g.gbnf"
printf 'abbb' >"$dir/g-in.txt"
"$afm" schema accepts --gbnf "$dir/g.gbnf" --instance "$dir/g-in.txt" >/dev/null && ok "gbnf accepts" || bad "gbnf accepts"
"$afm" schema sample --schema "$dir/s.json" --vocab "$vocab_dir/cl100k_base.tiktoken" -n 3 --json |
  /usr/bin/python3 -c 'import json,sys; [json.loads(json.loads(l)["text"]) for l in sys.stdin]' \
  && ok "schema sample" || bad "schema sample"
expect_error "sample without vocabulary" "cannot open" "$afm" schema sample --schema "$dir/s.json" --vocab "$dir/none.tiktoken"
expect_error "bench without schemas" "no \*.json schemas" "$afm" schema bench --schemas "$dir/vocab" --vocab "$vocab_dir/cl100k_base.tiktoken"

# afm respond / chat on a model with a trained chat vocabulary.
for i in $(seq 1 200); do echo "The cat sat on the mat $i times. {\"n\":$i}"; done >"$dir/corpus.txt"
"$afm" tokenizer train --corpus "$dir/corpus.txt" --vocab-size 400 --out "$dir/chat-vocab.json" --threads 1 2>/dev/null
sed -e 's/"vocab_size": *[0-9]*/"vocab_size": 400/' -e 's/"context_length": *[0-9]*/"context_length": 2048/' "$config" >"$dir/chat-config.json"
if "$afm" create --config "$dir/chat-config.json" --vocab "$dir/chat-vocab.json" --out "$dir/chat.gguf" 2>/dev/null; then
  echo '{"type":"object","properties":{"n":{"type":"integer","minimum":1,"maximum":99}},"required":["n"]}' >"$dir/s2.json"
  out=$("$afm" respond -m "$dir/chat.gguf" --schema "$dir/s2.json" -p "n is five" --temp 1 --seed 2)
  /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert isinstance(d["n"], int) and d["n"] >= 1' "$out" \
    && ok "respond --schema" || bad "respond --schema ($out)"
  printf 'hi\n/save %s\n/quit\n' "$dir/t.json" | "$afm" chat -m "$dir/chat.gguf" -n 4 >/dev/null 2>&1
  /usr/bin/python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); assert [e["role"] for e in t] == ["user", "response"]' "$dir/t.json" \
    && ok "chat /save" || bad "chat /save"
  # The examples (built beside afm): the flyer extraction fills every field; the tools example runs.
  examples=$(dirname "$afm")/examples
  out=$("$examples/afm_example_flyer" "$dir/chat.gguf" 2>/dev/null)
  grep -q "^date: *20[0-9][0-9]-" <<<"$out" && ok "example flyer" || bad "example flyer ($out)"
  "$examples/afm_example_tools" "$dir/chat.gguf" >/dev/null 2>&1 && ok "example tools" || bad "example tools"
else
  bad "create a chat model"
fi
expect_error "respond without a model" "model unavailable" "$afm" respond -m "$dir/none.gguf" -p hi

if "$afm" frobnicate >/dev/null 2>&1; then bad "unknown subcommand"; else ok "unknown subcommand"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
