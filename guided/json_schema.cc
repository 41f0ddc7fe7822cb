// JSON Schema to grammar nodes. Values are inlined into their parent's rule (so tokens such as
// `",` or `"}` stay context-independent for the mask cache); $ref targets and array items
// become rules (recursion, and repetition without copying). Every keyword is either compiled,
// ignored as an annotation, or rejected by name: nothing is dropped silently.
//
// Generated JSON is compact (optionally with bounded whitespace), properties follow the
// schema's declaration order, and additionalProperties defaults to false. Strings are written
// with any valid escapes in free text, and in the one canonical spelling (that of
// json.dumps(ensure_ascii=False)) where the schema fixes characters: enum, const, keys,
// pattern and format.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "afm/error.h"
#include "front_ends.h"
#include "json_pointer.h"

namespace afm::guided {
namespace {

using ojson = nlohmann::ordered_json;

const std::set<std::string, std::less<>> kAnnotations = {
    "title", "description", "default",  "examples",  "$comment",    "$schema",
    "$id",   "deprecated",  "readOnly", "writeOnly", "definitions", "$defs",
};
const std::set<std::string, std::less<>> kKeywords = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "enum",
    "const",
    "anyOf",
    "oneOf",
    "allOf",
    "$ref",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "format",
};
const std::set<std::string, std::less<>> kObjectKeys = {"properties", "required",
                                                        "additionalProperties"};
const std::set<std::string, std::less<>> kArrayKeys = {"items", "prefixItems", "minItems",
                                                       "maxItems"};
const std::set<std::string, std::less<>> kStringKeys = {"minLength", "maxLength", "pattern",
                                                        "format"};
const std::set<std::string, std::less<>> kNumberKeys = {"minimum", "maximum", "exclusiveMinimum",
                                                        "exclusiveMaximum"};
const std::vector<std::string> kAllTypes = {"null",   "boolean", "object", "array",
                                            "number", "string",  "integer"};

std::string display(const std::string& path) {
  return path.empty() ? "/" : path;
}

// The canonical JSON spelling of one code point inside a string.
std::string json_escape_char(uint32_t cp) {
  switch (cp) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\b':
      return "\\b";
    case '\f':
      return "\\f";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default:
      break;
  }
  if (cp < 0x20) {
    static const char* hex = "0123456789abcdef";
    return std::string("\\u00") + hex[cp >> 4] + hex[cp & 15];
  }
  std::string s;
  append_utf8(s, cp);
  return s;
}

// Characters of a set inside a JSON string, each in its canonical spelling.
int32_t json_chars(grammar_builder& g, const code_ranges& set) {
  code_ranges raw;
  std::vector<int32_t> alts;
  for (auto [lo, hi] : normalize(set)) {
    for (uint32_t cp = lo; cp <= hi && cp < 0x20; ++cp)
      alts.push_back(g.literal(json_escape_char(cp)));
    for (uint32_t cp : {uint32_t{'"'}, uint32_t{'\\'}}) {
      if (cp >= lo && cp <= hi) alts.push_back(g.literal(json_escape_char(cp)));
    }
    const uint32_t a = std::max<uint32_t>(lo, 0x20);
    if (a > hi) continue;
    // Split around '"' (0x22) and '\' (0x5C).
    uint32_t start = a;
    for (uint32_t cut : {uint32_t{'"'}, uint32_t{'\\'}}) {
      if (cut >= start && cut <= hi) {
        if (cut > start) raw.emplace_back(start, cut - 1);
        start = cut + 1;
      }
    }
    if (start <= hi) raw.emplace_back(start, hi);
  }
  if (!raw.empty()) alts.push_back(g.code_points(raw));
  return g.alt(std::move(alts));
}

std::u32string decode_all(const std::string& s, std::string_view what) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) out += decode_utf8(s, i, what);
  return out;
}

struct bound {
  bool set = false;
  double value = 0;
  bool exclusive = false;
};

// A non-negative decimal as digit strings: int_part (no leading zeros, "0" for zero) and
// frac_part (no trailing zeros).
struct decimal {
  std::string int_part = "0", frac_part;
};

decimal to_decimal(double v) {
  char buf[512];
  auto r = std::to_chars(buf, buf + sizeof buf, std::fabs(v), std::chars_format::fixed);
  std::string s(buf, r.ptr);
  decimal d;
  const size_t dot = s.find('.');
  d.int_part = s.substr(0, dot);
  if (dot != std::string::npos) d.frac_part = s.substr(dot + 1);
  while (!d.frac_part.empty() && d.frac_part.back() == '0') d.frac_part.pop_back();
  if (d.int_part.empty()) d.int_part = "0";
  return d;
}

