// Byte-level BPE (tiktoken's algorithm): each pre-tokenized piece that is itself a token maps
// straight to it; otherwise adjacent parts are merged, lowest merge rank first (leftmost on
// ties), until no adjacent pair concatenates to a ranked token.
#include "afm/tokenizer.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <queue>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "afm/error.h"
#include "afm/gguf.h"
#include "text/base64.h"
#include "text/gpt2_bytes.h"
#include "text/pretokenizer.h"
#include "text/unicode.h"

namespace afm {

namespace {

// 64-bit hash of a short byte string: 8 bytes at a time, multiply-xorshift mixing.
inline uint64_t hash_bytes(std::string_view s) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
  }
  if (i < s.size()) {
    uint64_t w = 0;
    std::memcpy(&w, s.data() + i, s.size() - i);
    h = (h ^ w) * 0x94d049bb133111ebull;
  }
  return h ^ (h >> 31);
}

// Long pieces (a word of thousands of letters) merge through a heap over a linked list:
// O(n log n) instead of the O(n^2) rescans. Popping (rank, start) gives the lowest rank and,
// among equal ranks, the leftmost pair — the same order as the linear scan, so the same tokens.
constexpr size_t kHeapMergeBytes = 128;

template <class Data>
void merge_long_piece(const Data& d, std::string_view piece, std::vector<int32_t>& out) {
  const uint32_t n = static_cast<uint32_t>(piece.size());
  std::vector<uint32_t> next(n), prev(n);
  std::vector<int32_t> rank(n, INT32_MAX);
  std::vector<bool> alive(n, true);
  for (uint32_t i = 0; i < n; ++i) next[i] = i + 1, prev[i] = i - 1;  // prev[0] wraps: unused
  auto pair_rank = [&](uint32_t i) -> int32_t {  // rank of part i merged with its successor
    if (next[i] >= n) return INT32_MAX;
    const uint32_t end = next[next[i]] < n ? next[next[i]] : n;
    const auto* e = d.find(piece.substr(i, end - i));
    return e == nullptr || e->rank < 0 ? INT32_MAX : e->rank;
  };
  using item = std::pair<int32_t, uint32_t>;
  std::priority_queue<item, std::vector<item>, std::greater<item>> heap;
  for (uint32_t i = 0; i < n; ++i) {
    rank[i] = pair_rank(i);
    if (rank[i] != INT32_MAX) heap.push({rank[i], i});
  }
  while (!heap.empty()) {
    const auto [r, i] = heap.top();
    heap.pop();
    if (!alive[i] || rank[i] != r) continue;  // stale
    const uint32_t j = next[i];
    alive[j] = false;
    next[i] = next[j];
    if (next[j] < n) prev[next[j]] = i;
    rank[i] = pair_rank(i);
    if (rank[i] != INT32_MAX) heap.push({rank[i], i});
    if (i > 0) {
      const uint32_t p = prev[i];
      rank[p] = pair_rank(p);
      if (rank[p] != INT32_MAX) heap.push({rank[p], p});
    }
  }
  for (uint32_t i = 0; i < n; i = next[i]) {
    const std::string_view bytes = piece.substr(i, next[i] - i);
    if (const auto* e = d.find(bytes)) {
      out.push_back(e->id);
    } else {
      for (char ch : bytes) out.push_back(d.byte_token[static_cast<uint8_t>(ch)]);
    }
  }
}

}  // namespace

struct tokenizer::data {
  struct entry {
    int32_t id;
    int32_t rank;  // -1: not produced by a merge
  };
  // Token bytes -> entry, open addressing with linear probing: the node-based
  // std::unordered_map spent over half the encode time chasing bucket chains.
  struct slot {
    uint64_t hash;
    entry e;  // e.id == -1: empty
  };
  std::vector<std::string> bytes;  // id -> bytes (what decode writes)
  // SentencePiece vocabularies look pieces up by their text ("▁Hello"), not their bytes.
  bool spm = false;
  bool add_space_prefix = true;
  std::vector<std::string> pieces;  // id -> piece text (SentencePiece only)
  std::vector<float> scores;        // id -> merge score (SentencePiece only)
  const std::string& key(int32_t id) const {
    return spm ? pieces[static_cast<size_t>(id)] : bytes[static_cast<size_t>(id)];
  }
  std::vector<slot> table;  // a power of two, at most half full
  uint64_t mask = 0;
  std::vector<std::pair<std::string, int32_t>> specials;  // longest first
  uint64_t special_first_bytes[4] = {0, 0, 0, 0};         // bitset of specials' first bytes
  std::string split_name;
  text::split_pattern split = text::split_pattern::cl100k;
  int32_t byte_token[256];

