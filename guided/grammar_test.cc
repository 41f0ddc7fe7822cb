// Front ends (regex, GBNF, JSON Schema) and the matcher. Masks are checked against a brute
// force that tries every token with accept_token on the live parse — no cache, no slices.
#include <gtest/gtest.h>

#include <random>

#include "afm/error.h"
#include "afm/grammar.h"
#include "afm/grammar_matcher.h"

namespace afm {
namespace {

bool accepts_regex(const char* re, std::string_view s) {
  return grammar_accepts(*compile_regex(re), s);
}
bool accepts_schema(const char* schema, std::string_view s) {
  return grammar_accepts(*compile_json_schema(schema), s);
}
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const afm::error& e) {
    return e.what();
  }
  return "";
}

TEST(Regex, Basics) {
  EXPECT_TRUE(accepts_regex("a(b|c)*d", "abcbd"));
  EXPECT_FALSE(accepts_regex("a(b|c)*d", "abxd"));
  EXPECT_TRUE(accepts_regex("[0-9]{2,3}", "123"));
  EXPECT_FALSE(accepts_regex("[0-9]{2,3}", "1234"));
  EXPECT_FALSE(accepts_regex("[0-9]{2,3}", "1"));
  EXPECT_TRUE(accepts_regex("\\d+\\.\\d*", "3."));
  EXPECT_TRUE(accepts_regex("[^a-z]+", "ABC\xc3\xa9"));  // é is not in a-z
  EXPECT_FALSE(accepts_regex("[^a-z]+", "AbC"));
  EXPECT_TRUE(accepts_regex("^x$", "x"));
  EXPECT_TRUE(accepts_regex(".", "\xe2\x82\xac"));  // one code point, three bytes
  EXPECT_FALSE(accepts_regex(".", "\n"));
  EXPECT_FALSE(accepts_regex(".", "\xe2\x82"));  // partial UTF-8
  EXPECT_TRUE(accepts_regex("(?<year>\\d{4})-(?:\\d\\d)", "2024-05"));
  EXPECT_TRUE(accepts_regex("\\u00e9\\x41\\u{1F600}",
                            "\xc3\xa9"
                            "A"
                            "\xf0\x9f\x98\x80"));
  EXPECT_TRUE(accepts_regex("a+?b??", "aa"));
}

TEST(Regex, NestedQuantifiersCollapse) {
  // Found by the fuzzer: stacked unbounded loops used to make closures quadratic.
  std::string many = "x";
  for (int i = 0; i < 40; ++i) many += "+";
  EXPECT_TRUE(accepts_regex(many.c_str(), "xxx"));
  EXPECT_FALSE(accepts_regex(many.c_str(), ""));
  EXPECT_TRUE(accepts_regex("(a*)?b", "b"));
  EXPECT_TRUE(accepts_regex("(a*)?b", "aab"));
  EXPECT_TRUE(accepts_regex("(a+){0}b", "b"));
  EXPECT_FALSE(accepts_regex("(a+){0}b", "ab"));
  EXPECT_TRUE(accepts_regex("(a+){2,}", "aa"));
  EXPECT_FALSE(accepts_regex("(a+){2,}", "a"));
  EXPECT_TRUE(accepts_regex("(a+){0,3}", "aaaaa"));
  EXPECT_TRUE(accepts_regex("(a+){0,3}", ""));
}

TEST(Regex, UnsupportedIsAnError) {
  EXPECT_NE(error_of([] { compile_regex("a(?=b)"); }).find("lookaround"), std::string::npos);
  EXPECT_NE(error_of([] { compile_regex("(a)\\1"); }).find("backreference"), std::string::npos);
  EXPECT_NE(error_of([] { compile_regex("\\bword"); }).find("word boundary"), std::string::npos);
  EXPECT_NE(error_of([] { compile_regex("a^b"); }).find("anchors"), std::string::npos);
  EXPECT_NE(error_of([] { compile_regex("(ab"); }).find("missing ')'"), std::string::npos);
  EXPECT_NE(error_of([] { compile_regex("*a"); }).find("nothing to repeat"), std::string::npos);
  EXPECT_NE(error_of([] { compile_regex("[z-a]"); }).find("out of order"), std::string::npos);
}

