// afm::grammar — a compiled grammar for guided generation: a set of rules, each a deterministic
// byte automaton whose edges are byte classes or calls to other rules (a recursive transition
// network, the shape xgrammar and llguidance also use). Three front ends produce it: JSON Schema,
// regular expressions (ECMAScript syntax without lookaround or backreferences) and llama.cpp's
// GBNF. grammar_matcher.h turns a grammar plus a vocabulary into per-token masks.
//
//   auto g =
//   afm::compile_json_schema(R"({"type":"object","properties":{"n":{"type":"integer"}}})");
//   afm::grammar_accepts(*g, R"({"n":42})");  // true
//
// The data is plain arrays so the matcher's inner loop is a table lookup: state s moves on byte b
// to next[s * class_count + byte_class[b]] (-1 = dead).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace afm {

struct grammar_call {
  int32_t rule;       // the rule entered
  int32_t ret_state;  // where this rule continues once the callee completes
};

struct grammar {
  int32_t root_rule = 0;
  std::vector<std::string> rule_names;
  std::vector<int32_t> rule_start;        // rule -> its start state
  std::array<uint8_t, 256> byte_class{};  // byte -> equivalence class
  int32_t class_count = 0;
  std::vector<int32_t> next;        // state * class_count + class -> state or -1
  std::vector<uint8_t> accepting;   // state -> its rule may end here
  std::vector<int32_t> call_begin;  // state -> calls[call_begin[s], call_begin[s + 1])
  std::vector<grammar_call> calls;
  std::vector<int32_t> state_rule;       // state -> owning rule
  std::vector<int64_t> distance;         // state -> fewest bytes that finish its rule
  std::vector<int64_t> rule_min_length;  // rule -> fewest bytes of a complete match
  std::vector<std::string> warnings;     // relaxations the compiler made (e.g. oneOf as anyOf)

  int32_t state_count() const { return static_cast<int32_t>(accepting.size()); }
  int32_t step(int32_t state, uint8_t byte) const {
    return next[static_cast<size_t>(state) * class_count + byte_class[byte]];
  }
  bool has_calls(int32_t state) const { return call_begin[state] != call_begin[state + 1]; }
};

struct json_schema_options {
  // 0 = compact JSON (no whitespace). n > 0 allows up to n whitespace bytes (space, tab,
  // newline, carriage return) at each structural position: after '{' '[' ',' ':' and before
  // '}' ']'.
  int max_whitespace = 0;
};

// Compiles a JSON Schema (draft 2020-12 subset; docs/guided.md lists every keyword). Throws
// afm::error naming the keyword and its JSON pointer for anything unsupported or malformed.
// Generation conventions: properties in declaration order; additionalProperties defaults to
// false; prefixItems without items allows no further items.
std::shared_ptr<const grammar> compile_json_schema(std::string_view schema_json,
                                                   const json_schema_options& options = {});
// A regular expression matched against the whole output (implicitly anchored).
std::shared_ptr<const grammar> compile_regex(std::string_view pattern);
// llama.cpp GBNF text; the rule named "root" is the start.
std::shared_ptr<const grammar> compile_gbnf(std::string_view text);

// True when the grammar matches exactly these bytes (from the start to a complete match).
bool grammar_accepts(const grammar& g, std::string_view bytes);

}  // namespace afm