  const entry* find(std::string_view s) const {
    const uint64_t h = hash_bytes(s);
    for (uint64_t i = h & mask;; i = (i + 1) & mask) {
      const slot& sl = table[i];
      if (sl.e.id < 0) return nullptr;
      if (sl.hash == h && key(sl.e.id) == s) return &sl.e;
    }
  }
  // Returns the entry already holding these bytes, or nullptr after inserting.
  const entry* insert(std::string_view s, entry e) {
    const uint64_t h = hash_bytes(s);
    for (uint64_t i = h & mask;; i = (i + 1) & mask) {
      slot& sl = table[i];
      if (sl.e.id < 0) {
        sl = {h, e};
        return nullptr;
      }
      if (sl.hash == h && key(sl.e.id) == s) return &sl.e;
    }
  }
  // Stores the special tokens longest first (so the longest match wins) with their first bytes.
  void set_specials(std::vector<std::pair<std::string, int32_t>> sp) {
    std::sort(sp.begin(), sp.end(),
              [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    for (const auto& [text, id] : sp) {
      const auto c = static_cast<uint8_t>(text[0]);
      special_first_bytes[c / 64] |= uint64_t{1} << (c % 64);
    }
    specials = std::move(sp);
  }
  void init_table(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    table.assign(cap, slot{0, {-1, -1}});
    mask = cap - 1;
  }
};

tokenizer tokenizer::build(std::vector<std::string> tokens, std::vector<int32_t> ranks,
                           const std::string& split,
                           std::vector<std::pair<std::string, int32_t>> specials) {
  auto d = std::make_shared<data>();
  d->split = text::parse_split_pattern(split);
  d->split_name = split;
  if (ranks.size() != tokens.size())
    fail("tokenizer: ", tokens.size(), " tokens but ", ranks.size(), " ranks");
  d->bytes = std::move(tokens);
  std::fill(std::begin(d->byte_token), std::end(d->byte_token), -1);
  std::vector<bool> is_special(d->bytes.size(), false);
  for (const auto& [text, id] : specials) {
    if (id < 0 || static_cast<size_t>(id) >= d->bytes.size())
      fail("tokenizer: special token '", text, "' has id ", id, " outside the vocabulary");
    if (text.empty()) fail("tokenizer: empty special token");
    is_special[static_cast<size_t>(id)] = true;
  }
  d->init_table(d->bytes.size());
  for (size_t id = 0; id < d->bytes.size(); ++id) {
    const std::string& b = d->bytes[id];
    if (b.empty() || is_special[id]) continue;
    if (const auto* dup = d->insert(b, data::entry{static_cast<int32_t>(id), ranks[id]}))
      fail("tokenizer: tokens ", dup->id, " and ", id, " have the same bytes");
    if (b.size() == 1) d->byte_token[static_cast<uint8_t>(b[0])] = static_cast<int32_t>(id);
  }
  for (int b = 0; b < 256; ++b)
    if (d->byte_token[b] < 0)
      fail("tokenizer: no token for byte ", b, " (byte-level BPE needs all 256)");
  for (const auto& [text, id] : specials)
    if (d->bytes[static_cast<size_t>(id)].empty()) d->bytes[static_cast<size_t>(id)] = text;
  d->set_specials(std::move(specials));
  return tokenizer(std::move(d));
}

tokenizer tokenizer::build_sentencepiece(std::vector<std::string> pieces, std::vector<float> scores,
                                         std::vector<int32_t> types, bool add_space_prefix) {
  auto d = std::make_shared<data>();
  d->spm = true;
  d->add_space_prefix = add_space_prefix;
  d->split_name = "sentencepiece";
  const size_t n = pieces.size();
  if (scores.size() != n || types.size() != n)
    fail("tokenizer: ", n, " pieces but ", scores.size(), " scores and ", types.size(), " types");
  std::fill(std::begin(d->byte_token), std::end(d->byte_token), -1);
  d->bytes.resize(n);
  d->init_table(n);
  std::vector<std::pair<std::string, int32_t>> specials;
  static const std::string kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's space
  for (size_t id = 0; id < n; ++id) {
    const std::string& p = pieces[id];
    const auto i = static_cast<int32_t>(id);
    if (types[id] == 6) {  // byte token <0xXX>
      unsigned v = 0;
      if (p.size() != 6 || std::sscanf(p.c_str(), "<0x%2X>", &v) != 1)
        fail("tokenizer: byte token ", id, " is '", p, "', expected <0xXX>");
      d->byte_token[v] = i;
      d->bytes[id] = std::string(1, static_cast<char>(v));
    } else if (types[id] == 3) {  // control: <s>, </s>, <unk> ...
      specials.emplace_back(p, i);
      d->bytes[id] = p;
    } else {
      std::string b;
      for (size_t k = 0; k < p.size();)
        if (p.compare(k, kSpace.size(), kSpace) == 0) {
          b += ' ';
          k += kSpace.size();
        } else {
          b += p[k++];
        }
      d->bytes[id] = std::move(b);
      if (!p.empty()) d->insert(p, data::entry{i, -1});
    }
  }
  for (int b = 0; b < 256; ++b)
    if (d->byte_token[b] < 0)
      fail("tokenizer: no byte-fallback token <0x", b, "> in the vocabulary");
  d->pieces = std::move(pieces);
  d->scores = std::move(scores);
  d->set_specials(std::move(specials));
  return tokenizer(std::move(d));
}

// SentencePiece BPE: spaces become U+2581 (and one is prefixed), the text splits into UTF-8
// characters, and adjacent symbols whose concatenation is a piece merge, highest piece score
// first (leftmost on ties). Symbols that are not pieces fall back to their byte tokens.
void tokenizer::encode_sentencepiece(std::string_view text, bool first,
                                     std::vector<int32_t>& out) const {
  const data& d = *d_;
  if (text.empty()) return;
  std::string norm = d.add_space_prefix && first ? "\xe2\x96\x81" : "";
  for (char c : text) norm += c == ' ' ? std::string("\xe2\x96\x81") : std::string(1, c);
  struct symbol {
    uint32_t start, len;
    int32_t prev, next;
  };
  std::vector<symbol> sym;
  for (uint32_t i = 0; i < norm.size();) {
    uint32_t cp;
    const auto len = static_cast<uint32_t>(text::decode_utf8(norm, i, cp));
    sym.push_back(
        {i, len, static_cast<int32_t>(sym.size()) - 1, static_cast<int32_t>(sym.size()) + 1});
    i += len;
  }
  sym.back().next = -1;
  struct bigram {
    float score;
    int32_t left;
    uint32_t len;
  };
  auto lower = [](const bigram& a, const bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<bigram, std::vector<bigram>, decltype(lower)> heap(lower);
  auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const uint32_t len = sym[static_cast<size_t>(l)].len + sym[static_cast<size_t>(r)].len;
    if (const auto* e =
            d.find(std::string_view(norm).substr(sym[static_cast<size_t>(l)].start, len)))
      heap.push({d.scores[static_cast<size_t>(e->id)], l, len});
  };
  for (size_t i = 1; i < sym.size(); ++i)
    try_add(static_cast<int32_t>(i) - 1, static_cast<int32_t>(i));
  while (!heap.empty()) {
    const bigram b = heap.top();
    heap.pop();
    symbol& l = sym[static_cast<size_t>(b.left)];
    if (l.len == 0 || l.next < 0) continue;
    symbol& r = sym[static_cast<size_t>(l.next)];
    if (l.len + r.len != b.len) continue;  // stale: one side changed since
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[static_cast<size_t>(r.next)].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }
  for (int32_t i = 0; i >= 0; i = sym[static_cast<size_t>(i)].next) {
    const std::string_view piece = std::string_view(norm).substr(sym[static_cast<size_t>(i)].start,
                                                                 sym[static_cast<size_t>(i)].len);
    if (const auto* e = d.find(piece)) {
      out.push_back(e->id);
    } else {
      for (char c : piece) out.push_back(d.byte_token[static_cast<uint8_t>(c)]);
    }
  }
}

size_t tokenizer::vocab_size() const {
  return d_->bytes.size();
}
const std::vector<std::pair<std::string, int32_t>>& tokenizer::specials() const {
  return d_->specials;
}
const std::string& tokenizer::split_name() const {
  return d_->split_name;
}

int32_t tokenizer::special_id(std::string_view text) const {
  for (const auto& [t, id] : d_->specials)
    if (t == text) return id;
  return -1;
}

std::string_view tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= d_->bytes.size())
    fail("token id ", id, " is outside the vocabulary [0, ", d_->bytes.size(), ")");
  return d_->bytes[static_cast<size_t>(id)];
}