std::string add_one(std::string s) {
  int i = static_cast<int>(s.size()) - 1;
  while (i >= 0 && s[i] == '9') s[i--] = '0';
  if (i < 0) return "1" + s;
  ++s[i];
  return s;
}
std::string sub_one(std::string s) {  // s > 0
  int i = static_cast<int>(s.size()) - 1;
  while (s[i] == '0') s[i--] = '9';
  --s[i];
  if (s.size() > 1 && s[0] == '0') s.erase(0, 1);
  return s;
}
bool less_num(const std::string& a, const std::string& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

struct schema_compiler {
  grammar_builder& g;
  const ojson& root;
  json_schema_options opt;
  std::map<std::string, int32_t> rules_by_path;
  int32_t any_rule = -1;

  [[noreturn]] void error(const std::string& path, const std::string& what) const {
    fail("JSON Schema at ", display(path), ": ", what);
  }

  int32_t ws() {
    if (opt.max_whitespace <= 0) return g.empty();
    return g.repeat(g.one_of(" \t\n\r"), 0, opt.max_whitespace);
  }
  int32_t punct(char c) { return g.seq({ws(), g.literal(std::string(1, c)), ws()}); }

  // ---- references --------------------------------------------------------------------

  const ojson& resolve(const std::string& ref, const std::string& path) const {
    if (ref.empty() || ref[0] != '#') {
      error(path, "$ref '" + ref + "' is not local (only '#...' references are supported)");
    }
    const ojson* cur = &root;
    std::string_view rest = std::string_view(ref).substr(1);
    if (!rest.empty() && rest[0] != '/') error(path, "$ref '" + ref + "' is not a JSON pointer");
    while (!rest.empty()) {
      rest.remove_prefix(1);
      const size_t slash = rest.find('/');
      std::string token(rest.substr(0, slash));
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
      std::string unescaped;
      for (size_t i = 0; i < token.size(); ++i) {
        if (token[i] == '~' && i + 1 < token.size()) {
          unescaped += token[i + 1] == '1' ? '/' : '~';
          ++i;
        } else {
          unescaped += token[i];
        }
      }
      if (cur->is_object() && cur->contains(unescaped)) {
        cur = &(*cur)[unescaped];
      } else if (cur->is_array() && !unescaped.empty() &&
                 std::all_of(unescaped.begin(), unescaped.end(), ::isdigit) &&
                 std::stoul(unescaped) < cur->size()) {
        cur = &(*cur)[std::stoul(unescaped)];
      } else {
        error(path, "$ref '" + ref + "' does not resolve");
      }
    }
    return *cur;
  }

  int32_t ref_rule(const std::string& ref, const std::string& path) {
    auto it = rules_by_path.find("ref:" + ref);
    if (it != rules_by_path.end()) return g.call(it->second);
    const int32_t rule = g.add_rule("ref " + ref);
    rules_by_path.emplace("ref:" + ref, rule);
    g.define(rule, value(resolve(ref, path), ref.substr(1)));
    return g.call(rule);
  }

  // ---- schema normalisation ----------------------------------------------------------

  void check_keywords(const ojson& s, const std::string& path) const {
    for (auto& [k, v] : s.items()) {
      if (kAnnotations.count(k) == 0 && kKeywords.count(k) == 0) {
        error(path, "unsupported keyword '" + k + "'");
      }
    }
  }

  // Inlines $ref (non-recursively) so allOf parts can merge.
  ojson deref(const ojson& s, const std::string& path, int depth = 0) const {
    if (depth > 32) error(path, "$ref chain too deep to merge (recursive allOf?)");
    if (!s.is_object() || !s.contains("$ref")) return s;
    const ojson& target = resolve(s["$ref"].get<std::string>(), path);
    ojson rest = s;
    rest.erase("$ref");
    return merge(deref(target, path, depth + 1), rest, path);
  }

  static std::vector<std::string> types_of(const ojson& s) {
    if (!s.contains("type")) return {};
    if (s["type"].is_string()) return {s["type"].get<std::string>()};
    std::vector<std::string> out;
    for (auto& t : s["type"]) out.push_back(t.get<std::string>());
    return out;
  }

  ojson merge(const ojson& a0, const ojson& b0, const std::string& path) const {
    if (a0.is_boolean() || b0.is_boolean()) {
      if (a0 == false || b0 == false) error(path, "allOf includes false: nothing can match");
      return a0.is_boolean() ? b0 : a0;
    }
    ojson a = a0, b = b0;
    for (auto& [k, vb] : b.items()) {
      if (!a.contains(k)) {
        a[k] = vb;
        continue;
      }
      ojson& va = a[k];
      if (kAnnotations.count(k)) continue;
      if (k == "type") {
        std::vector<std::string> ta = types_of(a), tb = types_of(b), both;
        for (auto& t : ta) {
          for (auto& u : tb) {
            if (t == u) {
              both.push_back(t);
            } else if ((t == "integer" && u == "number") || (t == "number" && u == "integer")) {
              both.push_back("integer");
            }
          }
        }
        if (both.empty()) error(path, "allOf parts have no type in common");
        va = both;
      } else if (k == "properties") {
        for (auto& [pk, pv] : vb.items()) va[pk] = va.contains(pk) ? merge(va[pk], pv, path) : pv;
      } else if (k == "required") {
        for (auto& r : vb) {
          if (std::find(va.begin(), va.end(), r) == va.end()) va.push_back(r);
        }
      } else if (k == "additionalProperties" || k == "items") {
        if (va == false || vb == false) {
          va = false;
        } else if (va == true) {
          va = vb;
        } else if (vb != true) {
          va = merge(va, vb, path);
        }
      } else if (k == "prefixItems") {
        for (size_t i = 0; i < vb.size(); ++i) {
          if (i < va.size()) {
            va[i] = merge(va[i], vb[i], path);
          } else {
            va.push_back(vb[i]);
          }
        }
      } else if (k == "minimum" || k == "exclusiveMinimum" || k == "minLength" || k == "minItems") {
        if (vb > va) va = vb;
      } else if (k == "maximum" || k == "exclusiveMaximum" || k == "maxLength" || k == "maxItems") {
        if (vb < va) va = vb;
      } else if (k == "enum") {
        ojson both = ojson::array();
        for (auto& x : va) {
          if (std::find(vb.begin(), vb.end(), x) != vb.end()) both.push_back(x);
        }
        va = both;
      } else if (k == "allOf") {
        for (auto& x : vb) va.push_back(x);
      } else if (va != vb) {
        error(path, "allOf parts disagree on '" + k + "' and cannot be merged");
      }
    }
    return a;
  }

  // ---- values ------------------------------------------------------------------------

  int32_t any_value() {
    if (any_rule >= 0) return g.call(any_rule);
    any_rule = g.add_rule("any JSON value");
    const int32_t v = g.call(any_rule);
    const int32_t member = g.seq({string_any(), punct(':'), v});
    const int32_t object = g.seq({g.literal("{"), ws(),
                                  g.optional(g.seq({member, g.star(g.seq({punct(','), member}))})),
                                  ws(), g.literal("}")});
    const int32_t array =
        g.seq({g.literal("["), ws(), g.optional(g.seq({v, g.star(g.seq({punct(','), v}))})), ws(),
               g.literal("]")});
    g.define(any_rule, g.alt({object, array, string_any(), number_any(), g.literal("true"),
                              g.literal("false"), g.literal("null")}));
    return g.call(any_rule);
  }

  int32_t hex_digit() { return g.one_of("0123456789abcdefABCDEF"); }
  // One character of free string text: raw, or any escape (\uXXXX without surrogates, so
  // every character counts once under minLength/maxLength as validators count code points).
  int32_t string_char() {
    // \uXXXX outside D800-DFFF: first digit not d/D, or d/D then 0-7.
    const int32_t h = hex_digit();
    const int32_t u = g.alt({g.seq({g.one_of("0123456789abcefABCEF"), h, h, h}),
                             g.seq({g.one_of("dD"), g.byte_range('0', '7'), h, h})});
    const int32_t escape =
        g.seq({g.literal("\\"), g.alt({g.one_of("\"\\/bfnrt"), g.seq({g.literal("u"), u})})});
    return g.alt({g.code_points({{0x20, 0x21}, {0x23, 0x5B}, {0x5D, max_code_point}}), escape});
  }
  int32_t quoted(int32_t body) { return g.seq({g.literal("\""), body, g.literal("\"")}); }
  int32_t string_any() { return quoted(g.star(string_char())); }

  int32_t number_any() {
    return g.seq(
        {g.optional(g.literal("-")),
         g.alt({g.literal("0"), g.seq({g.byte_range('1', '9'), g.star(digit())})}),
         g.optional(g.seq({g.literal("."), g.plus(digit())})),
         g.optional(g.seq({g.one_of("eE"), g.optional(g.one_of("+-")), g.plus(digit())}))});
  }

  int32_t digit() { return g.byte_range('0', '9'); }
  int32_t digits(int lo, int hi) { return g.repeat(digit(), lo, hi); }

  // Equal-length digit strings a <= b: every string between them.
  int32_t digits_between(const std::string& a, const std::string& b) {
    if (a.empty()) return g.empty();
    const size_t n = a.size();
    if (a[0] == b[0])
      return g.seq({g.literal(a.substr(0, 1)), digits_between(a.substr(1), b.substr(1))});
    const bool a_low = a.find_first_not_of('0', 1) == std::string::npos;
    const bool b_high = b.find_first_not_of('9', 1) == std::string::npos;
    std::vector<int32_t> alts;
    char lo = a[0], hi = b[0];
    if (!a_low) {
      alts.push_back(
          g.seq({g.literal(a.substr(0, 1)), digits_between(a.substr(1), std::string(n - 1, '9'))}));
      ++lo;
    }
    if (!b_high) {
      alts.push_back(
          g.seq({g.literal(b.substr(0, 1)), digits_between(std::string(n - 1, '0'), b.substr(1))}));
      --hi;
    }
    if (lo <= hi) {
      alts.push_back(g.seq({g.byte_range(static_cast<uint8_t>(lo), static_cast<uint8_t>(hi)),
                            digits(static_cast<int>(n - 1), static_cast<int>(n - 1))}));
    }
    return g.alt(std::move(alts));
  }

  // Non-negative integers in canonical form between lo and hi (hi empty = unbounded).
  int32_t uint_range(const std::string& lo, const std::optional<std::string>& hi) {
    if (hi && less_num(*hi, lo)) return g.nothing();
    std::vector<int32_t> alts;
    const size_t max_len = hi ? hi->size() : lo.size();
    for (size_t len = lo.size(); len <= max_len; ++len) {
      std::string smallest(len, '0');
      if (len > 1) smallest[0] = '1';
      const std::string a = len == lo.size() ? lo : smallest;
      const std::string b = hi && len == hi->size() ? *hi : std::string(len, '9');
      alts.push_back(digits_between(less_num(a, smallest) ? smallest : a, b));
    }
    if (!hi) {
      alts.push_back(g.seq({g.byte_range('1', '9'), digits(static_cast<int>(lo.size()), -1)}));
    }
    return g.alt(std::move(alts));
  }

  int32_t integer_value(const ojson& s, const std::string& path) {
    const bound lo = read_bound(s, "minimum", "exclusiveMinimum", path, true);
    const bound hi = read_bound(s, "maximum", "exclusiveMaximum", path, false);
    if (!lo.set && !hi.set) {
      return g.alt({g.literal("0"),
                    g.seq({g.optional(g.literal("-")), g.byte_range('1', '9'), g.star(digit())})});
    }
    auto as_int = [&](const bound& b, bool lower) -> std::optional<int64_t> {
      if (!b.set) return std::nullopt;
      double v = lower ? (b.exclusive ? std::floor(b.value) + 1 : std::ceil(b.value))
                       : (b.exclusive ? std::ceil(b.value) - 1 : std::floor(b.value));
      if (std::fabs(v) > 9.0e18) error(path, "integer bounds beyond +-9e18 are not supported");
      return static_cast<int64_t>(v);
    };
    const std::optional<int64_t> a = as_int(lo, true), b = as_int(hi, false);
    if (a && b && *a > *b) error(path, "no integer lies between the bounds");
    std::vector<int32_t> alts;
    // Negative part: magnitudes in [max(1, -b), -a].
    if (!a || *a < 0) {
      const int64_t mag_lo = b && *b < 0 ? -*b : 1;
      std::optional<std::string> mag_hi;
      if (a) mag_hi = std::to_string(-*a);
      alts.push_back(g.seq({g.literal("-"), uint_range(std::to_string(mag_lo), mag_hi)}));
    }
    if (!b || *b >= 0) {
      std::optional<std::string> top;
      if (b) top = std::to_string(*b);
      alts.push_back(uint_range(std::to_string(a && *a > 0 ? *a : 0), top));
    }
    return g.alt(std::move(alts));
  }

  bound read_bound(const ojson& s, const char* inclusive, const char* exclusive,
                   const std::string& path, bool lower) const {
    bound b;
    for (const char* k : {inclusive, exclusive}) {
      if (!s.contains(k)) continue;
      if (!s[k].is_number()) error(path, std::string("'") + k + "' must be a number");
      const double v = s[k].get<double>();
      if (!std::isfinite(v)) error(path, std::string("'") + k + "' must be finite");
      const bool ex = k == exclusive;
      const bool tighter = !b.set || (lower ? (v > b.value || (v == b.value && ex))
                                            : (v < b.value || (v == b.value && ex)));
      if (tighter) b = {true, v, ex};
    }
    return b;
  }

  // Fraction digit strings f (up to `budget` digits; empty means no fraction, value 0) with
  // 0.f >= 0.lower and 0.f <= 0.upper where given (each bound's bool: strict). Returns the
  // node for non-empty f and sets empty_ok for the empty one.
  using frac_bound = std::optional<std::pair<std::string, bool>>;
  int32_t frac_range(const frac_bound& lower, const frac_bound& upper, int budget, bool& empty_ok) {
    auto zero = [](const frac_bound& b) {
      return b->first.find_first_not_of('0') == std::string::npos;
    };
    empty_ok =
        (!lower || (zero(lower) && !lower->second)) && (!upper || !(zero(upper) && upper->second));
    if (budget <= 0) return g.nothing();
    if (!lower && !upper) return digits(1, budget);
    std::vector<int32_t> alts;
    int free_lo = -1, free_hi = -1;  // the digits after which nothing is constrained
    for (char d = '0'; d <= '9'; ++d) {
      frac_bound lo_next, hi_next;
      if (lower) {
        const char lc = lower->first.empty() ? '0' : lower->first[0];
        if (d < lc) continue;
        if (d == lc)
          lo_next =
              std::make_pair(lower->first.empty() ? "" : lower->first.substr(1), lower->second);
      }
      if (upper) {
        const char hc = upper->first.empty() ? '0' : upper->first[0];
        if (d > hc) continue;
        if (d == hc)
          hi_next =
              std::make_pair(upper->first.empty() ? "" : upper->first.substr(1), upper->second);
      }
      if (!lo_next && !hi_next) {
        if (free_lo < 0) free_lo = d;
        free_hi = d;
        continue;
      }
      bool rest_empty;
      const int32_t rest = frac_range(lo_next, hi_next, budget - 1, rest_empty);
      alts.push_back(g.seq({g.literal(std::string(1, d)), rest_empty ? g.optional(rest) : rest}));
    }
    if (free_lo >= 0) {
      alts.push_back(
          g.seq({g.byte_range(static_cast<uint8_t>(free_lo), static_cast<uint8_t>(free_hi)),
                 digits(0, budget - 1)}));
    }
    return g.alt(std::move(alts));
  }

  int32_t with_fraction(int32_t frac, bool empty_ok) {
    const int32_t dotted = g.seq({g.literal("."), frac});
    return empty_ok ? g.optional(dotted) : dotted;
  }

  // Non-negative decimals x with lo <= x <= hi (strictness per side; hi unset = unbounded).
  int32_t udecimal_range(const decimal& lo, bool sl, const std::optional<decimal>& hi, bool sh,
                         int budget) {
    bool e;
    const frac_bound flo = std::make_pair(lo.frac_part, sl);
    frac_bound fhi;
    if (hi) fhi = std::make_pair(hi->frac_part, sh);
    if (hi && lo.int_part == hi->int_part) {
      const int32_t f = frac_range(flo, fhi, budget, e);
      return g.seq({g.literal(lo.int_part), with_fraction(f, e)});
    }
    std::vector<int32_t> alts;
    const int32_t low = frac_range(flo, std::nullopt, budget, e);
    alts.push_back(g.seq({g.literal(lo.int_part), with_fraction(low, e)}));
    const std::string mid_lo = add_one(lo.int_part);
    std::optional<std::string> mid_hi;
    if (hi && hi->int_part != "0") mid_hi = sub_one(hi->int_part);
    if (!hi || (mid_hi && !less_num(*mid_hi, mid_lo))) {
      alts.push_back(g.seq(
          {uint_range(mid_lo, mid_hi), g.optional(g.seq({g.literal("."), digits(1, budget)}))}));
    }
    if (hi) {
      const int32_t high = frac_range(std::nullopt, fhi, budget, e);
      alts.push_back(g.seq({g.literal(hi->int_part), with_fraction(high, e)}));
    }
    return g.alt(std::move(alts));
  }

  int32_t number_value(const ojson& s, const std::string& path) {
    const bound lo = read_bound(s, "minimum", "exclusiveMinimum", path, true);
    const bound hi = read_bound(s, "maximum", "exclusiveMaximum", path, false);
    if (!lo.set && !hi.set) return number_any();
    if (lo.set && hi.set &&
        (lo.value > hi.value || (lo.value == hi.value && (lo.exclusive || hi.exclusive)))) {
      error(path, "no number lies between the bounds");
    }
    const decimal dlo = to_decimal(lo.value), dhi = to_decimal(hi.value);
    const size_t int_len =
        std::max(lo.set ? dlo.int_part.size() : 1, hi.set ? dhi.int_part.size() : 1);
    // Keep generated numbers within 15 significant digits near the bounds so that the
    // decimal -> double rounding a validator applies cannot cross a bound.
    int budget = std::max<int>(1, std::min<int>(6, 15 - static_cast<int>(int_len)));
    budget = std::max<int>(budget, static_cast<int>(std::max(lo.set ? dlo.frac_part.size() : 0,
                                                             hi.set ? dhi.frac_part.size() : 0)));
    std::vector<int32_t> alts;
    // Negative numbers: -y with y in (max(0, -hi), -lo].
    if (!lo.set || lo.value < 0) {
      decimal ylo;  // 0, exclusive, unless hi < 0
      bool ylo_strict = true;
      if (hi.set && hi.value < 0) {
        ylo = dhi;
        ylo_strict = hi.exclusive;
      }
      std::optional<decimal> yhi;
      if (lo.set) yhi = dlo;
      alts.push_back(g.seq(
          {g.literal("-"), udecimal_range(ylo, ylo_strict, yhi, lo.set && lo.exclusive, budget)}));
    }
    if (!hi.set || hi.value > 0 || (hi.value == 0 && !hi.exclusive)) {
      decimal xlo;
      bool xlo_strict = false;
      if (lo.set && lo.value >= 0) {
        xlo = dlo;
        xlo_strict = lo.exclusive;
      }
      std::optional<decimal> xhi;
      if (hi.set) xhi = dhi;
      alts.push_back(udecimal_range(xlo, xlo_strict, xhi, hi.set && hi.exclusive, budget));
    }
    return g.alt(std::move(alts));
  }

  int32_t format_value(const std::string& f, const std::string& path) {
    static const std::string year = "(\\d{3}[1-9]|\\d{2}[1-9]0|\\d[1-9]00|[1-9]000)";
    static const std::string leap =
        "(\\d\\d(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)";
    static const std::string date = "(" + year + "-(01|03|05|07|08|10|12)-(0[1-9]|[12]\\d|3[01])|" +
                                    year + "-(04|06|09|11)-(0[1-9]|[12]\\d|30)|" + year +
                                    "-02-(0[1-9]|1\\d|2[0-8])|" + leap + "-02-29)";
    static const std::string time =
        "([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(\\.\\d{1,6})?(Z|[+-]([01]\\d|2[0-3]):[0-5]\\d)";
    std::string re;
    if (f == "date") {
      re = date;
    } else if (f == "time") {
      re = time;
    } else if (f == "date-time") {
      re = date + "T" + time;
    } else if (f == "email") {
      re = "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+";
    } else if (f == "uuid") {
      re = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
    } else if (f == "uri") {
      re = "[a-zA-Z][a-zA-Z0-9+.-]*://[a-zA-Z0-9.-]+(:\\d{1,5})?(/"
           "([a-zA-Z0-9._~!$&'()*+,;=:@-]|%[0-9A-F]{2})*)*"
           "(\\?([a-zA-Z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-F]{2})*)?";
    } else {
      error(path,
            "unsupported format '" + f + "' (supported: date, time, date-time, email, uuid, uri)");
    }
    return parse_regex(g, re, {});
  }

  int32_t string_value(const ojson& s, const std::string& path) {
    const bool has_len = s.contains("minLength") || s.contains("maxLength");
    auto count = [&](const char* k, int64_t dflt) -> int32_t {
      if (!s.contains(k)) return static_cast<int32_t>(dflt);
      if (!s[k].is_number_integer() || s[k].get<int64_t>() < 0) {
        error(path, std::string("'") + k + "' must be a non-negative integer");
      }
      const int64_t v = s[k].get<int64_t>();
      if (v > 10000) error(path, std::string("'") + k + "' above 10000 is not supported");
      return static_cast<int32_t>(v);
    };
    if (s.contains("format")) {
      if (has_len || s.contains("pattern")) {
        error(path, "'format' combined with 'pattern' or a length bound is not supported");
      }
      if (!s["format"].is_string()) error(path, "'format' must be a string");
      return quoted(format_value(s["format"].get<std::string>(), path));
    }
    if (s.contains("pattern")) {
      if (has_len) error(path, "'pattern' combined with 'minLength'/'maxLength' is not supported");
      if (!s["pattern"].is_string()) error(path, "'pattern' must be a string");
      regex_options ro;
      ro.search = true;
      ro.lower = json_chars;
      try {
        return quoted(parse_regex(g, s["pattern"].get<std::string>(), ro));
      } catch (const afm::error& e) {
        error(path, std::string("pattern: ") + e.what());
      }
    }
    const int32_t lo = count("minLength", 0), hi = count("maxLength", -1);
    if (hi >= 0 && hi < lo) error(path, "maxLength is below minLength");
    return quoted(g.repeat(string_char(), lo, hi));
  }

  int32_t items_rule(const ojson& items, const std::string& path) {
    auto it = rules_by_path.find(path);
    if (it != rules_by_path.end()) return g.call(it->second);
    const int32_t rule = g.add_rule("items " + display(path));
    rules_by_path.emplace(path, rule);
    g.define(rule, value(items, path));
    return g.call(rule);
  }

  int32_t array_value(const ojson& s, const std::string& path) {
    auto count = [&](const char* k, int64_t dflt) -> int64_t {
      if (!s.contains(k)) return dflt;
      if (!s[k].is_number_integer() || s[k].get<int64_t>() < 0) {
        error(path, std::string("'") + k + "' must be a non-negative integer");
      }
      return s[k].get<int64_t>();
    };
    int64_t min = count("minItems", 0), max = count("maxItems", -1);
    std::vector<int32_t> prefix;
    if (s.contains("prefixItems")) {
      if (!s["prefixItems"].is_array()) error(path, "'prefixItems' must be an array");
      for (size_t i = 0; i < s["prefixItems"].size(); ++i) {
        prefix.push_back(value(s["prefixItems"][i], path + "/prefixItems/" + std::to_string(i)));
      }
    }
    const int64_t P = static_cast<int64_t>(prefix.size());
    // Without "items", a tuple allows nothing after its prefix (documented convention).
    const ojson items = s.contains("items") ? s["items"] : (P > 0 ? ojson(false) : ojson(true));
    if (items == false) max = max < 0 ? P : std::min(max, P);
    if (max >= 0 && max < min)
      error(path, "maxItems (with items) allows fewer items than minItems");
    if (max > 10000 || min > 10000) error(path, "item counts above 10000 are not supported");
    const int32_t extra = items == false ? g.nothing() : items_rule(items, path + "/items");
    const int32_t sep = punct(',');
    // tail(i): elements i.. after at least one element.
    int32_t tail;
    {
      const int64_t extra_lo = std::max<int64_t>(0, min - std::max<int64_t>(P, 1));
      const int64_t extra_hi = max < 0 ? -1 : std::max<int64_t>(0, max - std::max<int64_t>(P, 1));
      tail = (items == false || extra_hi == 0)
                 ? g.empty()
                 : g.repeat(g.seq({sep, extra}), static_cast<int32_t>(extra_lo),
                            static_cast<int32_t>(extra_hi));
      for (int64_t i = P - 1; i >= 1; --i) {
        if (max >= 0 && i >= max) continue;
        const int32_t step = g.seq({sep, prefix[i], tail});
        tail = i < min ? step : g.optional(step);
      }
    }
    int32_t body;
    if (max == 0) {
      body = g.empty();
    } else {
      const int32_t first = P > 0 ? prefix[0] : extra;
      const int32_t list = g.seq({first, tail});
      body = min > 0 ? list : g.optional(list);
    }
    return g.seq({g.literal("["), ws(), body, ws(), g.literal("]")});
  }

  std::string quote_key(const std::string& k, const std::string& path) const {
    std::string out = "\"";
    for (uint32_t cp : decode_all(k, "property name at " + display(path)))
      out += json_escape_char(cp);
    return out + "\"";
  }

  // Keys spelled canonically that are none of `words`.
  int32_t key_except(const std::vector<std::u32string>& words) {
    struct trie_node {
      std::map<uint32_t, int> kids;
      bool word = false;
    };
    std::vector<trie_node> t(1);
    for (const auto& w : words) {
      int cur = 0;
      for (uint32_t cp : w) {
        auto it = t[cur].kids.find(cp);
        if (it == t[cur].kids.end()) {
          t.push_back({});
          it = t[cur].kids.emplace(cp, static_cast<int>(t.size()) - 1).first;
        }
        cur = it->second;
      }
      t[cur].word = true;
    }
    const int32_t any_tail = g.star(json_chars(g, {{0, max_code_point}}));
    std::function<int32_t(int)> build = [&](int u) -> int32_t {
      std::vector<int32_t> alts;
      if (!t[u].word) alts.push_back(g.empty());
      code_ranges used;
      for (auto& [cp, kid] : t[u].kids) {
        alts.push_back(g.seq({json_chars(g, {{cp, cp}}), build(kid)}));
        used.emplace_back(cp, cp);
      }
      alts.push_back(g.seq({json_chars(g, complement(used)), any_tail}));
      return g.alt(std::move(alts));
    };
    return quoted(build(0));
  }

  int32_t object_value(const ojson& s, const std::string& path) {
    std::vector<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) error(path, "'required' must be an array");
      for (auto& r : s["required"]) {
        if (!r.is_string()) error(path, "'required' entries must be strings");
        required.push_back(r.get<std::string>());
      }
    }
    std::vector<std::pair<int32_t, item_kind>> items;
    std::vector<std::u32string> names;
    const int32_t colon = punct(':');
    if (s.contains("properties")) {
      if (!s["properties"].is_object()) error(path, "'properties' must be an object");
      for (auto& [name, sub] : s["properties"].items()) {
        const std::string sub_path = path + "/properties/" + escape_pointer_token(name);
        const bool req = std::find(required.begin(), required.end(), name) != required.end();
        names.push_back(decode_all(name, "property name"));
        if (sub == false) {
          if (req) error(sub_path, "a required property has schema false");
          continue;
        }
        items.emplace_back(
            g.seq({g.literal(quote_key(name, sub_path)), colon, value(sub, sub_path)}),
            req ? item_kind::required : item_kind::optional);
      }
    }
    for (const std::string& r : required) {
      if (!s.contains("properties") || !s["properties"].contains(r)) {
        error(path, "required property '" + r + "' is not declared in 'properties'");
      }
    }
    const ojson extra =
        s.contains("additionalProperties") ? s["additionalProperties"] : ojson(false);
    if (extra != false) {
      if (!extra.is_boolean() && !extra.is_object())
        error(path, "'additionalProperties' must be a schema");
      const int32_t v = extra == true ? any_value() : value(extra, path + "/additionalProperties");
      items.emplace_back(g.seq({key_except(names), colon, v}), item_kind::repeated);
    }
    return g.seq(
        {g.literal("{"), ws(), g.sep_list(punct(','), std::move(items)), ws(), g.literal("}")});
  }

  static bool type_matches(const ojson& v, const std::string& t) {
    if (t == "null") return v.is_null();
    if (t == "boolean") return v.is_boolean();
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "number") return v.is_number();
    if (t == "integer") {
      return v.is_number_integer() ||
             (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
    }
    return false;
  }

  int32_t literal_values(const ojson& s, const std::string& path) {
    ojson values = ojson::array();
    if (s.contains("enum")) {
      if (!s["enum"].is_array()) error(path, "'enum' must be an array");
      values = s["enum"];
    }
    if (s.contains("const")) {
      if (s.contains("enum") &&
          std::find(values.begin(), values.end(), s["const"]) == values.end()) {
        error(path, "'const' is not among the 'enum' values");
      }
      values = ojson::array({s["const"]});
    }
    for (auto& [k, v] : s.items()) {
      if (kKeywords.count(k) && k != "enum" && k != "const" && k != "type") {
        error(path, "'enum'/'const' combined with '" + k + "' is not supported");
      }
    }
    const std::vector<std::string> types = types_of(s);
    std::vector<int32_t> alts;
    for (auto& v : values) {
      bool ok = types.empty();
      for (auto& t : types) ok = ok || type_matches(v, t);
      if (!ok) continue;
      try {
        alts.push_back(g.literal(v.dump()));
      } catch (const nlohmann::json::exception& e) {
        error(path, std::string("enum value cannot be written: ") + e.what());
      }
    }
    if (alts.empty()) error(path, "no 'enum'/'const' value matches the schema's type");
    return g.alt(std::move(alts));
  }

  std::set<std::string> possible_types(const ojson& s) const {
    std::set<std::string> out;
    if (!s.is_object()) return {kAllTypes.begin(), kAllTypes.end()};
    if (s.contains("const") || s.contains("enum")) {
      for (auto& v : s.contains("const") ? ojson::array({s["const"]}) : s["enum"]) {
        for (auto& t : kAllTypes) {
          if (type_matches(v, t)) out.insert(t == "integer" ? "number" : t);
        }
      }
      return out;
    }
    for (auto& t : types_of(s)) out.insert(t == "integer" ? "number" : t);
    if (s.contains("type")) return out;
    return {kAllTypes.begin(), kAllTypes.end()};
  }

  int32_t value(const ojson& s, const std::string& path) {
    if (s.is_boolean()) {
      if (s == false) error(path, "schema false: no value can be generated");
      return any_value();
    }
    if (!s.is_object()) error(path, "a schema must be an object or a boolean");
    check_keywords(s, path);
    if (s.contains("$ref")) {
      if (!s["$ref"].is_string()) error(path, "'$ref' must be a string");
      for (auto& [k, v] : s.items()) {
        if (k != "$ref" && kKeywords.count(k)) {
          return value(deref(s, path), path);  // siblings: inline the target and merge
        }
      }
      return ref_rule(s["$ref"].get<std::string>(), path);
    }
    if (s.contains("allOf")) {
      if (!s["allOf"].is_array() || s["allOf"].empty())
        error(path, "'allOf' must be a non-empty array");
      ojson merged = s;
      merged.erase("allOf");
      for (size_t i = 0; i < s["allOf"].size(); ++i) {
        merged = merge(merged, deref(s["allOf"][i], path + "/allOf/" + std::to_string(i)), path);
      }
      return value(merged, path);
    }
    for (const char* k : {"anyOf", "oneOf"}) {
      if (!s.contains(k)) continue;
      if (s.contains("anyOf") && s.contains("oneOf"))
        error(path, "both 'anyOf' and 'oneOf' are not supported");
      if (!s[k].is_array() || s[k].empty())
        error(path, std::string("'") + k + "' must be a non-empty array");
      ojson rest = s;
      rest.erase(k);
      const bool has_rest =
          std::any_of(rest.items().begin(), rest.items().end(),
                      [](const auto& kv) { return kKeywords.count(kv.key()) > 0; });
      std::vector<int32_t> alts;
      std::vector<std::set<std::string>> kinds;
      for (size_t i = 0; i < s[k].size(); ++i) {
        const std::string bp = path + "/" + k + "/" + std::to_string(i);
        const ojson branch = has_rest ? merge(rest, deref(s[k][i], bp), bp) : s[k][i];
        alts.push_back(value(branch, bp));
        kinds.push_back(possible_types(deref(branch, bp)));
      }
      if (std::string(k) == "oneOf") {
        for (size_t i = 0; i < kinds.size(); ++i) {
          for (size_t j = i + 1; j < kinds.size(); ++j) {
            std::vector<std::string> both;
            std::set_intersection(kinds[i].begin(), kinds[i].end(), kinds[j].begin(),
                                  kinds[j].end(), std::back_inserter(both));
            if (!both.empty()) {
              g.warnings.push_back("JSON Schema at " + display(path) + ": oneOf branches " +
                                   std::to_string(i) + " and " + std::to_string(j) +
                                   " may overlap; generation treats oneOf as anyOf");
            }
          }
        }
      }
      return g.alt(std::move(alts));
    }
    if (s.contains("enum") || s.contains("const")) return literal_values(s, path);
    std::vector<std::string> types = types_of(s);
    if (s.contains("type") && !s["type"].is_string() && !s["type"].is_array()) {
      error(path, "'type' must be a string or an array of strings");
    }
    if (types.empty()) {
      // No type: infer it from the keywords present; none at all means any value.
      auto any_of = [&](const auto& keys) {
        return std::any_of(keys.begin(), keys.end(),
                           [&](const std::string& k) { return s.contains(k); });
      };
      if (any_of(kObjectKeys)) types.push_back("object");
      if (any_of(kArrayKeys)) types.push_back("array");
      if (any_of(kStringKeys)) types.push_back("string");
      if (any_of(kNumberKeys)) types.push_back("number");
      if (types.empty()) return any_value();
    }
    std::vector<int32_t> alts;
    for (const std::string& t : types) {
      if (t == "null") {
        alts.push_back(g.literal("null"));
      } else if (t == "boolean") {
        alts.push_back(g.alt({g.literal("true"), g.literal("false")}));
      } else if (t == "integer") {
        // With "number" also allowed, the number grammar covers integers.
        if (std::find(types.begin(), types.end(), "number") != types.end()) continue;
        alts.push_back(integer_value(s, path));
      } else if (t == "number") {
        alts.push_back(number_value(s, path));
      } else if (t == "string") {
        alts.push_back(string_value(s, path));
      } else if (t == "array") {
        alts.push_back(array_value(s, path));
      } else if (t == "object") {
        alts.push_back(object_value(s, path));
      } else {
        error(path, "unknown type '" + t + "'");
      }
    }
    return g.alt(std::move(alts));
  }
};

}  // namespace
}  // namespace afm::guided

namespace afm {

std::shared_ptr<const grammar> compile_json_schema(std::string_view schema_json,
                                                   const json_schema_options& options) {
  guided::ojson schema;
  try {
    schema = guided::ojson::parse(schema_json);
  } catch (const nlohmann::json::exception& e) {
    fail("JSON Schema is not valid JSON: ", e.what());
  }
  if (options.max_whitespace < 0 || options.max_whitespace > 64) {
    fail("max_whitespace must be between 0 and 64");
  }
  guided::grammar_builder g;
  guided::schema_compiler c{g, schema, options, {}, -1};
  const int32_t root = g.add_rule("root");
  try {
    g.define(root, c.value(schema, ""));
  } catch (const nlohmann::json::exception& e) {
    fail("JSON Schema: malformed keyword value: ", e.what());
  }
  return g.build(root);
}

}  // namespace afm
