// The matcher: a parse is a set of heads (state, return-frame chain) over afm::grammar's rule
// automata; calls push return frames onto a shared append-only pool, completions pop them.
//
// Token masks come in two halves. token_masks caches, per state, the verdict on every token
// when the stack below the state's rule is unknown: walking the vocabulary trie from the state
// with a "frame" bottom, a token is accepted if it stays inside the rule (or ends exactly where
// the rule may end), rejected if no path survives, and uncertain if it survives only by
// returning into some caller — those are approximated by every call site of the rule, which
// keeps the uncertain set to the few tokens that plausibly continue. Each step, the matcher
// re-checks just the uncertain tokens against the real stack. That is the adaptive token-mask
// cache of xgrammar; the string slice (token_vocabulary) is llguidance's slicer.
#include "afm/grammar_matcher.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <unordered_set>

#include "afm/error.h"

namespace afm {
namespace guided {

constexpr int32_t kRoot = -1;     // below the outermost rule: popping here completes the grammar
constexpr int32_t kFrame = -2;    // cache walks: the unknown caller of the walked state's rule
constexpr int32_t kGeneric = -3;  // cache walks: some caller, after leaving the walked frame
constexpr size_t kMaxHeads = 4096;

struct head {
  int32_t state;
  int32_t parent;  // pool index of the return frame, or kRoot / kFrame / kGeneric
  bool generic;    // reached by leaving the walked frame (cache walks only)
  bool operator==(const head& o) const { return state == o.state && parent == o.parent; }
};

struct step_flags {
  bool complete = false;     // the outermost rule may end here
  bool frame_end = false;    // the walked frame may end here
  bool generic_end = false;  // some caller context may end here
};

// Grammar facts the simulation needs per state and rule.
struct grammar_facts {
  std::vector<uint8_t> has_bytes;                  // state has a byte transition
  std::vector<uint8_t> plain;                      // has bytes, no calls, not accepting
  std::vector<std::vector<int32_t>> return_sites;  // rule -> return states of its calls

  explicit grammar_facts(const grammar& g) {
    const int32_t n = g.state_count();
    has_bytes.assign(n, 0);
    plain.assign(n, 0);
    return_sites.assign(g.rule_start.size(), {});
    for (int32_t s = 0; s < n; ++s) {
      for (int32_t c = 0; c < g.class_count && !has_bytes[s]; ++c) {
        has_bytes[s] = g.next[static_cast<size_t>(s) * g.class_count + c] >= 0;
      }
      plain[s] = has_bytes[s] && !g.accepting[s] && !g.has_calls(s);
      for (int32_t i = g.call_begin[s]; i < g.call_begin[s + 1]; ++i) {
        auto& sites = return_sites[g.calls[i].rule];
        if (std::find(sites.begin(), sites.end(), g.calls[i].ret_state) == sites.end()) {
          sites.push_back(g.calls[i].ret_state);
        }
      }
    }
  }
};

// Expands heads through calls and completions; steps them over bytes.
struct simulator {
  const grammar& g;
  const grammar_facts& facts;
  std::vector<head>& pool;
  std::vector<head> work{}, visited{};
  std::unordered_set<uint64_t> visited_big{};  // the same heads, once there are many

  void begin() {
    visited.clear();
    visited_big.clear();
  }