std::string tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) out += token_bytes(id);
  // SentencePiece prefixed a space when encoding; a whole sequence decodes without it.
  if (d_->spm && d_->add_space_prefix && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

std::vector<int32_t> tokenizer::encode(std::string_view text, special_tokens special) const {
  std::vector<int32_t> out;
  encode(text, special, out);
  return out;
}

void tokenizer::encode(std::string_view text, special_tokens special,
                       std::vector<int32_t>& out) const {
  if (special == special_tokens::as_text || d_->specials.empty())
    return encode_ordinary(text, true, out);
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<uint8_t>(text[i]);
    if (!(d_->special_first_bytes[c / 64] >> (c % 64) & 1)) continue;
    for (const auto& [t, id] : d_->specials) {  // longest first
      if (text.compare(i, t.size(), t) == 0) {
        encode_ordinary(text.substr(start, i - start), start == 0, out);
        out.push_back(id);
        start = i + t.size();
        i = start - 1;
        break;
      }
    }
  }
  encode_ordinary(text.substr(start), start == 0, out);
}

void tokenizer::encode_ordinary(std::string_view text, bool first,
                                std::vector<int32_t>& out) const {
  if (d_->spm) return encode_sentencepiece(text, first, out);
  std::vector<uint32_t> ends;
  text::split(d_->split, text, ends);
  uint32_t begin = 0;
  for (uint32_t end : ends) {
    encode_piece(text.substr(begin, end - begin), out);
    begin = end;
  }
}

void tokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  const data& d = *d_;
  if (const auto* e = d.find(piece)) {
    out.push_back(e->id);
    return;
  }
  if (piece.size() == 1) {
    out.push_back(d_->byte_token[static_cast<uint8_t>(piece[0])]);
    return;
  }
  if (piece.size() > kHeapMergeBytes) return merge_long_piece(d, piece, out);
  // parts[i] = (start of part i, rank of merging part i with part i + 1).
  struct part {
    uint32_t start;
    int32_t rank;
  };
  static thread_local std::vector<part> parts;
  parts.clear();
  const auto rank_of = [&](size_t i) -> int32_t {  // rank of parts i and i + 1 merged
    if (i + 2 >= parts.size()) return INT32_MAX;
    const auto* e = d.find(piece.substr(parts[i].start, parts[i + 2].start - parts[i].start));
    return e == nullptr || e->rank < 0 ? INT32_MAX : e->rank;
  };
  for (uint32_t i = 0; i <= piece.size(); ++i) parts.push_back({i, INT32_MAX});
  for (size_t i = 0; i + 2 < parts.size(); ++i) parts[i].rank = rank_of(i);
  while (parts.size() > 2) {
    size_t best = 0;
    int32_t best_rank = INT32_MAX;
    for (size_t i = 0; i + 1 < parts.size(); ++i)
      if (parts[i].rank < best_rank) best_rank = parts[i].rank, best = i;
    if (best_rank == INT32_MAX) break;
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    parts[best].rank = rank_of(best);
    if (best > 0) parts[best - 1].rank = rank_of(best - 1);
  }
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::string_view bytes =
        piece.substr(parts[i].start, parts[i + 1].start - parts[i].start);
    if (const auto* e = d.find(bytes)) {
      out.push_back(e->id);
    } else {  // cannot happen with a complete byte-level vocabulary; keep every byte anyway
      for (char ch : bytes) out.push_back(d_->byte_token[static_cast<uint8_t>(ch)]);
    }
  }
}

void tokenizer::save(const std::string& path) const {
  nlohmann::json j;
  j["format"] = "afm-bpe-vocab";
  j["version"] = 1;
  j["split"] = d_->split_name;
  std::vector<int32_t> ranks(d_->bytes.size(), -1);
  for (const auto& sl : d_->table)
    if (sl.e.id >= 0) ranks[static_cast<size_t>(sl.e.id)] = sl.e.rank;
  auto& tokens = j["tokens"] = nlohmann::json::array();
  for (const auto& b : d_->bytes) tokens.push_back(text::base64_encode(b));
  j["ranks"] = ranks;
  auto& sp = j["specials"] = nlohmann::json::object();
  for (const auto& [t, id] : d_->specials) sp[t] = id;
  std::ofstream out(path);
  if (!out) fail(path, ": cannot create");
  out << j.dump() << "\n";
  if (!out) fail(path, ": write failed");
}