TEST(Gbnf, Basics) {
  auto g = compile_gbnf(R"g(
    # arithmetic
    root ::= expr
    expr ::= term (("+" | "-") term)*
    term ::= [0-9]+ | "(" expr ")"
  )g");
  EXPECT_TRUE(grammar_accepts(*g, "1+(2-33)"));
  EXPECT_FALSE(grammar_accepts(*g, "1+"));
  EXPECT_FALSE(grammar_accepts(*g, "(1"));
  auto h = compile_gbnf("root ::= \"a\" |\n  \"b\"{2,3} [^\\n]?\n");
  EXPECT_TRUE(grammar_accepts(*h, "a"));
  EXPECT_TRUE(grammar_accepts(*h, "bbbx"));
  EXPECT_FALSE(grammar_accepts(*h, "b"));
}

TEST(Gbnf, Errors) {
  EXPECT_NE(error_of([] { compile_gbnf("root ::= x"); }).find("'x' is used but not defined"),
            std::string::npos);
  EXPECT_NE(error_of([] { compile_gbnf("a ::= \"x\""); }).find("no 'root'"), std::string::npos);
  EXPECT_NE(error_of([] { compile_gbnf("root ::= root \"a\" | \"b\""); }).find("left recursion"),
            std::string::npos);
  EXPECT_NE(error_of([] { compile_gbnf("root ::= \"a"); }).find("line 1"), std::string::npos);
  EXPECT_NE(error_of([] { compile_gbnf("root ::= <[12]>"); }).find("token references"),
            std::string::npos);
}

TEST(JsonSchema, Objects) {
  const char* s = R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},
                      "c":{"type":"boolean"}},"required":["b"]})";
  EXPECT_TRUE(accepts_schema(s, R"({"b":"x"})"));
  EXPECT_TRUE(accepts_schema(s, R"({"a":1,"b":"x","c":true})"));
  EXPECT_TRUE(accepts_schema(s, R"({"b":"x","c":false})"));
  EXPECT_FALSE(accepts_schema(s, R"({"a":1})"));              // b required
  EXPECT_FALSE(accepts_schema(s, R"({"b":"x","a":1})"));      // declaration order
  EXPECT_FALSE(accepts_schema(s, R"({"b":"x","d":1})"));      // additionalProperties false
  EXPECT_FALSE(accepts_schema(s, R"({"b":"x", "c":true})"));  // compact
  auto spaced = compile_json_schema(s, {.max_whitespace = 2});
  EXPECT_TRUE(grammar_accepts(*spaced, "{ \"b\" : \"x\",\n \"c\":true }"));
  EXPECT_FALSE(grammar_accepts(*spaced, "{   \"b\":\"x\"}"));
  const char* extra = R"({"type":"object","properties":{"a":{"type":"integer"}},
                          "additionalProperties":{"type":"string"}})";
  EXPECT_TRUE(accepts_schema(extra, R"({"a":1,"ab":"x","b":"y"})"));
  EXPECT_FALSE(accepts_schema(extra, R"({"a":1,"a":"x"})"));  // a declared key is not extra
  EXPECT_FALSE(accepts_schema(extra, R"({"b":1})"));
}

TEST(JsonSchema, Numbers) {
  const char* i = R"({"type":"integer","minimum":-15,"exclusiveMaximum":120})";
  for (int v = -30; v <= 140; ++v) {
    EXPECT_EQ(accepts_schema(i, std::to_string(v)), v >= -15 && v < 120) << v;
  }
  EXPECT_FALSE(accepts_schema(i, "007"));
  EXPECT_FALSE(accepts_schema(i, "-0"));
  const char* n = R"({"type":"number","exclusiveMinimum":-1.5,"maximum":2.25})";
  EXPECT_TRUE(accepts_schema(n, "2.25"));
  EXPECT_TRUE(accepts_schema(n, "2.2"));
  EXPECT_TRUE(accepts_schema(n, "-1.49"));
  EXPECT_TRUE(accepts_schema(n, "0"));
  EXPECT_TRUE(accepts_schema(n, "-0.5"));
  EXPECT_FALSE(accepts_schema(n, "-1.5"));
  EXPECT_FALSE(accepts_schema(n, "2.251"));
  EXPECT_FALSE(accepts_schema(n, "2.26"));
  EXPECT_FALSE(accepts_schema(n, "-1.50"));
  EXPECT_TRUE(accepts_schema(R"({"type":"number"})", "-12.5e+3"));
}