  // Marks x as visited; false if it already was. Linear search while small (the usual case).
  bool visit(const head& x) {
    if (visited.size() < 32) {
      if (std::find(visited.begin(), visited.end(), x) != visited.end()) return false;
      visited.push_back(x);
      if (visited.size() == 32) {
        for (const head& v : visited) visited_big.insert(key(v));
      }
      return true;
    }
    if (!visited_big.insert(key(x)).second) return false;
    visited.push_back(x);
    return true;
  }
  static uint64_t key(const head& h) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(h.state)) << 32) |
           static_cast<uint32_t>(h.parent);
  }

  void add(head h, std::vector<head>& out, step_flags& f) {
    work.push_back(h);
    while (!work.empty()) {
      const head x = work.back();
      work.pop_back();
      if (!visit(x)) continue;
      if (visited.size() > kMaxHeads) {
        fail("grammar too ambiguous: more than ", kMaxHeads, " parse heads at one position");
      }
      const int32_t s = x.state;
      if (facts.has_bytes[s]) out.push_back(x);
      for (int32_t i = g.call_begin[s]; i < g.call_begin[s + 1]; ++i) {
        const grammar_call& c = g.calls[i];
        pool.push_back({c.ret_state, x.parent, x.generic});
        work.push_back({g.rule_start[c.rule], static_cast<int32_t>(pool.size()) - 1, x.generic});
      }
      if (!g.accepting[s]) continue;
      if (x.parent >= 0) {
        work.push_back(pool[x.parent]);
      } else if (x.parent == kRoot) {
        f.complete = true;
      } else {
        (x.parent == kFrame ? f.frame_end : f.generic_end) = true;
        const int32_t r = g.state_rule[s];
        if (r == g.root_rule) f.generic_end = true;
        for (int32_t ret : facts.return_sites[r]) work.push_back({ret, kGeneric, true});
      }
    }
  }

  // The heads of a fresh parse; returns whether the grammar is already complete.
  bool start(std::vector<head>& heads) {
    step_flags f;
    begin();
    add({g.rule_start[g.root_rule], kRoot, false}, heads, f);
    return f.complete;
  }

  // Steps `heads` over bytes; false if no path survives to the end of them.
  bool run(std::vector<head>& heads, bool& complete, std::string_view bytes) {
    std::vector<head> next;
    for (size_t i = 0; i < bytes.size(); ++i) {
      next.clear();
      step_flags f;
      step(heads.data(), heads.size(), static_cast<uint8_t>(bytes[i]), next, f);
      heads.swap(next);
      complete = f.complete;
      if (heads.empty()) return complete && i + 1 == bytes.size();
    }
    return true;
  }

  void step(const head* from, size_t n, uint8_t b, std::vector<head>& out, step_flags& f) {
    if (n == 1) {
      const int32_t t = g.step(from->state, b);
      if (t < 0) return;
      if (facts.plain[t]) {
        out.push_back({t, from->parent, from->generic});
        return;
      }
    }
    begin();
    for (size_t i = 0; i < n; ++i) {
      const int32_t t = g.step(from[i].state, b);
      if (t >= 0) add({t, from[i].parent, from[i].generic}, out, f);
    }
  }
};

// Per-depth parse states along a trie walk (depth 0 = before the token).
struct level_stack {
  std::vector<head> heads;
  std::vector<size_t> begin, end, pool_end;
  std::vector<step_flags> flags;
  std::vector<head> out;

