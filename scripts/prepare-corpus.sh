#!/usr/bin/env bash
# Writes the default model's training text (models/README.md) as plain-text files, documents
# separated by blank lines, from Debian packages that scripts/setup.sh installs:
#   dict-gcide    GNU Collaborative International Dictionary of English (first 12 MB of entries)
#   wordnet-base  WordNet synsets: "words (part of speech): gloss", 8 to a document
#   fortunes      fortune cookies (fortunes, fortunes-min), one to a document
#   gnu-standards GNU coding standards and maintainer guide, HTML tags removed
#   base-files    /usr/share/common-licenses
# Usage: scripts/prepare-corpus.sh OUT_DIR
set -euo pipefail
out=${1:?usage: prepare-corpus.sh OUT_DIR}
mkdir -p "$out"
need() { [ -e "$1" ] || { echo "prepare-corpus: $1 is missing (install $2; scripts/setup.sh does)" >&2; exit 1; }; }
need /usr/share/dictd/gcide.dict.dz dict-gcide
need /usr/share/wordnet/data.noun wordnet-base
need /usr/share/games/fortunes/fortunes fortunes-min
need /usr/share/doc/gnu-standards/standards.html gnu-standards

# Dictionary entries: drop source tags ("[1913 Webster]") and pronunciation marks (\Ab"di*ca`tor\).
{ zcat /usr/share/dictd/gcide.dict.dz || true; } | head -c 12000000 \
  | sed -E '/^ *\[[^]]*(Webster|PJC|Century|WordNet)[^]]*\] *$/d; s/\\[^\\]*\\,? ?//g; s/^ +//' \
  >"$out/gcide.txt"

for pos in noun verb adj adv; do
  awk -v pos="$pos" '
    function hex(s,  i, v) { v = 0; for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
    /^  / { next }  # licence header
    {
      split($0, halves, " \\| "); n = hex($4); words = ""
      for (i = 0; i < n; i++) { w = $(5 + 2 * i); gsub("_", " ", w); sub(/\(.*\)$/, "", w); words = words (i ? ", " : "") w }
      gloss = halves[2]; sub(/ +$/, "", gloss)
      print words " (" pos "): " gloss
      if (++k % 8 == 0) print ""
    }' "/usr/share/wordnet/data.$pos"
done >"$out/wordnet.txt"

for f in /usr/share/games/fortunes/*; do
  case "$f" in *.dat | *.u8) continue ;; esac
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  sed 's/^%$//' "$f"
  echo
done >"$out/fortunes.txt"

for f in standards maintain; do
  sed -E 's/<[^>]*>//g; s/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&rsquo;/'"'"'/g; s/&lsquo;/'"'"'/g; s/&nbsp;/ /g; s/&amp;/\&/g' \
    "/usr/share/doc/gnu-standards/$f.html" | cat -s
done >"$out/gnu-standards.txt"

cat /usr/share/common-licenses/* >"$out/licenses.txt"
du -b "$out"/*.txt >&2