TEST(JsonSchema, StringsAndFormats) {
  const char* s = R"({"type":"string","minLength":2,"maxLength":3})";
  EXPECT_TRUE(accepts_schema(s, R"("ab")"));
  EXPECT_TRUE(accepts_schema(s, R"("a\u00e9\n")"));
  EXPECT_TRUE(accepts_schema(s, "\"\xc3\xa9\xc3\xa9\""));
  EXPECT_FALSE(accepts_schema(s, R"("a")"));
  EXPECT_FALSE(accepts_schema(s, R"("abcd")"));
  EXPECT_FALSE(accepts_schema(s, R"("a\ud83d")"));  // lone surrogate escapes are refused
  const char* p = R"({"type":"string","pattern":"^[A-Z]{2}-\\d+$"})";
  EXPECT_TRUE(accepts_schema(p, R"("AB-12")"));
  EXPECT_FALSE(accepts_schema(p, R"("AB-")"));
  const char* unanchored = R"({"type":"string","pattern":"x\"y"})";
  EXPECT_TRUE(accepts_schema(unanchored, R"("aax\"ybb")"));
  EXPECT_FALSE(accepts_schema(unanchored, R"("aaxybb")"));
  const char* date = R"({"type":"string","format":"date"})";
  EXPECT_TRUE(accepts_schema(date, R"("2024-02-29")"));
  EXPECT_FALSE(accepts_schema(date, R"("2023-02-29")"));
  EXPECT_FALSE(accepts_schema(date, R"("1900-02-29")"));
  EXPECT_TRUE(accepts_schema(date, R"("2000-02-29")"));
  EXPECT_FALSE(accepts_schema(date, R"("2024-04-31")"));
  EXPECT_TRUE(accepts_schema(R"({"format":"date-time"})", R"("2024-05-01T13:45:00.25+02:00")"));
  EXPECT_TRUE(accepts_schema(R"({"format":"uuid"})", R"("123e4567-e89b-12d3-a456-426614174000")"));
}

TEST(JsonSchema, ArraysRefsAndCombinators) {
  const char* a = R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3})";
  EXPECT_TRUE(accepts_schema(a, "[1,2,3]"));
  EXPECT_FALSE(accepts_schema(a, "[]"));
  EXPECT_FALSE(accepts_schema(a, "[1,2,3,4]"));
  const char* t = R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}]})";
  EXPECT_TRUE(accepts_schema(t, R"(["a",1])"));
  EXPECT_TRUE(accepts_schema(t, R"(["a"])"));
  EXPECT_FALSE(accepts_schema(t, R"([1])"));
  EXPECT_FALSE(accepts_schema(t, R"(["a",1,2])"));
  const char* tree = R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},
      "kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}},
      "$ref":"#/$defs/node"})";
  EXPECT_TRUE(accepts_schema(tree, R"({"v":1,"kids":[{"v":2},{"v":3,"kids":[{"v":4}]}]})"));
  EXPECT_FALSE(accepts_schema(tree, R"({"v":1,"kids":[{"kids":[]}]})"));
  const char* any = R"({"anyOf":[{"type":"null"},{"type":"string","maxLength":1}]})";
  EXPECT_TRUE(accepts_schema(any, "null"));
  EXPECT_TRUE(accepts_schema(any, R"("x")"));
  EXPECT_FALSE(accepts_schema(any, R"("xy")"));
  const char* all =
      R"({"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},
      {"properties":{"a":{"minimum":5},"b":{"type":"boolean"}}}]})";
  EXPECT_TRUE(accepts_schema(all, R"({"a":5,"b":true})"));
  EXPECT_FALSE(accepts_schema(all, R"({"a":4})"));
  const char* e = R"({"enum":["red",1,null,{"k":[true]}]})";
  EXPECT_TRUE(accepts_schema(e, R"({"k":[true]})"));
  EXPECT_TRUE(accepts_schema(e, R"("red")"));
  EXPECT_FALSE(accepts_schema(e, R"("blue")"));
}

