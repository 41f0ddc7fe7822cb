// Shared pieces of the grammar front ends (regex.cc, gbnf.cc, json_schema.cc).
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "grammar_builder.h"

namespace afm::guided {

// How a set of code points becomes bytes: raw UTF-8, or as characters inside a JSON string
// (json_schema.cc: each code point in its one canonical JSON spelling).
using char_lowering = std::function<int32_t(grammar_builder&, const code_ranges&)>;

struct regex_options {
  // false: the pattern must match the whole text (a grammar). true: JSON Schema "pattern"
  // semantics: it may match anywhere unless anchored with ^ / $.
  bool search = false;
  char_lowering lower;  // default: raw UTF-8
};

// Parses an ECMAScript regular expression (no lookaround, backreferences, word boundaries or
// \p{..}) into builder nodes. Throws afm::error naming the position of anything unsupported.
int32_t parse_regex(grammar_builder& g, std::string_view pattern, const regex_options& options);

// Reads `digits` hex digits at s[pos], advancing pos; nullopt (pos unspecified) if one is not.
inline std::optional<uint32_t> parse_hex(std::string_view s, size_t& pos, int digits) {
  uint32_t v = 0;
  for (int i = 0; i < digits; ++i, ++pos) {
    if (pos >= s.size()) return std::nullopt;
    const char c = s[pos];
    const int d = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<uint32_t>(d);
  }
  return v;
}

// Decodes one UTF-8 code point at s[i], advancing i; throws on malformed input.
uint32_t decode_utf8(std::string_view s, size_t& i, std::string_view what);

}  // namespace afm::guided
