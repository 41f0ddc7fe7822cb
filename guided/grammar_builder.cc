// Expression trees to afm::grammar. Each rule becomes a Thompson NFA whose edges are byte sets,
// rule calls or epsilon; subset construction over byte equivalence classes plus call symbols
// makes it deterministic. Then: states that cannot reach acceptance are trimmed, rules that
// match nothing are dropped from calls, left recursion is rejected (the matcher expands calls
// top-down), and each state's distance to the end of its rule is computed for samplers.
#include "grammar_builder.h"

#include <algorithm>
#include <functional>
#include <map>

#include "afm/error.h"

namespace afm::guided {

code_ranges normalize(code_ranges r) {
  std::sort(r.begin(), r.end());
  code_ranges out;
  for (auto [lo, hi] : r) {
    if (lo > hi) continue;
    if (!out.empty() && lo <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, hi);
    } else {
      out.emplace_back(lo, hi);
    }
  }
  return out;
}

code_ranges complement(const code_ranges& r) {
  code_ranges out;
  uint32_t next = 0;
  for (auto [lo, hi] : normalize(r)) {
    if (lo > next) out.emplace_back(next, lo - 1);
    next = hi + 1;
  }
  if (next <= max_code_point) out.emplace_back(next, max_code_point);
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

namespace {

// Splits [lo, hi] (same UTF-8 length after the first split, no surrogates) until each piece is
// a product of per-byte ranges, and reports each piece's byte ranges.
void utf8_pieces(uint32_t lo, uint32_t hi,
                 const std::function<void(const std::string&, const std::string&)>& emit) {
  for (uint32_t limit : {0x7Fu, 0x7FFu, 0xFFFFu}) {
    if (lo <= limit && hi > limit) {
      utf8_pieces(lo, limit, emit);
      utf8_pieces(limit + 1, hi, emit);
      return;
    }
  }
  const int len = lo < 0x80 ? 1 : lo < 0x800 ? 2 : lo < 0x10000 ? 3 : 4;
  for (int i = 1; i < len; ++i) {
    const uint32_t m = (1u << (6 * i)) - 1;
    if ((lo & ~m) == (hi & ~m)) continue;
    if ((lo & m) != 0) {
      utf8_pieces(lo, lo | m, emit);
      utf8_pieces((lo | m) + 1, hi, emit);
      return;
    }
    if ((hi & m) != m) {
      utf8_pieces(lo, (hi & ~m) - 1, emit);
      utf8_pieces(hi & ~m, hi, emit);
      return;
    }
  }
  std::string a, b;
  append_utf8(a, lo);
  append_utf8(b, hi);
  emit(a, b);
}

constexpr int32_t kMaxNfaStates = 1'000'000;
constexpr int32_t kMaxDfaStates = 100'000;

enum class edge_kind : uint8_t { eps, bytes, call };
struct nfa_edge {
  edge_kind kind;
  int32_t label;
  int32_t to;
};

struct nfa {
  std::vector<std::vector<nfa_edge>> out;
  int32_t add() {
    if (static_cast<int32_t>(out.size()) >= kMaxNfaStates) {
      fail("grammar too large: more than ", kMaxNfaStates,
           " automaton states (bounded repetitions "
           "such as maxLength or maxItems multiply states; lower them)");
    }
    out.emplace_back();
    return static_cast<int32_t>(out.size()) - 1;
  }
  void edge(int32_t from, edge_kind k, int32_t label, int32_t to) {
    out[from].push_back({k, label, to});
  }
};

// Adds paths from `from` to `to` that spell node `id`; internal states are fresh, and no edge is
// added out of `to` or into `from`, so fragments compose.
void emit(const grammar_builder& g, nfa& a, int32_t id, int32_t from, int32_t to) {
  const node& n = g.nodes[id];
  switch (n.kind) {
    case node_kind::empty:
      a.edge(from, edge_kind::eps, 0, to);
      return;
    case node_kind::nothing:
      return;
    case node_kind::bytes:
      a.edge(from, edge_kind::bytes, n.set, to);
      return;
    case node_kind::call:
      a.edge(from, edge_kind::call, n.rule, to);
      return;
    case node_kind::seq: {
      int32_t cur = from;
      for (size_t i = 0; i < n.kids.size(); ++i) {
        const int32_t nxt = i + 1 == n.kids.size() ? to : a.add();
        emit(g, a, n.kids[i], cur, nxt);
        cur = nxt;
      }
      if (n.kids.empty()) a.edge(from, edge_kind::eps, 0, to);
      return;
    }
    case node_kind::alt:
      for (int32_t k : n.kids) emit(g, a, k, from, to);
      return;
    case node_kind::repeat: {
      int32_t cur = from;
      for (int32_t i = 0; i < n.min; ++i) {
        const int32_t nxt = a.add();
        emit(g, a, n.kids[0], cur, nxt);
        cur = nxt;
      }
      if (n.max < 0) {
        const int32_t loop = a.add(), back = a.add();
        a.edge(cur, edge_kind::eps, 0, loop);
        emit(g, a, n.kids[0], loop, back);
        a.edge(back, edge_kind::eps, 0, loop);
        a.edge(loop, edge_kind::eps, 0, to);
        return;
      }
      for (int32_t i = n.min; i < n.max; ++i) {
        const int32_t nxt = a.add();
        a.edge(cur, edge_kind::eps, 0, to);
        emit(g, a, n.kids[0], cur, nxt);
        cur = nxt;
      }
      a.edge(cur, edge_kind::eps, 0, to);
      return;
    }
    case node_kind::sep_list: {
      // A[i]: nothing emitted yet; B[i]: something emitted (a separator comes first); X[i]:
      // item i starts. Each item is emitted once.
      const size_t k = n.kids.size();
      std::vector<int32_t> A(k + 1), B(k + 1), X(k);
      A[0] = from;
      for (size_t i = 0; i <= k; ++i) {
        if (i > 0) A[i] = a.add();
        B[i] = a.add();
        if (i < k) X[i] = a.add();
      }
      for (size_t i = 0; i < k; ++i) {
        a.edge(A[i], edge_kind::eps, 0, X[i]);
        emit(g, a, n.sep, B[i], X[i]);
        if (n.items[i] == item_kind::repeated) {
          emit(g, a, n.kids[i], X[i], B[i]);
        } else {
          emit(g, a, n.kids[i], X[i], B[i + 1]);
        }
        if (n.items[i] != item_kind::required) {
          a.edge(A[i], edge_kind::eps, 0, A[i + 1]);
          a.edge(B[i], edge_kind::eps, 0, B[i + 1]);
        }
      }
      a.edge(A[k], edge_kind::eps, 0, to);
      a.edge(B[k], edge_kind::eps, 0, to);
      return;
    }
  }
}

// Rules reachable from root through call nodes.
std::vector<int32_t> reachable_rules(const grammar_builder& g, int32_t root) {
  std::vector<uint8_t> seen_rule(g.rule_body.size(), 0), seen_node(g.nodes.size(), 0);
  std::vector<int32_t> order{root}, stack;
  seen_rule[root] = 1;
  for (size_t i = 0; i < order.size(); ++i) {
    const int32_t r = order[i];
    if (g.rule_body[r] < 0) fail("grammar rule '", g.rule_names[r], "' is used but not defined");
    stack.push_back(g.rule_body[r]);
    while (!stack.empty()) {
      const int32_t id = stack.back();
      stack.pop_back();
      if (seen_node[id]) continue;
      seen_node[id] = 1;
      const node& n = g.nodes[id];
      if (n.kind == node_kind::call && !seen_rule[n.rule]) {
        seen_rule[n.rule] = 1;
        order.push_back(n.rule);
      }
      for (int32_t k : n.kids) stack.push_back(k);
      if (n.sep >= 0) stack.push_back(n.sep);
    }
  }
  return order;
}

struct dfa_builder {
  const grammar_builder& g;
  grammar& out;
  std::vector<std::vector<uint8_t>> set_has_class;  // set -> class -> member
  std::vector<std::vector<grammar_call>> calls;     // per state, before flattening

  std::vector<uint32_t> seen{};  // NFA state -> stamp of the closure that last reached it
  uint32_t stamp = 0;

  std::vector<int32_t> closure(const nfa& a, std::vector<int32_t> seeds) {
    if (seen.size() < a.out.size()) seen.assign(a.out.size(), 0);
    ++stamp;
    std::vector<int32_t> result;
    std::vector<int32_t>& stack = seeds;
    while (!stack.empty()) {
      const int32_t s = stack.back();
      stack.pop_back();
      if (seen[s] == stamp) continue;
      seen[s] = stamp;
      result.push_back(s);
      for (const nfa_edge& e : a.out[s]) {
        if (e.kind == edge_kind::eps) stack.push_back(e.to);
      }
    }
    std::sort(result.begin(), result.end());
    return result;
  }

  void compile_rule(int32_t rule) {
    nfa a;
    seen.clear();
    const int32_t start = a.add(), end = a.add();
    emit(g, a, g.rule_body[rule], start, end);
    std::map<std::vector<int32_t>, int32_t> ids;
    std::vector<std::vector<int32_t>> sets;
    auto id_of = [&](std::vector<int32_t> s) -> int32_t {
      auto [it, fresh] = ids.emplace(s, out.state_count());
      if (fresh) {
        if (out.state_count() >= kMaxDfaStates) {
          fail("grammar too large: more than ", kMaxDfaStates, " states in rule '",
               g.rule_names[rule], "'");
        }
        sets.push_back(std::move(s));
        out.accepting.push_back(0);
        out.state_rule.push_back(rule);
        out.next.resize(out.next.size() + out.class_count, -1);
        calls.emplace_back();
      }
      return it->second;
    };
    const int32_t first = out.state_count();
    out.rule_start[rule] = id_of(closure(a, {start}));
    std::vector<std::vector<int32_t>> bucket(out.class_count);
    for (int32_t d = first; d < out.state_count(); ++d) {
      const std::vector<int32_t> cur = sets[d - first];
      std::map<int32_t, std::vector<int32_t>> call_targets;
      for (auto& b : bucket) b.clear();
      for (int32_t s : cur) {
        if (s == end) out.accepting[d] = 1;
        for (const nfa_edge& e : a.out[s]) {
          if (e.kind == edge_kind::bytes) {
            for (int32_t c = 0; c < out.class_count; ++c) {
              if (set_has_class[e.label][c]) bucket[c].push_back(e.to);
            }
          } else if (e.kind == edge_kind::call) {
            call_targets[e.label].push_back(e.to);
          }
        }
      }
      for (int32_t c = 0; c < out.class_count; ++c) {
        if (bucket[c].empty()) continue;
        const int32_t t = id_of(closure(a, bucket[c]));
        out.next[static_cast<size_t>(d) * out.class_count + c] = t;
      }
      for (auto& [callee, targets] : call_targets) {
        const int32_t t = id_of(closure(a, targets));
        calls[d].push_back({callee, t});
      }
    }
  }
};

// Fewest bytes from each state to the end of its rule (calls cost their rule's minimum).
void compute_distances(grammar& g) {
  constexpr int64_t inf = INT64_MAX / 4;
  const int32_t n = g.state_count();
  g.distance.assign(n, inf);
  g.rule_min_length.assign(g.rule_start.size(), inf);
  for (bool changed = true; changed;) {
    changed = false;
    for (int32_t s = n - 1; s >= 0; --s) {
      int64_t best = g.accepting[s] ? 0 : inf;
      for (int32_t c = 0; c < g.class_count; ++c) {
        const int32_t t = g.next[static_cast<size_t>(s) * g.class_count + c];
        if (t >= 0) best = std::min(best, 1 + g.distance[t]);
      }
      for (int32_t i = g.call_begin[s]; i < g.call_begin[s + 1]; ++i) {
        const grammar_call& c = g.calls[i];
        best = std::min(best, g.rule_min_length[c.rule] + g.distance[c.ret_state]);
      }
      if (best < g.distance[s]) {
        g.distance[s] = best;
        const int32_t r = g.state_rule[s];
        if (g.rule_start[r] == s) g.rule_min_length[r] = best;
        changed = true;
      }
    }
  }
}

}  // namespace

int32_t grammar_builder::empty() {
  nodes.push_back({});
  return static_cast<int32_t>(nodes.size()) - 1;
}
int32_t grammar_builder::nothing() {
  node n;
  n.kind = node_kind::nothing;
  nodes.push_back(std::move(n));
  return static_cast<int32_t>(nodes.size()) - 1;
}
int32_t grammar_builder::bytes(const byte_set& s) {
  if (s.empty()) return nothing();
  sets.push_back(s);
  node n;
  n.kind = node_kind::bytes;
  n.set = static_cast<int32_t>(sets.size()) - 1;
  nodes.push_back(std::move(n));
  return static_cast<int32_t>(nodes.size()) - 1;
}
int32_t grammar_builder::byte_range(uint8_t lo, uint8_t hi) {
  byte_set s;
  s.add_range(lo, hi);
  return bytes(s);
}
int32_t grammar_builder::literal(std::string_view s) {
  std::vector<int32_t> kids;
  for (char c : s) kids.push_back(byte_range(static_cast<uint8_t>(c), static_cast<uint8_t>(c)));
  return seq(std::move(kids));
}
int32_t grammar_builder::one_of(std::string_view chars) {
  byte_set s;
  for (char c : chars) s.add(static_cast<uint8_t>(c));
  return bytes(s);
}
int32_t grammar_builder::seq(std::vector<int32_t> kids) {
  if (kids.size() == 1) return kids[0];
  node n;
  n.kind = node_kind::seq;
  n.kids = std::move(kids);
  nodes.push_back(std::move(n));
  return static_cast<int32_t>(nodes.size()) - 1;
}
int32_t grammar_builder::alt(std::vector<int32_t> kids) {
  if (kids.size() == 1) return kids[0];
  if (kids.empty()) return nothing();
  node n;
  n.kind = node_kind::alt;
  n.kids = std::move(kids);
  nodes.push_back(std::move(n));
  return static_cast<int32_t>(nodes.size()) - 1;
}
int32_t grammar_builder::repeat(int32_t kid, int32_t min, int32_t max) {
  if (min < 0 || (max >= 0 && max < min)) fail("bad repetition bounds {", min, ",", max, "}");
  if (min == 1 && max == 1) return kid;
  // (x*)? (x*)* (x+)* (x*)+ ... collapse: nested unbounded loops only add epsilon cycles.
  const node& k = nodes[kid];
  if (k.kind == node_kind::repeat && k.max < 0 && k.min <= 1 &&
      (max < 0 || (min <= 1 && max >= 1))) {
    return repeat(k.kids[0], k.min * min, -1);
  }
  node n;
  n.kind = node_kind::repeat;
  n.min = min;
  n.max = max;
  n.kids = {kid};
  nodes.push_back(std::move(n));
  return static_cast<int32_t>(nodes.size()) - 1;
}
int32_t grammar_builder::call(int32_t rule) {
  node n;
  n.kind = node_kind::call;
  n.rule = rule;
  nodes.push_back(std::move(n));
  return static_cast<int32_t>(nodes.size()) - 1;
}
int32_t grammar_builder::sep_list(int32_t sep, std::vector<std::pair<int32_t, item_kind>> items) {
  node n;
  n.kind = node_kind::sep_list;
  n.sep = sep;
  for (auto& [k, kind] : items) {
    n.kids.push_back(k);
    n.items.push_back(kind);
  }
  nodes.push_back(std::move(n));
  return static_cast<int32_t>(nodes.size()) - 1;
}
int32_t grammar_builder::code_points(const code_ranges& set) {
  // Surrogates are not scalar values and cannot appear in valid UTF-8.
  code_ranges clean;
  for (auto [lo, hi] : normalize(set)) {
    if (hi > max_code_point) hi = max_code_point;
    if (lo > hi) continue;
    if (lo < 0xD800 && hi >= 0xD800) clean.emplace_back(lo, 0xD7FF);
    if (hi > 0xDFFF && lo <= 0xDFFF) clean.emplace_back(0xE000, hi);
    if (hi < 0xD800 || lo > 0xDFFF) clean.emplace_back(lo, hi);
  }
  std::vector<int32_t> alts;
  for (auto [lo, hi] : clean) {
    utf8_pieces(lo, hi, [&](const std::string& a, const std::string& b) {
      std::vector<int32_t> kids;
      for (size_t i = 0; i < a.size(); ++i) {
        kids.push_back(byte_range(static_cast<uint8_t>(a[i]), static_cast<uint8_t>(b[i])));
      }
      alts.push_back(seq(std::move(kids)));
    });
  }
  return alt(std::move(alts));
}
int32_t grammar_builder::add_rule(std::string name) {
  rule_names.push_back(std::move(name));
  rule_body.push_back(-1);
  return static_cast<int32_t>(rule_names.size()) - 1;
}

std::shared_ptr<const grammar> grammar_builder::build(int32_t root) const {
  auto out = std::make_shared<grammar>();
  out->root_rule = root;
  out->rule_names = rule_names;
  out->warnings = warnings;
  out->rule_start.assign(rule_names.size(), -1);
  const std::vector<int32_t> rules = reachable_rules(*this, root);

  // Byte equivalence classes: bytes no set tells apart share a class.
  std::array<int32_t, 256> cls{};
  int32_t count = 1;
  for (const byte_set& s : sets) {
    std::vector<int32_t> remap(static_cast<size_t>(count) * 2, -1);
    int32_t fresh = 0;
    for (int b = 0; b < 256; ++b) {
      int32_t& slot = remap[static_cast<size_t>(cls[b]) * 2 + s.has(static_cast<uint8_t>(b))];
      if (slot < 0) slot = fresh++;
      cls[b] = slot;
    }
    count = fresh;
  }
  for (int b = 0; b < 256; ++b) out->byte_class[b] = static_cast<uint8_t>(cls[b]);
  out->class_count = count;

  dfa_builder d{*this, *out, {}, {}};
  d.set_has_class.assign(sets.size(), std::vector<uint8_t>(count, 0));
  for (size_t i = 0; i < sets.size(); ++i) {
    for (int b = 0; b < 256; ++b) {
      if (sets[i].has(static_cast<uint8_t>(b))) d.set_has_class[i][cls[b]] = 1;
    }
  }
  for (int32_t r : rules) d.compile_rule(r);
  const int32_t n = out->state_count();

  // Trim: a state is live if it can reach its rule's end; a call is usable only into a rule
  // that can complete and back to a live state.
  std::vector<uint8_t> live(n, 0);
  std::vector<std::vector<int32_t>> waiters(n);
  for (int32_t s = 0; s < n; ++s) {
    for (int32_t c = 0; c < count; ++c) {
      const int32_t t = out->next[static_cast<size_t>(s) * count + c];
      if (t >= 0) waiters[t].push_back(s);
    }
    for (const grammar_call& c : d.calls[s]) {
      waiters[c.ret_state].push_back(s);
      waiters[out->rule_start[c.rule]].push_back(s);
    }
  }
  std::vector<int32_t> work;
  for (int32_t s = 0; s < n; ++s) {
    if (out->accepting[s]) {
      live[s] = 1;
      work.push_back(s);
    }
  }
  auto is_live = [&](int32_t s) {
    for (int32_t c = 0; c < count; ++c) {
      const int32_t t = out->next[static_cast<size_t>(s) * count + c];
      if (t >= 0 && live[t]) return true;
    }
    for (const grammar_call& c : d.calls[s]) {
      if (live[c.ret_state] && live[out->rule_start[c.rule]]) return true;
    }
    return false;
  };
  while (!work.empty()) {
    const int32_t t = work.back();
    work.pop_back();
    for (int32_t s : waiters[t]) {
      if (!live[s] && is_live(s)) {
        live[s] = 1;
        work.push_back(s);
      }
    }
  }
  if (!live[out->rule_start[root]]) {
    fail("the grammar matches nothing (rule '", rule_names[root], "' cannot complete)");
  }
  out->call_begin.assign(n + 1, 0);
  for (int32_t s = 0; s < n; ++s) {
    for (int32_t c = 0; c < count; ++c) {
      int32_t& t = out->next[static_cast<size_t>(s) * count + c];
      if (t >= 0 && !live[t]) t = -1;
    }
    out->call_begin[s] = static_cast<int32_t>(out->calls.size());
    for (const grammar_call& c : d.calls[s]) {
      if (live[c.ret_state] && live[out->rule_start[c.rule]]) out->calls.push_back(c);
    }
  }
  out->call_begin[n] = static_cast<int32_t>(out->calls.size());

  // Left recursion: a rule that can call itself before consuming a byte would make top-down
  // expansion endless.
  std::vector<uint8_t> nullable_state(n, 0), nullable_rule(rule_names.size(), 0);
  for (bool changed = true; changed;) {
    changed = false;
    for (int32_t s = n - 1; s >= 0; --s) {
      if (nullable_state[s]) continue;
      bool v = out->accepting[s];
      for (int32_t i = out->call_begin[s]; i < out->call_begin[s + 1] && !v; ++i) {
        v = nullable_rule[out->calls[i].rule] && nullable_state[out->calls[i].ret_state];
      }
      if (v) {
        nullable_state[s] = 1;
        const int32_t r = out->state_rule[s];
        if (out->rule_start[r] == s) nullable_rule[r] = 1;
        changed = true;
      }
    }
  }
  std::vector<std::vector<int32_t>> left(rule_names.size());
  for (int32_t r : rules) {
    std::vector<int32_t> states{out->rule_start[r]};
    for (size_t i = 0; i < states.size(); ++i) {
      const int32_t s = states[i];
      for (int32_t k = out->call_begin[s]; k < out->call_begin[s + 1]; ++k) {
        const grammar_call& c = out->calls[k];
        left[r].push_back(c.rule);
        if (nullable_rule[c.rule] &&
            std::find(states.begin(), states.end(), c.ret_state) == states.end()) {
          states.push_back(c.ret_state);
        }
      }
    }
  }
  std::vector<uint8_t> mark(rule_names.size(), 0);  // 1 = on the path, 2 = done
  std::function<void(int32_t)> visit = [&](int32_t r) {
    mark[r] = 1;
    for (int32_t q : left[r]) {
      if (mark[q] == 1) {
        fail("left recursion through grammar rule '", rule_names[q],
             "': it can reach itself before matching a byte");
      }
      if (mark[q] == 0) visit(q);
    }
    mark[r] = 2;
  };
  for (int32_t r : rules) {
    if (mark[r] == 0) visit(r);
  }
  compute_distances(*out);
  return out;
}

}  // namespace afm::guided