  void reset(size_t max_depth) {
    heads.clear();
    begin.assign(max_depth + 2, 0);
    end.assign(max_depth + 2, 0);
    pool_end.assign(max_depth + 2, 0);
    flags.assign(max_depth + 2, {});
  }
  // Computes level d from level d - 1 over byte b; returns its head count.
  size_t advance(simulator& sim, size_t d, uint8_t b) {
    heads.resize(end[d - 1]);
    sim.pool.resize(pool_end[d - 1]);
    out.clear();
    flags[d] = {};
    sim.step(heads.data() + begin[d - 1], end[d - 1] - begin[d - 1], b, out, flags[d]);
    begin[d] = heads.size();
    heads.insert(heads.end(), out.begin(), out.end());
    end[d] = heads.size();
    pool_end[d] = sim.pool.size();
    return out.size();
  }
};

}  // namespace guided
namespace {
using namespace guided;

void set_bit(std::span<uint32_t> mask, int32_t t) {
  mask[t >> 5] |= uint32_t{1} << (t & 31);
}
bool has_bit(std::span<const uint32_t> mask, int32_t t) {
  return (mask[t >> 5] >> (t & 31)) & 1;
}

// How many plain string characters every path from `s` takes before the automaton stops
// treating them uniformly, and whether it then rejects them all (see fill()).
struct slice_verdict {
  bool usable = false;
  int32_t chars = 0;  // INT32_MAX = any number
};

// The one state every plain string character leads to from s, or -1 if they differ or die.
// `plain_path` turns false if a state passed through could call or end its rule.
int32_t uniform_successor(const grammar& g, const grammar_facts& facts, int32_t s,
                          bool& plain_path) {
  struct range {
    uint8_t lo, hi;
  };
  static const std::vector<std::vector<range>> shapes = {
      {{0xC2, 0xDF}, {0x80, 0xBF}},
      {{0xE0, 0xE0}, {0xA0, 0xBF}, {0x80, 0xBF}},
      {{0xE1, 0xEC}, {0x80, 0xBF}, {0x80, 0xBF}},
      {{0xED, 0xED}, {0x80, 0x9F}, {0x80, 0xBF}},
      {{0xEE, 0xEF}, {0x80, 0xBF}, {0x80, 0xBF}},
      {{0xF0, 0xF0}, {0x90, 0xBF}, {0x80, 0xBF}, {0x80, 0xBF}},
      {{0xF1, 0xF3}, {0x80, 0xBF}, {0x80, 0xBF}, {0x80, 0xBF}},
      {{0xF4, 0xF4}, {0x80, 0x8F}, {0x80, 0xBF}, {0x80, 0xBF}},
  };
  int32_t target = -1;
  for (int b = 0x20; b < 0x80; ++b) {
    if (b == '"' || b == '\\') continue;
    const int32_t t = g.step(s, static_cast<uint8_t>(b));
    if (t < 0 || (target >= 0 && t != target)) return -1;
    target = t;
  }
  for (const auto& shape : shapes) {
    int32_t cur = s;
    for (size_t k = 0; k < shape.size(); ++k) {
      if (k > 0 && !facts.plain[cur]) plain_path = false;
      int32_t v = -1;
      for (int b = shape[k].lo; b <= shape[k].hi; ++b) {
        const int32_t t = g.step(cur, static_cast<uint8_t>(b));
        if (t < 0 || (v >= 0 && t != v)) return -1;
        v = t;
      }
      cur = v;
    }
    if (cur != target) return -1;
  }
  return target;
}

bool takes_any_string_char(const grammar& g, int32_t s) {
  for (int b = 0x20; b < 0x100; ++b) {
    if (b == '"' || b == '\\' || b == 0x80) continue;
    if ((b > 0x80 && b < 0xC2) || b > 0xF4) continue;
    if (g.step(s, static_cast<uint8_t>(b)) >= 0) return true;
  }
  return false;
}

slice_verdict analyse_slice(const grammar& g, const grammar_facts& facts, int32_t s,
                            int32_t max_chars) {
  std::vector<int32_t> seen;
  bool plain_path = true;
  int32_t cur = s, chars = 0;
  while (true) {
    if (chars > 0 && !facts.plain[cur]) plain_path = false;
    const int32_t t = uniform_successor(g, facts, cur, plain_path);
    if (t < 0) break;
    if (std::find(seen.begin(), seen.end(), cur) != seen.end() || chars >= max_chars) {
      return {true, INT32_MAX};
    }
    seen.push_back(cur);
    ++chars;
    cur = t;
  }
  // Past `chars` characters the automaton no longer agrees on them. Only if it takes none
  // there, and no state on the way could leave the rule, are longer slice tokens all rejected.
  const bool closed =
      plain_path && !g.accepting[cur] && !g.has_calls(cur) && !takes_any_string_char(g, cur);
  if (closed) return {true, chars};
  return {};
}

}  // namespace

struct token_masks::entry {
  int32_t slice = 0;  // slice tokens with <= slice chars are accepted (INT32_MAX: all)
  std::vector<int32_t> accepted;
  std::vector<uint32_t> accepted_bits;  // used instead of `accepted` when that is large
  std::vector<int32_t> uncertain;       // first tokens of equal-byte chains, in byte order
};

struct token_masks::state_facts : guided::grammar_facts {
  using guided::grammar_facts::grammar_facts;
};

token_masks::token_masks(std::shared_ptr<const grammar> g,
                         std::shared_ptr<const token_vocabulary> v)
    : g_(std::move(g)), v_(std::move(v)) {
  if (!g_ || !v_) fail("token_masks needs a grammar and a vocabulary");
  facts_ = std::make_unique<const state_facts>(*g_);
  entries_.resize(g_->state_count());
}

token_masks::~token_masks() = default;

const token_masks::entry& token_masks::at(int32_t s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_[s]) return *entries_[s];
  const grammar& g = *g_;
  const token_vocabulary& v = *v_;
  const grammar_facts& facts = *facts_;
  auto e = std::make_unique<entry>();
  const slice_verdict sv = analyse_slice(g, facts, s, v.slice_max_chars);
  e->slice = sv.usable ? sv.chars : 0;
  const token_trie& t = sv.usable ? v.unsliced : v.all;

  std::vector<head> pool;
  simulator sim{g, facts, pool};
  level_stack lv;
  lv.reset(t.max_depth);
  sim.begin();
  sim.add({s, kFrame, false}, lv.heads, lv.flags[0]);
  lv.end[0] = lv.heads.size();
  lv.pool_end[0] = pool.size();
  const int32_t n = static_cast<int32_t>(t.byte.size());
  for (int32_t i = 0; i < n;) {
    const size_t d = t.depth[i];
    lv.advance(sim, d, t.byte[i]);
    bool frame = lv.flags[d].frame_end, generic = lv.flags[d].generic_end;
    for (size_t k = lv.begin[d]; k < lv.end[d]; ++k) (lv.heads[k].generic ? generic : frame) = true;
    if (const int32_t tok = t.token[i]; tok >= 0) {
      if (frame) {
        for (int32_t x = tok; x >= 0; x = v.same_bytes[x]) e->accepted.push_back(x);
      } else if (generic) {
        e->uncertain.push_back(tok);
      }
    }
    i = lv.end[d] == lv.begin[d] ? t.end[i] : i + 1;
  }
  if (e->accepted.size() > v.mask_words()) {
    e->accepted_bits.assign(v.mask_words(), 0);
    for (int32_t x : e->accepted) set_bit(e->accepted_bits, x);
    e->accepted.clear();
    e->accepted.shrink_to_fit();
  }
  ++filled_;
  entries_[s] = std::move(e);
  return *entries_[s];
}

