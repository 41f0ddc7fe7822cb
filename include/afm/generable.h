// Guided generation into the caller's own C++ types — the counterparts of the Foundation Models
// framework's @Generable, @Guide, GenerationSchema, DynamicGenerationSchema, GeneratedContent and
// PartiallyGenerated.
//
//   struct Event {
//     std::string title;
//     std::string date;
//     std::optional<std::string> location;     // optional: may be left out
//     std::vector<std::string> attendees;
//   };
//   AFM_GENERABLE(Event, "A calendar event",
//     AFM_FIELD(title, "The event's title"),
//     AFM_FIELD(date, "ISO date", afm::guides::pattern("^\\d{4}-\\d{2}-\\d{2}$")),
//     AFM_FIELD(location, "Where it happens"),
//     AFM_FIELD(attendees, "Who comes", afm::guides::max_count(5)));
//
//   afm::generation_schema s = afm::generation_schema::of<Event>();   // JSON Schema
//   Event e = afm::content_as<Event>(content);                        // from generated JSON
//   afm::partially_generated<Event> p(snapshot);  p.get(&Event::title) // std::optional<string>
//
// Fields keep their declaration order in the schema (and so in generation). Supported field
// types: std::string, bool, integers, floating point, std::vector<U>, std::optional<U>, enums
// declared with AFM_GENERABLE_ENUM (generated as string choices), and other AFM_GENERABLE
// structs, recursion included (a struct may hold std::vector of itself).
#pragma once

#include <cctype>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "afm/generation_error.h"

