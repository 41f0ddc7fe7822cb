// Generable declarations: schemas from C++ types (order, optionality, guides, enums, nesting,
// recursion), conversion of content into the types, and partial values.
#include <gtest/gtest.h>

#include "afm/generable.h"
#include "afm/grammar.h"

namespace fmtest {
enum class priority { low, high };
struct tag {
  std::string name;
  priority level;
};
struct node {
  int value;
  std::vector<node> children;
};
struct event {
  std::string title;
  std::optional<std::string> location;
  std::vector<tag> tags;
  double price;
  bool free;
};
struct bad_guide {
  std::string s;
};
}  // namespace fmtest

AFM_GENERABLE_ENUM(fmtest::priority, {fmtest::priority::low, "low"},
                   {fmtest::priority::high, "high"});
AFM_GENERABLE(fmtest::tag, "A label",
              AFM_FIELD(name, "The label", afm::guides::pattern("^[a-z]+$")),
              AFM_FIELD(level, "How urgent"));
AFM_GENERABLE(fmtest::node, "A tree", AFM_FIELD(value, "Value", afm::guides::range(0, 9)),
              AFM_FIELD(children, "Subtrees", afm::guides::max_count(2)));
AFM_GENERABLE(fmtest::event, "An event", AFM_FIELD(title, "Title"), AFM_FIELD(location, "Where"),
              AFM_FIELD(tags, "Labels", afm::guides::count(2)),
              AFM_FIELD(price, "Price", afm::guides::minimum(0)), AFM_FIELD(free, "Free entry"));
AFM_GENERABLE(fmtest::bad_guide, "Wrong guide", AFM_FIELD(s, "A string", afm::guides::range(1, 2)));

namespace afm {
namespace {

TEST(Generable, SchemaFollowsDeclaration) {
  const ordered_json s = generation_schema::of<fmtest::event>().json;
  const ordered_json& e = s["$defs"]["fmtest__event"];
  std::vector<std::string> keys;
  for (auto& [k, v] : e["properties"].items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"title", "location", "tags", "price", "free"}));
  EXPECT_EQ(e["required"], ordered_json({"title", "tags", "price", "free"}));
  EXPECT_EQ(e["properties"]["tags"]["minItems"], 2);
  EXPECT_EQ(e["properties"]["price"]["minimum"], 0.0);
  EXPECT_EQ(s["$defs"]["fmtest__tag"]["properties"]["level"]["enum"],
            ordered_json({"low", "high"}));
  // The schema compiles and accepts a value of the type.
  auto g = compile_json_schema(s.dump());
  EXPECT_TRUE(grammar_accepts(
      *g,
      R"({"title":"x","tags":[{"name":"a","level":"low"},{"name":"b","level":"high"}],"price":2.5,"free":false})"));
  EXPECT_FALSE(grammar_accepts(*g, R"({"title":"x","tags":[],"price":2.5,"free":false})"));
}

TEST(Generable, RecursiveTypes) {
  const ordered_json s = generation_schema::of<fmtest::node>().json;
  EXPECT_EQ(s["$defs"]["fmtest__node"]["properties"]["children"]["items"]["$ref"],
            "#/$defs/fmtest__node");
  auto g = compile_json_schema(s.dump());
  EXPECT_TRUE(grammar_accepts(*g, R"({"value":1,"children":[{"value":2,"children":[]}]})"));
  const fmtest::node n = content_as<fmtest::node>(
      {ordered_json::parse(R"({"value":1,"children":[{"value":2,"children":[]}]})"), true});
  ASSERT_EQ(n.children.size(), 1u);
  EXPECT_EQ(n.children[0].value, 2);
}

TEST(Generable, ContentConversionAndErrors) {
  const auto e = content_as<fmtest::event>(
      {ordered_json::parse(
           R"({"title":"x","tags":[{"name":"a","level":"high"}],"price":1,"free":true})"),
       true});
  EXPECT_EQ(e.title, "x");
  EXPECT_FALSE(e.location.has_value());
  EXPECT_EQ(e.tags[0].level, fmtest::priority::high);
  EXPECT_DOUBLE_EQ(e.price, 1.0);
  try {
    content_as<fmtest::event>({ordered_json::parse(R"({"title":"x"})"), true});
    FAIL() << "no error";
  } catch (const generation_error& err) {
    EXPECT_EQ(err.kind(), generation_error_kind::decoding_failure);
    EXPECT_NE(std::string(err.what()).find("/tags"), std::string::npos);
  }
}

TEST(Generable, UnsupportedGuide) {
  try {
    generation_schema::of<fmtest::bad_guide>();
    FAIL() << "no error";
  } catch (const generation_error& err) {
    EXPECT_EQ(err.kind(), generation_error_kind::unsupported_guide);
    EXPECT_NE(std::string(err.what()).find("'s'"), std::string::npos);
  }
}

TEST(Generable, PartiallyGenerated) {
  partially_generated<fmtest::event> p(
      ordered_json::parse(R"({"title":"Jaz","tags":[{"name":"a"}]})"));
  EXPECT_EQ(p.get(&fmtest::event::title), std::optional<std::string>("Jaz"));
  EXPECT_FALSE(p.get(&fmtest::event::price).has_value());
  auto tags = p.get(&fmtest::event::tags);
  ASSERT_TRUE(tags.has_value());
  ASSERT_EQ(tags->size(), 1u);
  EXPECT_EQ((*tags)[0].get(&fmtest::tag::name), std::optional<std::string>("a"));
  EXPECT_FALSE((*tags)[0].get(&fmtest::tag::level).has_value());
}

TEST(Generable, DynamicSchema) {
  namespace ds = dynamic_schema;
  const ordered_json s =
      ds::object({{"city", ds::string({guides::any_of({"Oslo", "Rome"})}), "City", false},
                  {"days", ds::integer({guides::range(1, 7)}), "", true}});
  auto g = compile_json_schema(s.dump());
  EXPECT_TRUE(grammar_accepts(*g, R"({"city":"Rome","days":3})"));
  EXPECT_FALSE(grammar_accepts(*g, R"({"city":"Paris"})"));
  EXPECT_THROW(ds::array(ds::string(), {guides::range(1, 2)}), generation_error);
  EXPECT_EQ(ds::array(ds::string(), {guides::pattern("^x$")})["items"]["pattern"],
            "^x$");  // per element
}

}  // namespace
}  // namespace afm