struct grammar_matcher::impl {
  struct snapshot {
    std::vector<head> heads;
    bool complete = false;
    bool ended = false;
    size_t pool_size = 0;
  };
  const grammar& g;
  const token_vocabulary& v;
  const grammar_facts& facts;
  std::vector<head> pool;
  std::vector<snapshot> history;
  simulator sim;
  level_stack lv;
  std::vector<int32_t> done_states;

  impl(const grammar& gr, const token_vocabulary& voc, const grammar_facts& f)
      : g(gr), v(voc), facts(f), sim{gr, facts, pool} {
    start();
  }

  void start() {
    pool.clear();
    history.clear();
    snapshot s;
    s.complete = sim.start(s.heads);
    s.pool_size = pool.size();
    history.push_back(std::move(s));
  }

  bool accept(std::string_view bytes) {
    const snapshot& cur = history.back();
    if (cur.ended) return false;
    snapshot s;
    s.heads = cur.heads;
    s.complete = cur.complete;
    const size_t mark = pool.size();
    if (bytes.empty() || !sim.run(s.heads, s.complete, bytes)) {
      pool.resize(mark);
      return false;
    }
    s.pool_size = pool.size();
    history.push_back(std::move(s));
    return true;
  }

  // Re-checks a state's uncertain tokens against the real stack under head h.
  void check_uncertain(const head& h, const std::vector<int32_t>& tokens,
                       std::span<uint32_t> mask) {
    const size_t base = pool.size();
    lv.reset(0);
    lv.heads.push_back(h);
    lv.end[0] = 1;
    lv.pool_end[0] = base;
    std::string_view prev;
    size_t valid = 0;  // levels 0..valid are computed for prev
    for (int32_t tok : tokens) {
      if (has_bit(mask, tok)) continue;
      const std::string_view b = v.bytes[tok];
      size_t lcp = 0;
      while (lcp < prev.size() && lcp < b.size() && prev[lcp] == b[lcp]) ++lcp;
      size_t d = std::min(lcp, valid);
      if (lv.begin.size() < b.size() + 2) {
        const size_t need = b.size() + 2;
        lv.begin.resize(need, 0);
        lv.end.resize(need, 0);
        lv.pool_end.resize(need, 0);
        lv.flags.resize(need);
      }
      bool alive = d == b.size() || lv.end[d] > lv.begin[d];
      while (alive && d < b.size()) {
        ++d;
        alive = lv.advance(sim, d, static_cast<uint8_t>(b[d - 1])) > 0;
      }
      valid = d;
      prev = b;
      if (d == b.size() && (lv.end[d] > lv.begin[d] || lv.flags[d].complete)) {
        for (int32_t x = tok; x >= 0; x = v.same_bytes[x]) set_bit(mask, x);
      }
    }
    pool.resize(base);
  }
};

grammar_matcher::grammar_matcher(std::shared_ptr<const grammar> g,
                                 std::shared_ptr<const token_vocabulary> v)
    : grammar_matcher(std::make_shared<token_masks>(std::move(g), std::move(v))) {}

grammar_matcher::grammar_matcher(std::shared_ptr<token_masks> masks) : masks_(std::move(masks)) {
  if (!masks_) fail("grammar_matcher needs token masks");
  p_ = std::make_unique<impl>(masks_->grammar_ref(), masks_->vocab(), *masks_->facts_);
}

grammar_matcher::~grammar_matcher() = default;
grammar_matcher::grammar_matcher(grammar_matcher&&) noexcept = default;