namespace afm {

using ordered_json = nlohmann::ordered_json;

// A @Guide: a constraint on one field, checked against the field's type when the schema is
// built (a mismatch is generation_error unsupported_guide).
struct guide {
  enum class kind {
    range,
    minimum,
    maximum,
    count,
    min_count,
    max_count,
    any_of,
    constant,
    pattern
  };
  kind k;
  double lo = 0, hi = 0;
  std::vector<std::string> strings;
};

namespace guides {
inline guide range(double lo, double hi) {
  return {guide::kind::range, lo, hi, {}};
}
inline guide minimum(double v) {
  return {guide::kind::minimum, v, 0, {}};
}
inline guide maximum(double v) {
  return {guide::kind::maximum, 0, v, {}};
}
inline guide count(int n) {
  return {guide::kind::count, double(n), double(n), {}};
}
inline guide min_count(int n) {
  return {guide::kind::min_count, double(n), 0, {}};
}
inline guide max_count(int n) {
  return {guide::kind::max_count, 0, double(n), {}};
}
inline guide any_of(std::vector<std::string> choices) {
  return {guide::kind::any_of, 0, 0, std::move(choices)};
}
inline guide constant(std::string value) {
  return {guide::kind::constant, 0, 0, {std::move(value)}};
}
inline guide pattern(std::string regex) {
  return {guide::kind::pattern, 0, 0, {std::move(regex)}};
}
}  // namespace guides

// Applies a guide to a field's schema; throws unsupported_guide naming the field. String guides
// (any_of, constant, pattern) on an array apply to its elements.
void apply_guide(const guide& g, ordered_json& schema, const std::string& field);

// A JSON Schema the session enforces: built from a type (of<T>) or by hand (dynamic_schema).
struct generation_schema {
  ordered_json json;
  template <class T>
  static generation_schema of();
};

// The content a guided response produced: a JSON value (complete once generation ends).
struct generated_content {
  ordered_json json;
  bool complete = false;
};

// Building schemas at run time (DynamicGenerationSchema).
namespace dynamic_schema {
struct property {
  std::string name;
  ordered_json schema;
  std::string description;
  bool optional = false;
};
ordered_json string(std::vector<guide> g = {});
ordered_json integer(std::vector<guide> g = {});
ordered_json number(std::vector<guide> g = {});
ordered_json boolean();
ordered_json array(ordered_json items, std::vector<guide> g = {});
ordered_json object(const std::vector<property>& properties, const std::string& description = {});
ordered_json any_of(std::vector<ordered_json> choices);
}  // namespace dynamic_schema

// ---- @Generable declarations ----------------------------------------------------------

template <class T>
struct generable;  // specialized by AFM_GENERABLE
template <class E>
struct generable_enum;  // specialized by AFM_GENERABLE_ENUM

template <class T, class M>
struct field_info {
  const char* name;
  const char* description;
  M T::*member;
  std::vector<guide> guides;
};
template <class T, class M>
field_info<T, M> make_field(const char* name, const char* description, M T::*member,
                            std::initializer_list<guide> g = {}) {
  return {name, description, member, std::vector<guide>(g)};
}

template <class T>
concept generable_struct = requires {
  generable<T>::fields();
};
template <class E>
concept generable_choice = std::is_enum_v<E> && requires {
  generable_enum<E>::values();
};

namespace detail {
template <class T>
struct is_vector : std::false_type {};
template <class U>
struct is_vector<std::vector<U>> : std::true_type {
  using element = U;
};
template <class T>
struct is_optional : std::false_type {};
template <class U>
struct is_optional<std::optional<U>> : std::true_type {
  using element = U;
};

inline std::string defs_key(const char* name) {
  std::string s;
  for (const char* p = name; *p; ++p) s += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
  return s;
}

template <class T>
ordered_json schema_for(ordered_json& defs);

template <class S>
ordered_json struct_schema(ordered_json& defs) {
  const std::string key = defs_key(generable<S>::name);
  const ordered_json ref = {{"$ref", "#/$defs/" + key}};
  if (defs.contains(key)) return ref;
  defs[key] = ordered_json::object();  // placeholder first: recursive types refer back to it
  ordered_json props = ordered_json::object(), required = ordered_json::array();
  std::apply(
      [&](const auto&... f) {
        (
            [&] {
              using M = std::remove_cvref_t<decltype(std::declval<S>().*(f.member))>;
              ordered_json s = schema_for<M>(defs);
              if (f.description && *f.description) s["description"] = f.description;
              for (const guide& g : f.guides) apply_guide(g, s, f.name);
              props[f.name] = std::move(s);
              if (!is_optional<M>::value) required.push_back(f.name);
            }(),
            ...);
      },
      generable<S>::fields());
  ordered_json o = {{"type", "object"},
                    {"properties", props},
                    {"required", required},
                    {"additionalProperties", false}};
  if (generable<S>::description && *generable<S>::description) {
    o["description"] = generable<S>::description;
  }
  defs[key] = std::move(o);
  return ref;
}

template <class T>
ordered_json schema_for(ordered_json& defs) {
  if constexpr (std::is_same_v<T, std::string>) {
    return {{"type", "string"}};
  } else if constexpr (std::is_same_v<T, bool>) {
    return {{"type", "boolean"}};
  } else if constexpr (std::is_integral_v<T>) {
    return {{"type", "integer"}};
  } else if constexpr (std::is_floating_point_v<T>) {
    return {{"type", "number"}};
  } else if constexpr (is_vector<T>::value) {
    return {{"type", "array"}, {"items", schema_for<typename is_vector<T>::element>(defs)}};
  } else if constexpr (is_optional<T>::value) {
    return schema_for<typename is_optional<T>::element>(defs);
  } else if constexpr (generable_choice<T>) {
    ordered_json choices = ordered_json::array();
    for (const auto& [v, name] : generable_enum<T>::values()) choices.push_back(name);
    return {{"type", "string"}, {"enum", choices}};
  } else if constexpr (generable_struct<T>) {
    return struct_schema<T>(defs);
  } else {
    static_assert(sizeof(T) == 0, "not a generable type: declare it with AFM_GENERABLE");
  }
}

[[noreturn]] inline void bad_content(const std::string& path, const std::string& what) {
  throw generation_error(generation_error_kind::decoding_failure,
                         "content at " + (path.empty() ? std::string("/") : path) + " " + what);
}

template <class T>
T value_from(const ordered_json& j, const std::string& path) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) bad_content(path, "is not a string");
    return j.get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) bad_content(path, "is not a boolean");
    return j.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!j.is_number_integer()) bad_content(path, "is not an integer");
    return j.get<T>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number()) bad_content(path, "is not a number");
    return j.get<T>();
  } else if constexpr (is_vector<T>::value) {
    if (!j.is_array()) bad_content(path, "is not an array");
    T out;
    for (size_t i = 0; i < j.size(); ++i) {
      out.push_back(
          value_from<typename is_vector<T>::element>(j[i], path + "/" + std::to_string(i)));
    }
    return out;
  } else if constexpr (is_optional<T>::value) {
    if (j.is_null()) return std::nullopt;
    return value_from<typename is_optional<T>::element>(j, path);
  } else if constexpr (generable_choice<T>) {
    if (!j.is_string()) bad_content(path, "is not a string choice");
    for (const auto& [v, name] : generable_enum<T>::values()) {
      if (j.get<std::string>() == name) return v;
    }
    bad_content(path, "is not one of the choices");
  } else {
    static_assert(generable_struct<T>, "not a generable type: declare it with AFM_GENERABLE");
    if (!j.is_object()) bad_content(path, "is not an object");
    T out{};
    std::apply(
        [&](const auto&... f) {
          (
              [&] {
                using M = std::remove_cvref_t<decltype(out.*(f.member))>;
                const std::string p = path + "/" + f.name;
                if (j.contains(f.name)) {
                  out.*(f.member) = value_from<M>(j[f.name], p);
                } else if constexpr (!is_optional<M>::value) {
                  bad_content(p, "is missing");
                }
              }(),
              ...);
        },
        generable<T>::fields());
    return out;
  }
}
}  // namespace detail

