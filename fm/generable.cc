// Guides, run-time schemas and error names (include/afm/generable.h, generation_error.h). The
// templates that map C++ types to schemas live in the header.
#include "afm/generable.h"

namespace afm {

const char* to_string(generation_error_kind k) {
  switch (k) {
    case generation_error_kind::exceeded_context_window_size:
      return "exceeded context window size";
    case generation_error_kind::guardrail_violation:
      return "guardrail violation";
    case generation_error_kind::decoding_failure:
      return "decoding failure";
    case generation_error_kind::unsupported_guide:
      return "unsupported guide";
    case generation_error_kind::concurrent_requests:
      return "concurrent requests";
    case generation_error_kind::tool_call_failed:
      return "tool call failed";
    case generation_error_kind::unavailable:
      return "model unavailable";
  }
  return "generation error";
}

namespace {

const char* guide_name(guide::kind k) {
  switch (k) {
    case guide::kind::range:
      return "range";
    case guide::kind::minimum:
      return "minimum";
    case guide::kind::maximum:
      return "maximum";
    case guide::kind::count:
      return "count";
    case guide::kind::min_count:
      return "min_count";
    case guide::kind::max_count:
      return "max_count";
    case guide::kind::any_of:
      return "any_of";
    case guide::kind::constant:
      return "constant";
    case guide::kind::pattern:
      return "pattern";
  }
  return "guide";
}

}  // namespace

void apply_guide(const guide& g, ordered_json& s, const std::string& field) {
  const std::string type = s.contains("type") && s["type"].is_string()
                               ? s["type"].get<std::string>()
                               : std::string("struct");
  auto refuse = [&] {
    throw generation_error(generation_error_kind::unsupported_guide,
                           std::string("guide ") + guide_name(g.k) + " does not apply to field '" +
                               field + "' of type " + type);
  };
  const bool string_guide =
      g.k == guide::kind::any_of || g.k == guide::kind::constant || g.k == guide::kind::pattern;
  if (type == "array" && string_guide && s.contains("items")) {
    apply_guide(g, s["items"], field + "[]");  // string guides on an array bind its elements
    return;
  }
  const bool numeric = type == "integer" || type == "number";
  const bool plain_string = type == "string" && !s.contains("enum");
  switch (g.k) {
    case guide::kind::range:
      if (!numeric || g.lo > g.hi) refuse();
      s["minimum"] = g.lo;
      s["maximum"] = g.hi;
      break;
    case guide::kind::minimum:
      if (!numeric) refuse();
      s["minimum"] = g.lo;
      break;
    case guide::kind::maximum:
      if (!numeric) refuse();
      s["maximum"] = g.hi;
      break;
    case guide::kind::count:
    case guide::kind::min_count:
    case guide::kind::max_count:
      if (type != "array" || g.lo < 0 || g.hi < 0) refuse();
      if (g.k != guide::kind::max_count) s["minItems"] = static_cast<int64_t>(g.lo);
      if (g.k != guide::kind::min_count) s["maxItems"] = static_cast<int64_t>(g.hi);
      break;
    case guide::kind::any_of:
      if (!plain_string || g.strings.empty()) refuse();
      s["enum"] = g.strings;
      break;
    case guide::kind::constant:
      if (!plain_string) refuse();
      s["const"] = g.strings.at(0);
      break;
    case guide::kind::pattern:
      if (!plain_string) refuse();
      s["pattern"] = g.strings.at(0);
      break;
  }
}

namespace dynamic_schema {

namespace {
ordered_json typed(const char* type, const std::vector<guide>& g, const char* what) {
  ordered_json s = {{"type", type}};
  for (const guide& x : g) apply_guide(x, s, what);
  return s;
}
}  // namespace

ordered_json string(std::vector<guide> g) {
  return typed("string", g, "string");
}
ordered_json integer(std::vector<guide> g) {
  return typed("integer", g, "integer");
}
ordered_json number(std::vector<guide> g) {
  return typed("number", g, "number");
}
ordered_json boolean() {
  return {{"type", "boolean"}};
}
ordered_json array(ordered_json items, std::vector<guide> g) {
  ordered_json s = {{"type", "array"}, {"items", std::move(items)}};
  for (const guide& x : g) apply_guide(x, s, "array");
  return s;
}
ordered_json object(const std::vector<property>& properties, const std::string& description) {
  ordered_json props = ordered_json::object(), required = ordered_json::array();
  for (const property& p : properties) {
    ordered_json s = p.schema;
    if (!p.description.empty()) s["description"] = p.description;
    props[p.name] = std::move(s);
    if (!p.optional) required.push_back(p.name);
  }
  ordered_json o = {{"type", "object"},
                    {"properties", props},
                    {"required", required},
                    {"additionalProperties", false}};
  if (!description.empty()) o["description"] = description;
  return o;
}
ordered_json any_of(std::vector<ordered_json> choices) {
  return {{"anyOf", std::move(choices)}};
}

}  // namespace dynamic_schema
}  // namespace afm
