#!/usr/bin/env bash
# Writes held-out text for `afm perplexity` (docs/compression.md): the 100 kB of the GCIDE
# dictionary that follow the 12 MB scripts/prepare-corpus.sh trains on, cleaned the same way.
# Usage: scripts/heldout-text.sh OUT_FILE
set -euo pipefail
out=${1:?usage: heldout-text.sh OUT_FILE}
[ -e /usr/share/dictd/gcide.dict.dz ] || { echo "heldout-text: install dict-gcide (scripts/setup.sh does)" >&2; exit 1; }
{ zcat /usr/share/dictd/gcide.dict.dz || true; } | head -c 12100000 | tail -c 100000 \
  | sed -E '/^ *\[[^]]*(Webster|PJC|Century|WordNet)[^]]*\] *$/d; s/\\[^\\]*\\,? ?//g; s/^ +//' \
  >"$out"
