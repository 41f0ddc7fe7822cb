// Hand-compiled split regexes. Each matcher tries the pattern's alternatives in order at the
// current character and returns the end of the first that matches, reproducing the greedy
// quantifiers and the backtracking a regex engine would do (explained per branch).
#include "text/pretokenizer.h"

#include "afm/error.h"
#include "text/unicode.h"

namespace afm::text {
namespace {

// The text decoded once: code point, class bits and byte offset of each character.
struct chars {
  std::vector<uint32_t> cp;
  std::vector<uint8_t> cls;
  std::vector<uint32_t> off;  // off[n] = byte size
  size_t n = 0;

  explicit chars(std::string_view s) {
    cp.reserve(s.size());
    cls.reserve(s.size());
    off.reserve(s.size() + 1);
    for (size_t i = 0; i < s.size();) {
      uint32_t c;
      const size_t len = decode_utf8(s, i, c);
      cp.push_back(c);
      cls.push_back(c == kInvalid ? 0 : classify(c));
      off.push_back(static_cast<uint32_t>(i));
      i += len;
    }
    n = cp.size();
    off.push_back(static_cast<uint32_t>(s.size()));
  }

  bool has(size_t k, uint8_t mask) const { return k < n && (cls[k] & mask); }
  bool is(size_t k, uint32_t c) const { return k < n && cp[k] == c; }
  bool crlf(size_t k) const { return k < n && (cp[k] == '\r' || cp[k] == '\n'); }
  // [^\r\n\p{L}\p{N}]
  bool not_crlf_letter_number(size_t k) const {
    return k < n && !crlf(k) && !(cls[k] & (kLetter | kNumber));
  }
  // [^\s\p{L}\p{N}]
  bool other(size_t k) const { return k < n && !(cls[k] & (kSpace | kLetter | kNumber)); }
  size_t run(size_t k, uint8_t mask) const {
    while (has(k, mask)) ++k;
    return k;
  }
  size_t run_other(size_t k) const {
    while (other(k)) ++k;
    return k;
  }
  size_t run_crlf(size_t k, bool slash) const {
    while (crlf(k) || (slash && is(k, '/'))) ++k;
    return k;
  }
  static uint32_t lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

  // 's|'t|'re|'ve|'m|'ll|'d, ASCII case-insensitive or lowercase only; returns the end or k.
  size_t contraction(size_t k, bool any_case) const {
    if (!is(k, '\'') || k + 1 >= n) return k;
    auto at = [&](size_t i) { return i < n ? (any_case ? lower(cp[i]) : cp[i]) : 0u; };
    const uint32_t a = at(k + 1), b = at(k + 2);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return k + 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return k + 3;
    return k;
  }

