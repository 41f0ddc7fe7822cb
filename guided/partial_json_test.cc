// The incremental JSON reader: snapshots at every byte only ever grow towards the final value,
// escapes split across feeds decode right, paths and missing fields, and clear errors.
#include "afm/partial_json.h"

#include <gtest/gtest.h>

#include <string>

#include "afm/error.h"

namespace afm {
namespace {

using ojson = nlohmann::ordered_json;

// a is a prefix of b: what a holds, b holds too (strings may have grown; containers may have
// gained elements; keys keep their order).
bool prefix_of(const ojson& a, const ojson& b) {
  if (a.is_string())
    return b.is_string() && b.get<std::string>().rfind(a.get<std::string>(), 0) == 0;
  if (a.is_object()) {
    if (!b.is_object() || a.size() > b.size()) return false;
    auto ib = b.begin();
    for (auto ia = a.begin(); ia != a.end(); ++ia, ++ib)
      if (ia.key() != ib.key() || !prefix_of(ia.value(), ib.value())) return false;
    return true;
  }
  if (a.is_array()) {
    if (!b.is_array() || a.size() > b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!prefix_of(a[i], b[i])) return false;
    return true;
  }
  return a == b;
}

const char* const kDocs[] = {
    R"({"title":"Lunch with Sam","date":"2026-11-21","time":"12:30","location":"Caf\u00e9 \"Zinc\"","attendees":["Sam","Ana"],"all_day":false,"priority":3,"cost":-12.5e1,"notes":null,"tags":[]})",
    R"([1, [2, [3, {"a": [true, false, null]}]], "x\ny", {"": {}}, 0.25, -0])",
    "  {\n  \"nested\" : { \"deep\" : [ { \"k\" : \"v\" } ] }\n}  ",
    R"("just a string \ud83d\ude00 \u00e9")",
};

TEST(PartialJson, SnapshotsGrowTowardsTheFinalValueAtEveryByte) {
  for (const char* doc : kDocs) {
    const std::string text = doc;
    const ojson final_value = ojson::parse(text);
    partial_json r;
    ojson prev;
    for (size_t i = 0; i < text.size(); ++i) {
      r.feed(text.substr(i, 1));
      const ojson& snap = r.snapshot();
      if (snap.is_null() && prev.is_null()) continue;  // nothing begun yet (leading whitespace)
      ASSERT_TRUE(prefix_of(snap, final_value)) << "after byte " << i << ": " << snap.dump();
      if (!prev.is_null()) {
        ASSERT_TRUE(prefix_of(prev, snap)) << "after byte " << i;
      }
      prev = snap;
    }
    r.finish();
    EXPECT_TRUE(r.complete());
    EXPECT_EQ(r.snapshot(), final_value) << doc;
  }
}

TEST(PartialJson, InProgressStringAndPath) {
  partial_json r;
  r.feed(R"({"title":"Lunch with Sa)");
  EXPECT_EQ(r.snapshot(), ojson::parse(R"({"title":"Lunch with Sa"})"));
  EXPECT_EQ(r.path(), "/title");
  const nlohmann::json schema = nlohmann::json::parse(
      R"({"type":"object","properties":{"title":{"type":"string"},"date":{"type":"string"},
          "items":{"type":"array","items":{"type":"object","properties":{"x":{},"y":{}}}}}})");
  EXPECT_EQ(r.missing(schema), (std::vector<std::string>{"/date", "/items"}));
  r.feed(R"(m","items":[{"x":1},{"y")");
  EXPECT_EQ(r.path(), "/items/1/y");
  EXPECT_EQ(r.missing(schema),
            (std::vector<std::string>{"/date", "/items/0/y", "/items/1/x", "/items/1/y"}));
  EXPECT_FALSE(r.complete());
  EXPECT_EQ(partial_json().missing(schema), (std::vector<std::string>{""}));
}

TEST(PartialJson, EscapesSplitAcrossFeeds) {
  const std::string text = R"(["a\u00e9\ud83d\ude00\n\t\"\\\/"])";
  partial_json r;
  for (char c : text) r.feed(std::string(1, c));
  r.finish();
  EXPECT_EQ(r.snapshot()[0], "a\u00e9\U0001F600\n\t\"\\/");
}

TEST(PartialJson, NumbersCompleteAtDelimiterOrFinish) {
  partial_json r;
  r.feed("[12");
  EXPECT_EQ(r.snapshot(), ojson::array());  // 12 could still become 123
  r.feed("3,");
  EXPECT_EQ(r.snapshot(), ojson::parse("[123]"));
  partial_json top;
  top.feed("-4.5e2");
  EXPECT_FALSE(top.complete());
  top.finish();
  EXPECT_EQ(top.snapshot(), -450.0);
}

void expect_error(const std::string& text, const std::string& fragment, bool finish = false) {
  partial_json r;
  try {
    r.feed(text);
    if (finish) r.finish();
    FAIL() << "no error for " << text;
  } catch (const error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(PartialJson, ClearErrors) {
  expect_error("{]", "invalid JSON at byte 1: ']' where a property name was expected");
  expect_error(R"({"a" 1})", "':' was expected");
  expect_error("[1,]", "where a value was expected");
  expect_error("\"a\x01\"", "byte 1 where a printable character");
  expect_error("[tru e]", "true, false or null");
  expect_error("[nul]", "not true, false or null");
  expect_error("{} x", "the end of the input");
  expect_error("[01]", "is not a number");
  expect_error("\"\\x\"", "an escape character");
  expect_error(R"({"a":)", "input ended inside /a", true);
  expect_error(R"(["\ud800x"])", "low surrogate");
  expect_error(R"(["\udc00"])", "a high surrogate");
  expect_error("[\"\xc3(\"]", "UTF-8 continuation");
  expect_error("[\"\xff\"]", "valid UTF-8");
  expect_error("[1e999]", "out of range");
}

TEST(PartialJson, LongStringsStayLinear) {
  // 4 MB fed a byte at a time: the reader appends in place, so this is linear work.
  partial_json r;
  r.feed("{\"s\":\"");
  const std::string chunk(1024, 'x');
  for (int i = 0; i < 4096; ++i) r.feed(chunk);
  r.feed("\"}");
  r.finish();
  EXPECT_EQ(r.snapshot()["s"].get_ref<const std::string&>().size(), 4096u * 1024u);
}

}  // namespace
}  // namespace afm