void tokenizer::write_gguf(gguf_writer& w) const {
  const data& d = *d_;
  if (d.spm) {  // SentencePiece: pieces, scores and types, as llama.cpp's "llama" model
    std::vector<gguf_value> pieces, scores, types;
    std::vector<int32_t> type(d.pieces.size(), 1);
    for (int b = 0; b < 256; ++b) type[static_cast<size_t>(d.byte_token[b])] = 6;
    for (const auto& [t, id] : d.specials) type[static_cast<size_t>(id)] = 3;
    for (size_t id = 0; id < d.pieces.size(); ++id) {
      pieces.push_back(gguf_value::str(d.pieces[id]));
      scores.push_back(gguf_value::f32(d.scores[id]));
      types.push_back(gguf_value::i32(type[id]));
    }
    w.set("tokenizer.ggml.model", gguf_value::str("llama"));
    w.set("tokenizer.ggml.tokens", gguf_value::array(gguf_type::string, std::move(pieces)));
    w.set("tokenizer.ggml.scores", gguf_value::array(gguf_type::f32, std::move(scores)));
    w.set("tokenizer.ggml.token_type", gguf_value::array(gguf_type::i32, std::move(types)));
    w.set("tokenizer.ggml.add_space_prefix", gguf_value::boolean(d.add_space_prefix));
    return;
  }
  // llama.cpp's name for each split_pattern, in enum order.
  static const char* const kPre[] = {"gpt-2", "llama-bpe", "qwen2", "gpt-4o"};
  const std::string pre = kPre[static_cast<size_t>(d.split)];
  std::vector<int32_t> rank(d.bytes.size(), -1);
  for (const auto& sl : d.table)
    if (sl.e.id >= 0) rank[static_cast<size_t>(sl.e.id)] = sl.e.rank;
  std::vector<gguf_value> tokens, types, merges;
  std::vector<bool> special(d.bytes.size(), false);
  for (const auto& [t, id] : d.specials) special[static_cast<size_t>(id)] = true;
  for (size_t id = 0; id < d.bytes.size(); ++id) {
    tokens.push_back(gguf_value::str(special[id] ? d.bytes[id] : text::gpt2_spelling(d.bytes[id])));
    types.push_back(gguf_value::i32(special[id] ? 3 : 1));
  }
  // Each ranked token's merge: BPE over its own bytes with only lower ranks leaves two parts.
  std::vector<std::pair<int32_t, int32_t>> by_rank;
  for (size_t id = 0; id < rank.size(); ++id)
    if (rank[id] >= 0 && d.bytes[id].size() > 1)
      by_rank.push_back({rank[id], static_cast<int32_t>(id)});
  std::sort(by_rank.begin(), by_rank.end());
  for (const auto& entry : by_rank) {
    const int32_t r = entry.first, id = entry.second;  // plain locals: lambdas capture them
    const std::string& t = d.bytes[static_cast<size_t>(id)];
    std::vector<uint32_t> starts;
    for (uint32_t i = 0; i <= t.size(); ++i) starts.push_back(i);
    auto part_rank = [&](size_t i) {
      const auto* e = d.find(std::string_view(t).substr(starts[i], starts[i + 2] - starts[i]));
      return e && e->rank >= 0 && e->rank < r ? e->rank : INT32_MAX;
    };
    while (starts.size() > 3) {
      size_t best = 0;
      int32_t best_rank = INT32_MAX;
      for (size_t i = 0; i + 2 < starts.size(); ++i)
        if (const int32_t pr = part_rank(i); pr < best_rank) best_rank = pr, best = i;
      if (best_rank == INT32_MAX) break;
      starts.erase(starts.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    }
    if (starts.size() != 3)
      fail("tokenizer: token ", id, " is not the merge of two lower-ranked tokens");
    merges.push_back(gguf_value::str(text::gpt2_spelling(std::string_view(t).substr(0, starts[1])) +
                                     " " +
                                     text::gpt2_spelling(std::string_view(t).substr(starts[1]))));
  }
  w.set("tokenizer.ggml.model", gguf_value::str("gpt2"));
  w.set("tokenizer.ggml.pre", gguf_value::str(pre));
  w.set("tokenizer.ggml.tokens", gguf_value::array(gguf_type::string, std::move(tokens)));
  w.set("tokenizer.ggml.token_type", gguf_value::array(gguf_type::i32, std::move(types)));
  w.set("tokenizer.ggml.merges", gguf_value::array(gguf_type::string, std::move(merges)));
}

}  // namespace afm
