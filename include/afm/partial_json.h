// afm::partial_json — an incremental JSON reader for streaming generation. Feed it the bytes
// as they are generated; at any point snapshot() gives the value so far: every complete field,
// the string being written (as far as it goes), and containers still open. Each byte costs O(1)
// amortised work: the reader extends its tree in place and never re-parses the buffer.
//
//   afm::partial_json r;
//   r.feed(R"({"title":"Lunch with Sa)");
//   r.snapshot();        // {"title":"Lunch with Sa"}
//   r.path();            // "/title": where the next byte goes
//   r.missing(schema);   // {"/date", "/time", "/location"}: declared properties not yet begun
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace afm {

class partial_json {
 public:
  // Consumes more bytes; throws afm::error (naming the byte offset and what was expected) for
  // bytes that cannot continue any JSON text. After an error the reader is unusable.
  void feed(std::string_view bytes);
  // Ends the input: a top-level number completes; throws if the value is unfinished.
  void finish();

  // The value so far, keys in the order written. Numbers, true/false/null appear once complete;
  // strings as they grow.
  const nlohmann::ordered_json& snapshot() const { return root_; }
  // True once a whole top-level value has been read (numbers: after finish() or a delimiter).
  bool complete() const { return done_; }
  // JSON pointer to the value being written now ("" for the top level).
  std::string path() const;
  // Pointers to properties a schema declares ("properties", following "items" and nested
  // objects) that the snapshot does not have yet.
  std::vector<std::string> missing(const nlohmann::json& schema) const;
  size_t bytes_read() const { return offset_; }

 private:
  enum class ctx : uint8_t { object, array };
  enum class want : uint8_t {
    value,         // a value must start
    key_or_end,    // in an object, after '{'
    key,           // in an object, after ','
    colon,         // after a key
    comma_or_end,  // after a value in a container
    value_or_end,  // in an array, after '['
  };
  struct frame {
    ctx kind;
    nlohmann::ordered_json* node;
    std::string key;  // object: the current key
  };
  enum class scalar : uint8_t { none, string, key, number, literal };

  void byte(char c);
  void start_value(char c);
  nlohmann::ordered_json* place(nlohmann::ordered_json v);  // puts a new value where the next goes
  void end_value();
  void end_scalar();
  void string_byte(char c);
  [[noreturn]] void bad(char c, const char* expected) const;

  nlohmann::ordered_json root_;
  std::vector<frame> stack_;
  want want_ = want::value;
  scalar scalar_ = scalar::none;
  nlohmann::ordered_json* str_ = nullptr;  // the string value being written
  std::string buf_;                        // key, number or literal text in progress
  int escape_ = 0;                         // 0 none, 1 after '\', 2..5 reading \u hex digits
  uint32_t hex_ = 0;
  uint32_t high_surrogate_ = 0;
  // UTF-8 inside strings is validated; a character's bytes join the snapshot once it is whole.
  std::string utf8_pending_;
  int utf8_need_ = 0;                        // continuation bytes still to come
  uint8_t utf8_lo_ = 0x80, utf8_hi_ = 0xbf;  // allowed range of the next continuation byte
  bool done_ = false;
  bool started_ = false;
  size_t offset_ = 0;
};

}  // namespace afm