void grammar_matcher::fill_next_token_mask(std::span<uint32_t> mask) {
  const token_vocabulary& v = p_->v;
  if (mask.size() < v.mask_words()) {
    fail("token mask has ", mask.size(), " words; the vocabulary needs ", v.mask_words());
  }
  std::fill(mask.begin(), mask.end(), 0u);
  const impl::snapshot& cur = p_->history.back();
  if (cur.ended) return;
  p_->done_states.clear();
  for (const head& h : cur.heads) {
    const token_masks::entry& e = masks_->at(h.state);
    if (std::find(p_->done_states.begin(), p_->done_states.end(), h.state) ==
        p_->done_states.end()) {
      p_->done_states.push_back(h.state);
      if (e.slice > 0) {
        const int k = std::min(e.slice, token_vocabulary::kSliceBuckets);
        const std::vector<uint32_t>& bits =
            e.slice >= v.slice_max_chars ? v.slice_all : v.slice_upto[k];
        for (size_t w = 0; w < bits.size(); ++w) mask[w] |= bits[w];
        if (e.slice > token_vocabulary::kSliceBuckets && e.slice < v.slice_max_chars) {
          for (int32_t t : v.slice_long) {
            if (v.slice_chars[t] > e.slice) break;
            set_bit(mask, t);
          }
        }
      }
      if (!e.accepted_bits.empty()) {
        for (size_t w = 0; w < e.accepted_bits.size(); ++w) mask[w] |= e.accepted_bits[w];
      }
      for (int32_t t : e.accepted) set_bit(mask, t);
    }
    if (!e.uncertain.empty()) p_->check_uncertain(h, e.uncertain, mask);
  }
  if (cur.complete) {
    for (int32_t t : v.eos) set_bit(mask, t);
  }
}

bool grammar_matcher::accept_token(int32_t token) {
  const token_vocabulary& v = p_->v;
  if (token < 0 || token >= v.size) return false;
  if (std::find(v.eos.begin(), v.eos.end(), token) != v.eos.end()) {
    if (!can_end()) return false;
    impl::snapshot s;
    s.ended = true;
    s.pool_size = p_->pool.size();
    p_->history.push_back(std::move(s));
    return true;
  }
  if (v.excluded[token]) return false;
  return p_->accept(v.bytes[token]);
}

bool grammar_matcher::accept_bytes(std::string_view bytes) {
  return p_->accept(bytes);
}

void grammar_matcher::rollback(size_t k) {
  if (k >= p_->history.size()) {
    fail("cannot roll back ", k, " steps: only ", p_->history.size() - 1, " were accepted");
  }
  p_->history.resize(p_->history.size() - k);
  p_->pool.resize(p_->history.back().pool_size);
}

void grammar_matcher::reset() {
  p_->start();
}
size_t grammar_matcher::steps() const {
  return p_->history.size() - 1;
}

bool grammar_matcher::can_end() const {
  const impl::snapshot& s = p_->history.back();
  return s.complete && !s.ended;
}

bool grammar_matcher::is_terminated() const {
  const impl::snapshot& s = p_->history.back();
  return s.ended || (s.complete && s.heads.empty());
}

std::string grammar_matcher::forced_continuation() const {
  const impl::snapshot& cur = p_->history.back();
  std::string out;
  if (cur.ended || cur.complete) return out;
  const size_t mark = p_->pool.size();
  std::vector<head> heads = cur.heads;
  bool complete = false;
  const grammar& g = p_->g;
  while (!complete && !heads.empty() && out.size() < 4096) {
    int only = -1;
    for (int b = 0; b < 256 && only != -2; ++b) {
      for (const head& h : heads) {
        if (g.step(h.state, static_cast<uint8_t>(b)) >= 0) {
          only = only == -1 ? b : -2;
          break;
        }
      }
    }
    if (only < 0) break;
    const char c = static_cast<char>(only);
    out += c;
    if (!p_->sim.run(heads, complete, std::string_view(&c, 1))) break;
  }
  p_->pool.resize(mark);
  return out;
}

int64_t grammar_matcher::distance_to_end() const {
  const impl::snapshot& cur = p_->history.back();
  if (cur.complete || cur.ended) return 0;
  int64_t best = INT64_MAX;
  for (const head& h : cur.heads) {
    int64_t d = p_->g.distance[h.state];
    for (int32_t p = h.parent; p >= 0; p = p_->pool[p].parent) {
      d += p_->g.distance[p_->pool[p].state];
    }
    best = std::min(best, d);
  }
  return best;
}

bool grammar_accepts(const grammar& g, std::string_view bytes) {
  grammar_facts facts(g);
  std::vector<head> pool, heads;
  simulator sim{g, facts, pool};
  bool complete = sim.start(heads);
  return sim.run(heads, complete, bytes) && complete;
}

}  // namespace afm
