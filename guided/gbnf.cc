// llama.cpp's GBNF grammar text to grammar nodes: `name ::= alternatives`, string literals,
// [classes] and [^negated] classes over code points, `.`, grouping, * + ? {m} {m,} {m,n}, and
// # comments. A rule ends at a newline outside parentheses (a '|' may continue it on the next
// line), as in llama.cpp. The start rule is "root". Token references (<[id]>) are refused:
// this grammar is over bytes, not one vocabulary's ids.
#include <map>

#include "afm/error.h"
#include "front_ends.h"

namespace afm::guided {
namespace {

struct gbnf_parser {
  grammar_builder& g;
  std::string_view src;
  size_t pos = 0;
  std::map<std::string, int32_t, std::less<>> rules;
  std::vector<uint8_t> defined;

  [[noreturn]] void error(std::string_view what) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos && i < src.size(); ++i) {
      if (src[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    fail("GBNF line ", line, " column ", col, ": ", what);
  }
  bool done() const { return pos >= src.size(); }
  char peek() const { return done() ? '\0' : src[pos]; }

  // Skips spaces and comments; newlines too when `newlines`.
  void space(bool newlines) {
    while (!done()) {
      const char c = peek();
      if (c == '#') {
        while (!done() && peek() != '\n') ++pos;
      } else if (c == ' ' || c == '\t' || ((c == '\n' || c == '\r') && newlines)) {
        ++pos;
      } else {
        break;
      }
    }
  }
  static bool name_char(char c) {
    return isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  }
  std::string_view name() {
    const size_t start = pos;
    while (!done() && name_char(peek())) ++pos;
    if (pos == start) error("expected a rule name");
    return src.substr(start, pos - start);
  }
  int32_t rule_id(std::string_view n) {
    auto it = rules.find(n);
    if (it != rules.end()) return it->second;
    const int32_t id = g.add_rule(std::string(n));
    rules.emplace(std::string(n), id);
    defined.push_back(0);
    return id;
  }

  uint32_t hex(int digits) {
    const auto v = parse_hex(src, pos, digits);
    if (!v) error("expected a hex digit");
    return *v;
  }
  uint32_t char_at() {
    if (done()) error("unexpected end of grammar");
    if (peek() != '\\') return decode_utf8(src, pos, "GBNF");
    ++pos;
    if (done()) error("grammar ends with a backslash");
    const char c = src[pos++];
    switch (c) {
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case '\\':
      case '"':
      case '[':
      case ']':
      case '-':
      case '^':
        return static_cast<uint8_t>(c);
      case 'x':
        return hex(2);
      case 'u':
        return hex(4);
      case 'U':
        return hex(8);
      default:
        --pos;
        error(std::string("unknown escape \\") + c);
    }
  }

  int32_t parse_alternatives(bool nested) {
    std::vector<int32_t> alts{parse_sequence(nested)};
    while (peek() == '|') {
      ++pos;
      space(true);
      alts.push_back(parse_sequence(nested));
    }
    return g.alt(std::move(alts));
  }

  int32_t parse_sequence(bool nested) {
    std::vector<int32_t> items;
    while (!done()) {
      const char c = peek();
      int32_t atom;
      if (c == '"') {
        ++pos;
        std::vector<int32_t> chars;
        while (peek() != '"') {
          if (done() || peek() == '\n') error("unterminated string literal");
          const uint32_t cp = char_at();
          chars.push_back(g.code_points({{cp, cp}}));
        }
        ++pos;
        atom = chars.empty() ? g.empty() : g.seq(std::move(chars));
      } else if (c == '[') {
        ++pos;
        const bool negate = peek() == '^';
        if (negate) ++pos;
        code_ranges set;
        while (peek() != ']') {
          if (done()) error("unterminated character class");
          const uint32_t lo = char_at();
          uint32_t hi = lo;
          if (peek() == '-' && pos + 1 < src.size() && src[pos + 1] != ']') {
            ++pos;
            hi = char_at();
            if (hi < lo) error("class range out of order");
          }
          set.emplace_back(lo, hi);
        }
        ++pos;
        set = normalize(std::move(set));
        atom = g.code_points(negate ? complement(set) : set);
      } else if (c == '.') {
        ++pos;
        atom = g.code_points({{0, max_code_point}});
      } else if (c == '(') {
        ++pos;
        space(true);
        atom = parse_alternatives(true);
        if (peek() != ')') error("expected ')'");
        ++pos;
      } else if (c == '<') {
        error("token references <...> are not supported (grammars here are over bytes)");
      } else if (name_char(c)) {
        const size_t save = pos;
        const std::string_view n = name();
        space(false);
        if (src.substr(pos, 3) == "::=") {  // the next rule starts: this sequence is over
          pos = save;
          break;
        }
        atom = g.call(rule_id(n));
      } else {
        break;
      }
      space(nested);
      atom = parse_repetition(atom);
      items.push_back(atom);
      space(nested);
    }
    return items.empty() ? g.empty() : g.seq(std::move(items));
  }

  int parse_int() {
    if (!isdigit(static_cast<unsigned char>(peek()))) error("expected a number");
    long v = 0;
    while (isdigit(static_cast<unsigned char>(peek()))) {
      v = v * 10 + (src[pos++] - '0');
      if (v > 100000) error("repetition count too large (limit 100000)");
    }
    return static_cast<int>(v);
  }

  int32_t parse_repetition(int32_t atom) {
    while (true) {
      const char c = peek();
      if (c == '*') {
        atom = g.star(atom);
      } else if (c == '+') {
        atom = g.plus(atom);
      } else if (c == '?') {
        atom = g.optional(atom);
      } else if (c == '{') {
        ++pos;
        space(false);
        const int lo = parse_int();
        int hi = lo;
        space(false);
        if (peek() == ',') {
          ++pos;
          space(false);
          hi = peek() == '}' ? -1 : parse_int();
          space(false);
        }
        if (peek() != '}') error("expected '}'");
        if (hi >= 0 && hi < lo) error("repetition {m,n} with n < m");
        atom = g.repeat(atom, lo, hi);
      } else {
        return atom;
      }
      ++pos;
      space(false);
    }
  }

  int32_t parse() {
    space(true);
    while (!done()) {
      const std::string_view n = name();
      space(false);
      if (src.substr(pos, 3) != "::=") error("expected '::='");
      pos += 3;
      space(true);
      const int32_t id = rule_id(n);
      if (defined[id]) error("rule '" + std::string(n) + "' is defined twice");
      defined[id] = 1;
      g.define(id, parse_alternatives(false));
      if (!done() && peek() != '\n' && peek() != '\r') {
        error(std::string("unexpected '") + peek() + "'");
      }
      space(true);
    }
    auto root = rules.find("root");
    if (root == rules.end() || !defined[root->second]) fail("GBNF grammar has no 'root' rule");
    for (auto& [rule_name, id] : rules) {
      if (!defined[id]) fail("GBNF rule '", rule_name, "' is used but not defined");
    }
    return root->second;
  }
};

}  // namespace
}  // namespace afm::guided

namespace afm {

std::shared_ptr<const grammar> compile_gbnf(std::string_view text) {
  guided::grammar_builder g;
  guided::gbnf_parser p{g, text, 0, {}, {}};
  const int32_t root = p.parse();
  return g.build(root);
}

}  // namespace afm
