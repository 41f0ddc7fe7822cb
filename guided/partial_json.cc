// The incremental JSON reader: a byte-at-a-time state machine over a stack of open containers.
// New values are inserted into the snapshot tree as soon as they start (containers, strings) or
// complete (numbers, literals); a parent is never modified while a child is open, so the
// pointers on the stack stay valid.
#include "afm/partial_json.h"

#include "json_pointer.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "afm/error.h"

namespace afm {
namespace {

void append_utf8(std::string& s, uint32_t cp) {
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xc0 | cp >> 6);
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xe0 | cp >> 12);
    s += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    s += static_cast<char>(0xf0 | cp >> 18);
    s += static_cast<char>(0x80 | (cp >> 12 & 0x3f));
    s += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool valid_number(const std::string& s) {
  size_t i = 0;
  auto digits = [&] {
    const size_t b = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > b;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

}  // namespace

void partial_json::bad(char c, const char* expected) const {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f)
    fail("invalid JSON at byte ", offset_, ": '", c, "' where ", expected, " was expected");
  fail("invalid JSON at byte ", offset_, ": byte ", static_cast<int>(u), " where ", expected,
       " was expected");
}

void partial_json::feed(std::string_view bytes) {
  for (char c : bytes) {
    byte(c);
    ++offset_;
  }
}

void partial_json::finish() {
  if (scalar_ == scalar::number || scalar_ == scalar::literal) end_scalar();
  if (!done_)
    fail("incomplete JSON: the input ended inside ", path().empty() ? "the value" : path());
}

nlohmann::ordered_json* partial_json::place(nlohmann::ordered_json v) {
  started_ = true;
  if (stack_.empty()) {
    root_ = std::move(v);
    return &root_;
  }
  frame& top = stack_.back();
  if (top.kind == ctx::array) {
    top.node->push_back(std::move(v));
    return &top.node->back();
  }
  auto& slot = (*top.node)[top.key];
  slot = std::move(v);
  return &slot;
}

void partial_json::end_value() {
  if (stack_.empty()) {
    done_ = true;
  } else {
    want_ = want::comma_or_end;
  }
}

void partial_json::end_scalar() {
  const scalar s = scalar_;
  scalar_ = scalar::none;
  if (s == scalar::number) {
    if (!valid_number(buf_))
      fail("invalid JSON at byte ", offset_, ": '", buf_, "' is not a number");
    // As nlohmann reads numbers: int64, else uint64, else double; beyond double's range is an
    // error.
    const bool integral = buf_.find_first_of(".eE") == std::string::npos;
    nlohmann::ordered_json v;
    errno = 0;
    const long long i = integral ? std::strtoll(buf_.c_str(), nullptr, 10) : 0;
    if (integral && errno == 0) {
      v = static_cast<int64_t>(i);
    } else {
      errno = 0;
      const unsigned long long u =
          buf_[0] != '-' && integral ? std::strtoull(buf_.c_str(), nullptr, 10) : 0;
      if (buf_[0] != '-' && integral && errno == 0) {
        v = static_cast<uint64_t>(u);
      } else {
        const double d = std::strtod(buf_.c_str(), nullptr);
        if (std::isinf(d)) fail("invalid JSON at byte ", offset_, ": ", buf_, " is out of range");
        v = d;
      }
    }
    place(std::move(v));
  } else {  // literal
    if (buf_ == "true") {
      place(true);
    } else if (buf_ == "false") {
      place(false);
    } else if (buf_ == "null") {
      place(nullptr);
    } else {
      fail("invalid JSON at byte ", offset_, ": '", buf_, "' is not true, false or null");
    }
  }
  end_value();
}

void partial_json::string_byte(char c) {
  std::string& out = scalar_ == scalar::key ? buf_ : str_->get_ref<std::string&>();
  if (escape_ == 0) {
    if (utf8_need_ > 0 && (c == '"' || c == '\\')) bad(c, "a UTF-8 continuation byte");
    if (high_surrogate_ && c != '\\') bad(c, "the low surrogate (\\uDC00-\\uDFFF) of a pair");
    if (c == '"') {
      if (scalar_ == scalar::key) {
        stack_.back().key = buf_;
        want_ = want::colon;
        scalar_ = scalar::none;
      } else {
        scalar_ = scalar::none;
        end_value();
      }
      return;
    }
    if (c == '\\') {
      escape_ = 1;
      return;
    }
    const auto u = static_cast<unsigned char>(c);
    if (utf8_need_ > 0) {  // inside a multi-byte character
      if (u < utf8_lo_ || u > utf8_hi_) bad(c, "a UTF-8 continuation byte");
      utf8_pending_ += c;
      utf8_lo_ = 0x80, utf8_hi_ = 0xbf;
      if (--utf8_need_ == 0) {
        out += utf8_pending_;
        utf8_pending_.clear();
      }
      return;
    }
    if (u < 0x20) bad(c, "a printable character or an escape");
    if (u < 0x80) {
      out += c;
      return;
    }
    // RFC 3629's table: lead byte, then the range of the first continuation byte.
    if (u >= 0xc2 && u <= 0xdf) {
      utf8_need_ = 1;
    } else if (u >= 0xe0 && u <= 0xef) {
      utf8_need_ = 2;
      if (u == 0xe0) utf8_lo_ = 0xa0;
      if (u == 0xed) utf8_hi_ = 0x9f;
    } else if (u >= 0xf0 && u <= 0xf4) {
      utf8_need_ = 3;
      if (u == 0xf0) utf8_lo_ = 0x90;
      if (u == 0xf4) utf8_hi_ = 0x8f;
    } else {
      bad(c, "valid UTF-8");
    }
    utf8_pending_.assign(1, c);
    return;
  }
  if (escape_ == 1) {
    const char* from = "\"\\/bfnrt";
    const char* to = "\"\\/\b\f\n\r\t";
    if (c == 'u') {
      escape_ = 2;
      hex_ = 0;
      return;
    }
    const char* p = std::strchr(from, c);
    if (!p || c == '\0') bad(c, "an escape character");
    if (high_surrogate_) bad(c, "the low surrogate (\\uDC00-\\uDFFF) of a pair");
    out += to[p - from];
    escape_ = 0;
    return;
  }
  int d = -1;
  if (c >= '0' && c <= '9') d = c - '0';
  if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
  if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
  if (d < 0) bad(c, "a hex digit");
  hex_ = hex_ * 16 + static_cast<uint32_t>(d);
  if (++escape_ < 6) return;
  escape_ = 0;
  // Surrogates must come in pairs (\uD83D\uDE00), as nlohmann and most parsers require.
  const bool high = hex_ >= 0xd800 && hex_ <= 0xdbff, low = hex_ >= 0xdc00 && hex_ <= 0xdfff;
  if (high_surrogate_ && !low) bad(c, "the low surrogate (\\uDC00-\\uDFFF) of a pair");
  if (!high_surrogate_ && low) bad(c, "a high surrogate before this low one");
  if (high) {
    high_surrogate_ = hex_;
  } else if (low) {
    append_utf8(out, 0x10000 + ((high_surrogate_ - 0xd800) << 10) + (hex_ - 0xdc00));
    high_surrogate_ = 0;
  } else {
    append_utf8(out, hex_);
  }
}

void partial_json::start_value(char c) {
  if (c == '{') {
    stack_.push_back({ctx::object, place(nlohmann::ordered_json::object()), {}});
    want_ = want::key_or_end;
  } else if (c == '[') {
    stack_.push_back({ctx::array, place(nlohmann::ordered_json::array()), {}});
    want_ = want::value_or_end;
  } else if (c == '"') {
    str_ = place("");
    scalar_ = scalar::string;
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    scalar_ = scalar::number;
    buf_.assign(1, c);
  } else if (c == 't' || c == 'f' || c == 'n') {
    scalar_ = scalar::literal;
    buf_.assign(1, c);
  } else {
    bad(c, "a value");
  }
}

void partial_json::byte(char c) {
  switch (scalar_) {
    case scalar::string:
    case scalar::key:
      return string_byte(c);
    case scalar::number:
      if ((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
        buf_ += c;
        return;
      }
      end_scalar();
      break;  // the delimiter is handled below
    case scalar::literal:
      if (c >= 'a' && c <= 'z') {
        buf_ += c;
        if (std::string_view("true").substr(0, buf_.size()) != buf_ &&
            std::string_view("false").substr(0, buf_.size()) != buf_ &&
            std::string_view("null").substr(0, buf_.size()) != buf_)
          bad(c, "true, false or null");
        if (buf_ == "true" || buf_ == "false" || buf_ == "null") end_scalar();
        return;
      }
      end_scalar();
      break;
    case scalar::none:
      break;
  }
  if (is_space(c)) return;
  if (done_) bad(c, "the end of the input");
  switch (want_) {
    case want::value:
      return start_value(c);
    case want::value_or_end:
      if (c == ']') {
        stack_.pop_back();
        return end_value();
      }
      return start_value(c);
    case want::key_or_end:
      if (c == '}') {
        stack_.pop_back();
        return end_value();
      }
      [[fallthrough]];
    case want::key:
      if (c != '"') bad(c, "a property name");
      scalar_ = scalar::key;
      buf_.clear();
      return;
    case want::colon:
      if (c != ':') bad(c, "':'");
      want_ = want::value;
      return;
    case want::comma_or_end: {
      const ctx k = stack_.back().kind;
      if (c == ',') {
        want_ = k == ctx::object ? want::key : want::value;
        return;
      }
      if ((k == ctx::object && c == '}') || (k == ctx::array && c == ']')) {
        stack_.pop_back();
        return end_value();
      }
      bad(c, k == ctx::object ? "',' or '}'" : "',' or ']'");
    }
  }
}

std::string partial_json::path() const {
  std::string p;
  for (size_t i = 0; i < stack_.size(); ++i) {
    const frame& f = stack_[i];
    const bool top = i + 1 == stack_.size();
    if (f.kind == ctx::object) {
      // From its complete key on, a property's path is the place being written.
      const bool in_value = !top || want_ == want::colon || want_ == want::value ||
                            scalar_ == scalar::string || scalar_ == scalar::number ||
                            scalar_ == scalar::literal;
      if (!in_value) break;
      p += '/';
      p += guided::escape_pointer_token(f.key);
    } else {
      size_t index = f.node->size();
      if (!top || scalar_ == scalar::string) --index;  // the open child is the last element
      if (top && want_ == want::comma_or_end && scalar_ == scalar::none) break;
      p += '/';
      p += std::to_string(index);
    }
  }
  return p;
}

namespace {
void walk_missing(const nlohmann::ordered_json& node, const nlohmann::json& schema,
                  const std::string& ptr, std::vector<std::string>& out) {
  if (!schema.is_object()) return;
  if (node.is_object() && schema.contains("properties")) {
    for (const auto& [name, sub] : schema["properties"].items()) {
      const std::string child = ptr + "/" + guided::escape_pointer_token(name);
      if (!node.contains(name)) {
        out.push_back(child);
      } else {
        walk_missing(node[name], sub, child, out);
      }
    }
  }
  if (node.is_array() && schema.contains("items"))
    for (size_t i = 0; i < node.size(); ++i)
      walk_missing(node[i], schema["items"], ptr + "/" + std::to_string(i), out);
}
}  // namespace

std::vector<std::string> partial_json::missing(const nlohmann::json& schema) const {
  std::vector<std::string> out;
  if (!started_) {
    out.push_back("");
    return out;
  }
  walk_missing(root_, schema, "", out);
  return out;
}

}  // namespace afm