TEST(JsonSchema, UnsupportedKeywordsAreNamed) {
  for (const char* kw : {"patternProperties", "minProperties", "uniqueItems", "contains", "not",
                         "if", "multipleOf", "dependentRequired", "propertyNames"}) {
    const std::string schema =
        std::string(R"({"type":"object","properties":{"x":{")") + kw + R"(":1}}})";
    const std::string msg = error_of([&] { compile_json_schema(schema); });
    EXPECT_NE(msg.find(std::string("'") + kw + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("/properties/x"), std::string::npos) << msg;
  }
  EXPECT_NE(error_of([] { compile_json_schema(R"({"format":"hostname"})"); }).find("hostname"),
            std::string::npos);
  EXPECT_NE(error_of([] { compile_json_schema(R"({"$ref":"#/nope"})"); }).find("does not resolve"),
            std::string::npos);
  EXPECT_NE(error_of([] { compile_json_schema("{"); }).find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of([] { compile_json_schema(R"({"$ref":"#"})"); }).find("matches nothing"),
            std::string::npos);
}

// A vocabulary with multi-terminal tokens, prefixes of each other, partial UTF-8 and
// duplicates.
std::shared_ptr<const token_vocabulary> toy_vocab() {
  std::vector<std::string> t = {
      "<eos>", "{",    "}",        "\"",  ":",      ",",      "[",  "]",    "{\"", "\":",  "\",\"",
      "\"}",   "\"},", "}]",       "},{", "a",      "b",      "ab", "abc",  " ",   "1",    "12",
      "123",   "-",    ".",        "0",   "true",   "tr",     "ue", "null", "\\",  "\\n",  "n",
      "\xc3",  "\xa9", "\xc3\xa9", "x\"", "\"a\":", "\"b\":", "1,", "1}",   "ab",  "\"\"", "e",
      "E",     "+",    "5",        "9",   "\":\"",  "\\u00",  "e9", "u"};
  for (int b = 0; b < 256; ++b) t.push_back(std::string(1, static_cast<char>(b)));
  return token_vocabulary::build(t, {0}, {});
}

int g_checked_steps = 0;

void expect_masks_match_brute_force(grammar_matcher& m, const token_vocabulary& v,
                                    std::mt19937& rng, int steps) {
  std::vector<uint32_t> mask(v.mask_words());
  for (int step = 0; step < steps && !m.is_terminated(); ++step) {
    m.fill_next_token_mask(mask);
    std::vector<int32_t> allowed;
    for (int32_t t = 0; t < v.size; ++t) {
      const bool fast = (mask[t >> 5] >> (t & 31)) & 1;
      const bool slow = m.accept_token(t);
      if (slow) m.rollback(1);
      ASSERT_EQ(fast, slow) << "token " << t << " '" << v.bytes[t] << "' at step " << step;
      if (slow) allowed.push_back(t);
    }
    ASSERT_FALSE(allowed.empty());
    ++g_checked_steps;
    // Prefer structure over endless text so walks finish.
    int32_t pick = allowed[rng() % allowed.size()];
    if (rng() % 4 == 0) {
      int64_t best = INT64_MAX;
      for (int32_t t : allowed) {
        m.accept_token(t);
        const int64_t d = m.distance_to_end();
        m.rollback(1);
        if (d < best) best = d, pick = t;
      }
    }
    ASSERT_TRUE(m.accept_token(pick));
  }
}

TEST(Matcher, MasksEqualBruteForce) {
  auto v = toy_vocab();
  std::mt19937 rng(7);
  const std::vector<std::string> schemas = {
      R"({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["a"]})",
      R"({"type":"array","items":{"type":"object","properties":{"a":{"type":"number"}}}})",
      R"({"type":"array","items":{"type":"string","maxLength":3}})",
      R"({"$defs":{"n":{"type":"array","items":{"$ref":"#/$defs/n"}}},"$ref":"#/$defs/n"})",
      R"({"type":"object","additionalProperties":{"type":"boolean"}})",
      R"({"type":"string","pattern":"^a+(b|\"c)$"})",
      R"({"anyOf":[{"type":"integer"},{"type":"array","items":{"type":"integer"}}]})",
      R"(true)",
  };
  for (const std::string& s : schemas) {
    for (int run = 0; run < 20; ++run) {
      SCOPED_TRACE(s);
      grammar_matcher m(compile_json_schema(s), v);
      expect_masks_match_brute_force(m, *v, rng, 60);
    }
  }
  for (const char* gbnf :
       {"root ::= (\"ab\" | [a-c]+ \" \")* \"1\"", "root ::= x x\nx ::= \"a\"? \"b\"*",
        // Highly ambiguous: dozens of live heads per position.
        "root ::= y y y y\ny ::= x x x\nx ::= \"a\"? \"b\"?"}) {
    for (int run = 0; run < 4; ++run) {
      grammar_matcher m(compile_gbnf(gbnf), v);
      expect_masks_match_brute_force(m, *v, rng, 20);
    }
  }
  EXPECT_GT(g_checked_steps, 600);  // the walks really ran
}

TEST(Matcher, RollbackForcedAndEos) {
  auto v = toy_vocab();
  grammar_matcher m(compile_json_schema(R"({"type":"object","properties":{"ab":{"type":"integer"}},
                                           "required":["ab"]})"),
                    v);
  EXPECT_EQ(m.forced_continuation(), "{\"ab\":");
  EXPECT_FALSE(m.can_end());
  std::vector<uint32_t> mask(v->mask_words());
  m.fill_next_token_mask(mask);
  EXPECT_FALSE(mask[0] & 1);  // no EOS yet
  ASSERT_TRUE(m.accept_bytes("{\"ab\":12"));
  EXPECT_EQ(m.forced_continuation(), "");  // a digit or '}' may follow
  ASSERT_TRUE(m.accept_bytes("}"));
  EXPECT_TRUE(m.can_end());
  m.fill_next_token_mask(mask);
  EXPECT_TRUE(mask[0] & 1);
  EXPECT_TRUE(m.is_terminated());
  m.rollback(1);
  EXPECT_FALSE(m.can_end());
  EXPECT_FALSE(m.accept_bytes("x"));
  EXPECT_EQ(m.steps(), 1u);
  EXPECT_TRUE(m.accept_token(2));  // "}"
  EXPECT_TRUE(m.accept_token(0));  // EOS
  EXPECT_FALSE(m.accept_token(2));
  m.rollback(3);
  EXPECT_EQ(m.steps(), 0u);
  EXPECT_THROW(m.rollback(1), afm::error);
}

TEST(Matcher, TokensSpanTerminals) {
  auto v = toy_vocab();
  grammar_matcher m(compile_json_schema(R"({"type":"object","properties":{"a":{"type":"string"},
      "b":{"type":"string"}},"required":["a","b"]})"),
                    v);
  ASSERT_TRUE(m.accept_bytes("{\"a\":\"x"));
  std::vector<uint32_t> mask(v->mask_words());
  m.fill_next_token_mask(mask);
  auto allowed = [&](const std::string& s) {
    for (int32_t t = 0; t < v->size; ++t) {
      if (v->bytes[t] == s) return ((mask[t >> 5] >> (t & 31)) & 1) != 0;
    }
    ADD_FAILURE() << "no token " << s;
    return false;
  };
  EXPECT_TRUE(allowed("\",\""));  // closes a, opens b's key: three terminals in one token
  EXPECT_FALSE(allowed("\"}"));   // b is required
  EXPECT_TRUE(allowed("\xc3"));   // the first byte of é
}

}  // namespace
}  // namespace afm
