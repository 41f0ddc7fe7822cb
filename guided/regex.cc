// ECMAScript regular expressions to grammar nodes: alternation, groups (capturing, (?:..),
// (?<name>..)), greedy and lazy quantifiers, classes with ranges and negation, the class
// escapes \d \w \s, and \x \u \u{} \c escapes. Lookaround, backreferences, \b and \p{} cannot
// be expressed by a finite automaton over the output alone (or need Unicode tables we do not
// carry), so they are errors, as are anchors anywhere but the ends.
#include <cstdint>

#include "afm/error.h"
#include "front_ends.h"

namespace afm::guided {

uint32_t decode_utf8(std::string_view s, size_t& i, std::string_view what) {
  const auto b = static_cast<uint8_t>(s[i]);
  int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + len > s.size()) fail(what, ": invalid UTF-8 at byte ", i);
  uint32_t cp = len == 1 ? b : b & (0x7F >> len);
  for (int k = 1; k < len; ++k) {
    const auto c = static_cast<uint8_t>(s[i + k]);
    if ((c & 0xC0) != 0x80) fail(what, ": invalid UTF-8 at byte ", i);
    cp = (cp << 6) | (c & 0x3F);
  }
  i += len;
  return cp;
}

namespace {

const code_ranges& digit_set() {
  static const code_ranges r = {{'0', '9'}};
  return r;
}
const code_ranges& word_set() {
  static const code_ranges r = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
  return r;
}
const code_ranges& space_set() {
  // ECMAScript WhiteSpace and LineTerminator.
  static const code_ranges r = normalize({{0x09, 0x0D},
                                          {0x20, 0x20},
                                          {0xA0, 0xA0},
                                          {0x1680, 0x1680},
                                          {0x2000, 0x200A},
                                          {0x2028, 0x2029},
                                          {0x202F, 0x202F},
                                          {0x205F, 0x205F},
                                          {0x3000, 0x3000},
                                          {0xFEFF, 0xFEFF}});
  return r;
}

struct regex_parser {
  grammar_builder& g;
  std::string_view src;
  const regex_options& opt;
  size_t pos = 0;

  [[noreturn]] void error(std::string_view what) const {
    fail("regex /", src, "/ at offset ", pos, ": ", what);
  }
  bool done() const { return pos >= src.size(); }
  char peek() const { return done() ? '\0' : src[pos]; }
  bool eat(char c) {
    if (peek() != c || done()) return false;
    ++pos;
    return true;
  }

  int32_t lower(const code_ranges& set) {
    return opt.lower ? opt.lower(g, set) : g.code_points(set);
  }
  int32_t any_char() { return lower({{0, max_code_point}}); }

  // The whole pattern: top-level alternatives, each anchored or not at either end.
  int32_t parse_top() {
    std::vector<int32_t> alts;
    do {
      const bool start_anchor = eat('^');
      std::vector<int32_t> parts;
      if (opt.search && !start_anchor) parts.push_back(g.star(any_char()));
      parts.push_back(parse_seq());
      const bool end_anchor = eat('$');
      if (opt.search && !end_anchor) parts.push_back(g.star(any_char()));
      alts.push_back(g.seq(std::move(parts)));
    } while (eat('|'));
    if (!done())
      error(peek() == ')' ? "unmatched ')'"
                          : "anchors '^' and '$' are supported only "
                            "at the start and end of the pattern");
    return g.alt(std::move(alts));
  }

  int32_t parse_alt() {
    std::vector<int32_t> alts{parse_seq()};
    while (eat('|')) alts.push_back(parse_seq());
    return g.alt(std::move(alts));
  }

  int32_t parse_seq() {
    std::vector<int32_t> items;
    while (!done() && peek() != '|' && peek() != ')') {
      if (peek() == '$') {
        // Only a '$' that ends the pattern (or a top-level alternative) is allowed.
        const size_t save = pos;
        ++pos;
        const bool at_end = done() || peek() == '|';
        pos = save;
        if (at_end) break;
        error("anchors '^' and '$' are supported only at the start and end of the pattern");
      }
      if (peek() == '^') {
        error("anchors '^' and '$' are supported only at the start and end of the pattern");
      }
      items.push_back(parse_quantified());
    }
    return items.empty() ? g.empty() : g.seq(std::move(items));
  }

  int parse_int() {
    if (done() || !isdigit(static_cast<unsigned char>(peek()))) error("expected a number");
    long v = 0;
    while (!done() && isdigit(static_cast<unsigned char>(peek()))) {
      v = v * 10 + (src[pos++] - '0');
      if (v > 100000) error("repetition count too large (limit 100000)");
    }
    return static_cast<int>(v);
  }

  int32_t parse_quantified() {
    int32_t atom = parse_atom();
    while (!done()) {
      int lo, hi;
      const char c = peek();
      if (c == '*') {
        lo = 0, hi = -1, ++pos;
      } else if (c == '+') {
        lo = 1, hi = -1, ++pos;
      } else if (c == '?') {
        lo = 0, hi = 1, ++pos;
      } else if (c == '{' && pos + 1 < src.size() &&
                 isdigit(static_cast<unsigned char>(src[pos + 1]))) {
        ++pos;
        lo = parse_int();
        hi = lo;
        if (eat(',')) hi = peek() == '}' ? -1 : parse_int();
        if (!eat('}')) error("expected '}' closing a repetition");
        if (hi >= 0 && hi < lo) error("repetition {n,m} with m < n");
      } else {
        break;
      }
      eat('?');  // lazy quantifiers match the same language
      atom = g.repeat(atom, lo, hi);
    }
    return atom;
  }

