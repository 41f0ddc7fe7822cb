// The front ends' common intermediate form: an expression tree per rule over byte sets, which
// grammar_builder.cc compiles into afm::grammar (Thompson NFA per rule, then subset
// construction, trimming, and a left-recursion check). Unicode code point sets are lowered to
// UTF-8 byte sequences here too, so front ends speak code points.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "afm/grammar.h"

namespace afm::guided {

struct byte_set {
  uint64_t bits[4] = {0, 0, 0, 0};
  void add(uint8_t b) { bits[b >> 6] |= uint64_t{1} << (b & 63); }
  void add_range(uint8_t lo, uint8_t hi) {
    for (int b = lo; b <= hi; ++b) add(static_cast<uint8_t>(b));
  }
  bool has(uint8_t b) const { return (bits[b >> 6] >> (b & 63)) & 1; }
  bool empty() const { return (bits[0] | bits[1] | bits[2] | bits[3]) == 0; }
};

// Sorted, disjoint, inclusive code point ranges.
using code_ranges = std::vector<std::pair<uint32_t, uint32_t>>;
code_ranges normalize(code_ranges r);
code_ranges complement(const code_ranges& r);  // within U+0000..U+10FFFF
inline constexpr uint32_t max_code_point = 0x10FFFF;

enum class node_kind : uint8_t {
  empty,     // matches the empty string
  nothing,   // matches nothing
  bytes,     // one byte from set `set`
  seq,       // kids in order
  alt,       // any one kid
  repeat,    // kid[0] between min and max times (max -1 = unbounded)
  call,      // rule `rule`
  sep_list,  // kids in order, each required/optional/repeated, `sep` between present ones
};

enum class item_kind : uint8_t { required, optional, repeated };

struct node {
  node_kind kind = node_kind::empty;
  int32_t set = -1;
  int32_t rule = -1;
  int32_t min = 0, max = 0;
  int32_t sep = -1;
  std::vector<int32_t> kids;
  std::vector<item_kind> items;  // sep_list only
};

struct grammar_builder {
  std::vector<node> nodes;
  std::vector<byte_set> sets;
  std::vector<std::string> rule_names;
  std::vector<int32_t> rule_body;  // -1 until defined
  std::vector<std::string> warnings;

  int32_t empty();
  int32_t nothing();
  int32_t bytes(const byte_set& s);
  int32_t byte_range(uint8_t lo, uint8_t hi);
  int32_t literal(std::string_view s);
  int32_t one_of(std::string_view chars);  // one byte from the list
  int32_t seq(std::vector<int32_t> kids);
  int32_t alt(std::vector<int32_t> kids);
  int32_t repeat(int32_t kid, int32_t min, int32_t max);
  int32_t optional(int32_t kid) { return repeat(kid, 0, 1); }
  int32_t star(int32_t kid) { return repeat(kid, 0, -1); }
  int32_t plus(int32_t kid) { return repeat(kid, 1, -1); }
  int32_t call(int32_t rule);
  int32_t sep_list(int32_t sep, std::vector<std::pair<int32_t, item_kind>> items);
  // One code point from the set, as UTF-8 (surrogates excluded).
  int32_t code_points(const code_ranges& set);

  int32_t add_rule(std::string name);  // declares; define() gives the body
  void define(int32_t rule, int32_t body) { rule_body[rule] = body; }

  // Compiles everything reachable from `root`. Throws afm::error for an undefined rule, left
  // recursion, or a grammar that matches nothing.
  std::shared_ptr<const grammar> build(int32_t root) const;
};

// Appends the UTF-8 encoding of a code point.
void append_utf8(std::string& out, uint32_t cp);

}  // namespace afm::guided