  // \s*[\r\n]+ : \s* backtracks from the end of the whitespace run to the last CR/LF in it, and
  // [\r\n]+ then matches that one character (what follows it is not CR/LF).
  size_t space_then_newline(size_t k) const {
    const size_t j = run(k, kSpace);
    for (size_t m = j; m > k; --m)
      if (crlf(m - 1)) return m;
    return k;
  }
  // \s+(?!\S) : the whole run at the end of the text, else the run minus its last character
  // (which is whitespace, so the lookahead holds) when that leaves at least one.
  size_t space_not_before_text(size_t k) const {
    const size_t j = run(k, kSpace);
    if (j == k) return k;
    if (j == n) return j;
    return j - k >= 2 ? j - 1 : k;
  }
  size_t whitespace_tail(size_t k) const {
    size_t e = space_then_newline(k);
    if (e > k) return e;
    e = space_not_before_text(k);
    if (e > k) return e;
    return run(k, kSpace);  // \s+
  }
  // " ?X+" for a class predicate: the space is taken if X follows it, else X+ from here.
  template <class Pred>
  size_t optional_space_run(size_t k, Pred pred) const {
    size_t j = k;
    if (is(k, ' ') && pred(k + 1)) j = k + 1;
    if (!pred(j)) return k;
    while (pred(j)) ++j;
    return j;
  }
};

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
size_t match_gpt2(const chars& c, size_t k) {
  size_t e = c.contraction(k, false);
  if (e > k) return e;
  e = c.optional_space_run(k, [&](size_t i) { return c.has(i, kLetter); });
  if (e > k) return e;
  e = c.optional_space_run(k, [&](size_t i) { return c.has(i, kNumber); });
  if (e > k) return e;
  e = c.optional_space_run(k, [&](size_t i) { return c.other(i); });
  if (e > k) return e;
  e = c.space_not_before_text(k);
  if (e > k) return e;
  return c.run(k, kSpace);
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+        (qwen2: \p{N} instead of \p{N}{1,3})
size_t match_cl100k(const chars& c, size_t k, size_t max_digits) {
  size_t e = c.contraction(k, true);
  if (e > k) return e;
  // The optional prefix is taken when a letter follows it; otherwise \p{L}+ must start here.
  if (c.not_crlf_letter_number(k) && c.has(k + 1, kLetter)) return c.run(k + 1, kLetter);
  if (c.has(k, kLetter)) return c.run(k, kLetter);
  if (c.has(k, kNumber)) {
    e = k;
    while (e - k < max_digits && c.has(e, kNumber)) ++e;
    return e;
  }
  e = c.optional_space_run(k, [&](size_t i) { return c.other(i); });
  if (e > k) return c.run_crlf(e, false);
  return c.whitespace_tail(k);
}

// o200k_base:
//   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(contraction)?
//  |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(contraction)?
//  |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
size_t match_o200k(const chars& c, size_t k) {
  const bool prefix = c.not_crlf_letter_number(k);
  // First branch: for each choice of the prefix (taken first), U* backtracks from its longest
  // run until W+ can match at least one character; W+ is then greedy.
  for (int take = prefix ? 1 : 0; take >= 0; --take) {
    const size_t j = k + static_cast<size_t>(take);
    const size_t u = c.run(j, kUpper);
    for (size_t m = u + 1; m-- > j;) {
      if (c.has(m, kLower)) return c.contraction(c.run(m, kLower), true);
    }
  }
  // Second branch: U+ then greedy W*.
  for (int take = prefix ? 1 : 0; take >= 0; --take) {
    const size_t j = k + static_cast<size_t>(take);
    const size_t u = c.run(j, kUpper);
    if (u > j) return c.contraction(c.run(u, kLower), true);
  }
  if (c.has(k, kNumber)) {
    size_t e = k;
    while (e - k < 3 && c.has(e, kNumber)) ++e;
    return e;
  }
  const size_t e = c.optional_space_run(k, [&](size_t i) { return c.other(i); });
  if (e > k) return c.run_crlf(e, true);
  return c.whitespace_tail(k);
}

}  // namespace

split_pattern parse_split_pattern(const std::string& name) {
  if (name == "gpt2" || name == "gpt-2") return split_pattern::gpt2;
  if (name == "cl100k" || name == "cl100k_base" || name == "llama-bpe" || name == "llama3")
    return split_pattern::cl100k;
  if (name == "qwen2") return split_pattern::qwen2;
  if (name == "o200k" || name == "o200k_base") return split_pattern::o200k;
  fail("unknown pre-tokenizer '", name,
       "' (afm knows gpt-2, cl100k_base, llama-bpe, qwen2, o200k_base)");
}

void split(split_pattern p, std::string_view s, std::vector<uint32_t>& ends) {
  const chars c(s);
  size_t k = 0;
  while (k < c.n) {
    size_t e = k;
    switch (p) {
      case split_pattern::gpt2:
        e = match_gpt2(c, k);
        break;
      case split_pattern::cl100k:
        e = match_cl100k(c, k, 3);
        break;
      case split_pattern::qwen2:
        e = match_cl100k(c, k, 1);
        break;
      case split_pattern::o200k:
        e = match_o200k(c, k);
        break;
    }
    if (e <= k) e = k + 1;  // no branch matched (cannot happen for these patterns): one character
    ends.push_back(c.off[e]);
    k = e;
  }
}

}  // namespace afm::text