  uint32_t hex(int digits) {
    const auto v = parse_hex(src, pos, digits);
    if (!v) error("expected a hex digit");
    return *v;
  }

  // After a backslash: either a set (\d, \w, ...) or one code point.
  code_ranges parse_escape(bool in_class) {
    if (done()) error("pattern ends with a backslash");
    const char c = src[pos++];
    switch (c) {
      case 'd':
        return digit_set();
      case 'D':
        return complement(digit_set());
      case 'w':
        return word_set();
      case 'W':
        return complement(word_set());
      case 's':
        return space_set();
      case 'S':
        return complement(space_set());
      case 'n':
        return {{'\n', '\n'}};
      case 'r':
        return {{'\r', '\r'}};
      case 't':
        return {{'\t', '\t'}};
      case 'f':
        return {{'\f', '\f'}};
      case 'v':
        return {{'\v', '\v'}};
      case 'x': {
        const uint32_t v = hex(2);
        return {{v, v}};
      }
      case 'u': {
        uint32_t v;
        if (eat('{')) {
          v = 0;
          int n = 0;
          while (!done() && peek() != '}') {
            v = v * 16 + hex(1);
            if (++n > 6 || v > max_code_point) error("\\u{...} beyond U+10FFFF");
          }
          if (!eat('}') || n == 0) error("unterminated \\u{...}");
        } else {
          v = hex(4);
        }
        return {{v, v}};
      }
      case 'c': {
        if (done() || !isalpha(static_cast<unsigned char>(peek()))) error("\\c needs a letter");
        const uint32_t v = static_cast<uint32_t>(src[pos++]) % 32;
        return {{v, v}};
      }
      case '0':
        if (!done() && isdigit(static_cast<unsigned char>(peek()))) {
          error("octal escapes and backreferences are not supported");
        }
        return {{0, 0}};
      case 'b':
        if (in_class) return {{8, 8}};
        error("word boundary \\b is not supported (an assertion, not a character)");
      case 'B':
        error("word boundary \\B is not supported (an assertion, not a character)");
      case 'p':
      case 'P':
        error("Unicode property escapes \\p{...} are not supported");
      case 'k':
        error("named backreferences \\k<...> are not supported");
      default:
        if (c >= '1' && c <= '9') error("backreferences are not supported");
        if (isalnum(static_cast<unsigned char>(c))) {
          error(std::string("unknown escape \\") + c);
        }
        --pos;
        const uint32_t cp = decode_utf8(src, pos, "regex");
        return {{cp, cp}};
    }
  }

  code_ranges parse_class() {
    const bool negate = eat('^');
    code_ranges set;
    bool first = true;
    while (true) {
      if (done()) error("unterminated character class");
      if (peek() == ']' && !first) break;
      first = false;
      code_ranges lo_set;
      if (eat('\\')) {
        lo_set = parse_escape(true);
      } else {
        const uint32_t cp = decode_utf8(src, pos, "regex");
        lo_set = {{cp, cp}};
      }
      if (peek() == '-' && pos + 1 < src.size() && src[pos + 1] != ']') {
        ++pos;
        code_ranges hi_set;
        if (eat('\\')) {
          hi_set = parse_escape(true);
        } else {
          const uint32_t cp = decode_utf8(src, pos, "regex");
          hi_set = {{cp, cp}};
        }
        if (lo_set.size() != 1 || hi_set.size() != 1 || lo_set[0].first != lo_set[0].second ||
            hi_set[0].first != hi_set[0].second) {
          error("a class range needs single characters at both ends");
        }
        if (hi_set[0].first < lo_set[0].first) error("class range out of order");
        set.emplace_back(lo_set[0].first, hi_set[0].first);
      } else {
        set.insert(set.end(), lo_set.begin(), lo_set.end());
      }
    }
    ++pos;  // ']'
    set = normalize(std::move(set));
    return negate ? complement(set) : set;
  }

  int32_t parse_atom() {
    const char c = peek();
    switch (c) {
      case '(': {
        ++pos;
        if (eat('?')) {
          if (eat(':')) {
            // non-capturing
          } else if (peek() == '<' && pos + 1 < src.size() && src[pos + 1] != '=' &&
                     src[pos + 1] != '!') {
            while (!done() && peek() != '>') ++pos;
            if (!eat('>')) error("unterminated group name");
          } else {
            error("lookaround assertions (?= (?! (?<= (?<! are not supported");
          }
        }
        const int32_t inner = parse_alt();
        if (!eat(')')) error("missing ')'");
        return inner;
      }
      case '[':
        ++pos;
        return lower(parse_class());
      case '.':
        ++pos;
        return lower(complement({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}));
      case '\\':
        ++pos;
        return lower(parse_escape(false));
      case '*':
      case '+':
      case '?':
        error("quantifier with nothing to repeat");
      case '{':
        if (pos + 1 < src.size() && isdigit(static_cast<unsigned char>(src[pos + 1]))) {
          error("quantifier with nothing to repeat");
        }
        break;
      case ')':
        error("unmatched ')'");
      default:
        break;
    }
    const uint32_t cp = decode_utf8(src, pos, "regex");
    return lower({{cp, cp}});
  }
};

}  // namespace

int32_t parse_regex(grammar_builder& g, std::string_view pattern, const regex_options& options) {
  regex_parser p{g, pattern, options};
  return p.parse_top();
}

}  // namespace afm::guided

namespace afm {

std::shared_ptr<const grammar> compile_regex(std::string_view pattern) {
  guided::grammar_builder g;
  const int32_t root = g.add_rule("root");
  g.define(root, guided::parse_regex(g, pattern, {}));
  return g.build(root);
}

}  // namespace afm
