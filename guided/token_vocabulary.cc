// token_vocabulary: the grammar-independent half of mask computation, built once per
// vocabulary — byte tries in preorder (walked with subtree skips) and the string-slice bitsets
// (tokens of plain string characters, bucketed by length) that string states add in bulk.
#include <algorithm>
#include <numeric>

#include "afm/error.h"
#include "afm/grammar_matcher.h"

namespace afm {
namespace {

// Code points of a whole-UTF-8 token made only of plain string characters (>= U+0020, not '"'
// or '\'), or 0 if it is not one (partial sequences, control bytes, escapes).
uint16_t slice_length(std::string_view s) {
  size_t i = 0, chars = 0;
  while (i < s.size()) {
    const auto b = static_cast<uint8_t>(s[i]);
    uint32_t cp;
    int len;
    if (b < 0x80) {
      if (b < 0x20 || b == '"' || b == '\\') return 0;
      ++i;
      ++chars;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      cp = b & 0x1F, len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      cp = b & 0x0F, len = 3;
    } else if (b >= 0xF0 && b <= 0xF4) {
      cp = b & 0x07, len = 4;
    } else {
      return 0;
    }
    if (i + len > s.size()) return 0;
    for (int k = 1; k < len; ++k) {
      const auto c = static_cast<uint8_t>(s[i + k]);
      if ((c & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (c & 0x3F);
    }
    const uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    i += len;
    ++chars;
  }
  return static_cast<uint16_t>(std::min<size_t>(chars, 65535));
}

// Builds a preorder trie over `ids`, which are sorted by bytes with duplicates removed.
token_trie build_trie(const std::vector<std::string>& bytes, const std::vector<int32_t>& ids) {
  token_trie t;
  std::vector<int32_t> path;  // node index per depth - 1
  std::string_view prev;
  auto close_to = [&](size_t depth) {
    while (path.size() > depth) {
      t.end[path.back()] = static_cast<int32_t>(t.byte.size());
      path.pop_back();
    }
  };
  for (int32_t id : ids) {
    const std::string_view b = bytes[id];
    size_t lcp = 0;
    while (lcp < prev.size() && lcp < b.size() && prev[lcp] == b[lcp]) ++lcp;
    close_to(lcp);
    for (size_t k = lcp; k < b.size(); ++k) {
      if (k + 1 > 65535) fail("token ", id, " is longer than 65535 bytes");
      path.push_back(static_cast<int32_t>(t.byte.size()));
      t.byte.push_back(static_cast<uint8_t>(b[k]));
      t.depth.push_back(static_cast<uint16_t>(k + 1));
      t.end.push_back(0);
      t.token.push_back(-1);
    }
    t.token[path.back()] = id;
    t.max_depth = std::max<int32_t>(t.max_depth, static_cast<int32_t>(b.size()));
    prev = b;
  }
  close_to(0);
  return t;
}

}  // namespace

std::shared_ptr<const token_vocabulary> token_vocabulary::build(
    std::vector<std::string> token_bytes, std::vector<int32_t> eos, std::vector<int32_t> excluded) {
  auto v = std::make_shared<token_vocabulary>();
  v->size = static_cast<int32_t>(token_bytes.size());
  v->bytes = std::move(token_bytes);
  v->excluded.assign(v->size, 0);
  for (int32_t id : excluded) {
    if (id < 0 || id >= v->size) fail("excluded token id ", id, " is outside the vocabulary");
    v->excluded[id] = 1;
  }
  for (int32_t id : eos) {
    if (id < 0 || id >= v->size)
      fail("end-of-sequence token id ", id, " is outside the vocabulary");
    v->excluded[id] = 1;
  }
  v->eos = std::move(eos);
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < v->size; ++i) {
    if (!v->excluded[i] && !v->bytes[i].empty()) ids.push_back(i);
  }
  std::stable_sort(ids.begin(), ids.end(),
                   [&](int32_t a, int32_t b) { return v->bytes[a] < v->bytes[b]; });
  v->same_bytes.assign(v->size, -1);
  std::vector<int32_t> unique;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!unique.empty() && v->bytes[unique.back()] == v->bytes[ids[i]]) {
      v->same_bytes[ids[i - 1]] = ids[i];
    } else {
      unique.push_back(ids[i]);
    }
  }
  v->slice_chars.assign(v->size, 0);
  std::vector<int32_t> unsliced;
  for (int32_t u : unique) {
    const uint16_t chars = slice_length(v->bytes[u]);
    for (int32_t t = u; t >= 0; t = v->same_bytes[t]) v->slice_chars[t] = chars;
    if (chars == 0) unsliced.push_back(u);
  }
  v->all = build_trie(v->bytes, unique);
  v->unsliced = build_trie(v->bytes, unsliced);

  const size_t words = v->mask_words();
  v->slice_upto.assign(kSliceBuckets + 1, std::vector<uint32_t>(words, 0));
  v->slice_all.assign(words, 0);
  for (int32_t id = 0; id < v->size; ++id) {
    const uint16_t chars = v->slice_chars[id];
    if (chars == 0) continue;
    const uint32_t bit = uint32_t{1} << (id & 31);
    v->slice_all[id >> 5] |= bit;
    v->slice_max_chars = std::max<int32_t>(v->slice_max_chars, chars);
    if (chars > kSliceBuckets) {
      v->slice_long.push_back(id);
      continue;
    }
    for (int k = chars; k <= kSliceBuckets; ++k) v->slice_upto[k][id >> 5] |= bit;
  }
  std::stable_sort(v->slice_long.begin(), v->slice_long.end(),
                   [&](int32_t a, int32_t b) { return v->slice_chars[a] < v->slice_chars[b]; });
  v->single_byte.fill(-1);
  for (int32_t id : unique) {
    if (v->bytes[id].size() == 1) v->single_byte[static_cast<uint8_t>(v->bytes[id][0])] = id;
  }
  return v;
}

}  // namespace afm