template <class T>
generation_schema generation_schema::of() {
  ordered_json defs = ordered_json::object();
  ordered_json root = detail::schema_for<T>(defs);
  if (defs.empty()) return {root};
  ordered_json s = {{"$defs", defs}};
  for (auto& [k, v] : root.items()) s[k] = v;
  return {s};
}

// Converts generated content into T; generation_error decoding_failure if it does not fit.
template <class T>
T content_as(const generated_content& c) {
  return detail::value_from<T>(c.json, "");
}

// ---- PartiallyGenerated ---------------------------------------------------------------

template <class T>
class partially_generated;

namespace detail {
template <class T>
struct partial_type {
  using type = T;  // scalars appear whole
};
template <class U>
struct partial_type<std::vector<U>> {
  using type = std::vector<typename partial_type<U>::type>;
};
template <class U>
struct partial_type<std::optional<U>> {
  using type = typename partial_type<U>::type;
};
template <generable_struct S>
struct partial_type<S> {
  using type = partially_generated<S>;
};

template <class T>
std::optional<typename partial_type<T>::type> partial_from(const ordered_json& j);
}  // namespace detail

// The value so far of a T being generated: each field is present once it has begun (strings
// grow, numbers and booleans appear once whole, nested structs are partial themselves).
template <class T>
class partially_generated {
 public:
  partially_generated() = default;
  explicit partially_generated(ordered_json snapshot) : json_(std::move(snapshot)) {}

  template <class M>
  std::optional<typename detail::partial_type<M>::type> get(M T::*member) const {
    std::optional<typename detail::partial_type<M>::type> out;
    std::apply(
        [&](const auto&... f) {
          (
              [&] {
                if constexpr (std::is_same_v<decltype(f.member), M T::*>) {
                  if (f.member == member && json_.is_object() && json_.contains(f.name)) {
                    out = detail::partial_from<M>(json_[f.name]);
                  }
                }
              }(),
              ...);
        },
        generable<T>::fields());
    return out;
  }
  const ordered_json& json() const { return json_; }

 private:
  ordered_json json_;
};

namespace detail {
template <class T>
std::optional<typename partial_type<T>::type> partial_from(const ordered_json& j) {
  using P = typename partial_type<T>::type;
  if constexpr (is_vector<T>::value) {
    if (!j.is_array()) return std::nullopt;
    P out;
    for (const auto& e : j) {
      auto v = partial_from<typename is_vector<T>::element>(e);
      if (v) out.push_back(std::move(*v));
    }
    return out;
  } else if constexpr (is_optional<T>::value) {
    return partial_from<typename is_optional<T>::element>(j);
  } else if constexpr (generable_struct<T>) {
    if (!j.is_object()) return std::nullopt;
    return P(j);
  } else {
    try {
      return value_from<T>(j, "");
    } catch (const generation_error&) {
      return std::nullopt;
    }
  }
}
}  // namespace detail

}  // namespace afm

// Declares a struct's generable fields, in order; each field is AFM_FIELD(member, description,
// guides...). Use at global scope, after the struct's definition.
#define AFM_GENERABLE(Type, Description, ...)                     \
  template <>                                                     \
  struct afm::generable<Type> {                                   \
    using self = Type;                                            \
    static constexpr const char* name = #Type;                    \
    static constexpr const char* description = Description;       \
    static auto fields() { return std::make_tuple(__VA_ARGS__); } \
  }
#define AFM_FIELD(member, description, ...) \
  ::afm::make_field(#member, description, &self::member, {__VA_ARGS__})
// Declares an enum's choices: AFM_GENERABLE_ENUM(Color, {Color::red, "red"}, ...).
#define AFM_GENERABLE_ENUM(Type, ...)                                                   \
  template <>                                                                           \
  struct afm::generable_enum<Type> {                                                    \
    static std::vector<std::pair<Type, const char*>> values() { return {__VA_ARGS__}; } \
  }
