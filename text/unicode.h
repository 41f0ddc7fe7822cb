// Unicode support for the pre-tokenizers: UTF-8 decoding that never fails (an invalid byte is
// a one-byte "character" of no class) and the character classes of the BPE split patterns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace afm::text {

// Class bits, as JavaScript's regex property escapes define them (scripts/gen_unicode_classes.js).
enum char_class : uint8_t {
  kLetter = 1,  // \p{L}
  kNumber = 2,  // \p{N}
  kUpper = 4,   // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
  kLower = 8,   // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
  kSpace = 16,  // \s
};

uint8_t classify(uint32_t cp);
const char* unicode_version();

// Decodes one character at s[i]; returns its length in bytes (1 to 4). An invalid or truncated
// sequence yields length 1 and cp = kInvalid, which has no class bits.
constexpr uint32_t kInvalid = 0xFFFFFFFF;
size_t decode_utf8(std::string_view s, size_t i, uint32_t& cp);

}  // namespace afm::text
