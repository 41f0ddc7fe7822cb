#!/usr/bin/env bash
# afm train end to end on train/recipes/pretrain-tiny.json: the loss falls, the exported model
# runs, and a run stopped and resumed equals an uninterrupted one (same losses, same weights).
set -u
afm=$1
recipe=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0
fail=0
ok() { echo "PASS: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }

"$afm" train "$recipe" --out "$dir/a" --steps 12 --threads 1 2>"$dir/a.err" && ok "train 12 steps" \
  || { bad "train 12 steps"; cat "$dir/a.err"; }
"$afm" train "$recipe" --out "$dir/b" --steps 12 --stop-at 7 --threads 1 2>/dev/null && ok "train to step 7" || bad "train to step 7"
[ ! -e "$dir/b/model.gguf" ] && ok "a stopped run exports nothing" || bad "a stopped run exports nothing"
"$afm" train "$recipe" --out "$dir/b" --steps 12 --threads 1 2>/dev/null && ok "resume to step 12" || bad "resume to step 12"

loss() { awk -F, -v s="$2" '$1 == s { print $3 }' "$1/log.csv"; }
[ "$(wc -l <"$dir/a/log.csv")" -eq 13 ] && ok "log.csv has a row per step" || bad "log.csv rows"
[ "$(wc -l <"$dir/b/log.csv")" -eq 13 ] && ok "resumed log.csv reads as one run" || bad "resumed log.csv rows"
[ -n "$(loss "$dir/a" 12)" ] && [ "$(loss "$dir/a" 12)" = "$(loss "$dir/b" 12)" ] && [ "$(loss "$dir/a" 9)" = "$(loss "$dir/b" 9)" ] \
  && ok "resumed losses equal the uninterrupted run's ($(loss "$dir/a" 12))" || bad "resumed losses differ: $(loss "$dir/a" 12) vs $(loss "$dir/b" 12)"
/usr/bin/python3 -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if b < a - 0.3 else 1)' \
  "$(loss "$dir/a" 1)" "$(loss "$dir/a" 12)" && ok "loss falls ($(loss "$dir/a" 1) -> $(loss "$dir/a" 12))" || bad "loss does not fall"
ids=1,2,3,4,5,6,7,8
[ "$("$afm" logits -m "$dir/a/model.gguf" --tokens $ids --all)" = "$("$afm" logits -m "$dir/b/model.gguf" --tokens $ids --all)" ] \
  && ok "resumed weights equal the uninterrupted run's" || bad "resumed weights differ"
out=$("$afm" generate -m "$dir/a/model.gguf" -p "This License" -n 8 --seed 1 -q) && [ -n "$out" ] \
  && ok "the exported model generates text" || bad "the exported model generates text"
grep -q "<svg" "$dir/a/loss.svg" && grep -q heldout_perplexity "$dir/a/summary.json" && ok "loss.svg and summary.json" || bad "loss.svg and summary.json"

sed 's#"/usr/share/common-licenses"#"/nonexistent/corpus.txt"#' "$recipe" >"$dir/missing.json"
sed -i "s#\"../../configs/#\"$(cd "$(dirname "$recipe")/../.." && pwd)/configs/#" "$dir/missing.json"
err=$("$afm" train "$dir/missing.json" --out "$dir/c" 2>&1 >/dev/null)
[ $? -eq 1 ] && grep -q "/nonexistent/corpus.txt does not exist" <<<"$err" && ok "missing data file" || bad "missing data file ($err)"
sed 's#"recipe": "pretrain"#"recipe": "pretrian"#' "$recipe" >"$dir/typo.json"
err=$("$afm" train "$dir/typo.json" --out "$dir/d" 2>&1 >/dev/null)
[ $? -eq 1 ] && grep -q "unknown recipe 'pretrian'" <<<"$err" && ok "unknown recipe" || bad "unknown recipe ($err)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
