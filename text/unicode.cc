#include "text/unicode.h"

#include <algorithm>
#include <array>

namespace afm::text {
namespace {
#include "text/unicode_classes.inc"

// ASCII is most of most text: a direct table.
constexpr std::array<uint8_t, 128> ascii_table() {
  std::array<uint8_t, 128> t{};
  for (uint32_t c = 0; c < 128; ++c) {
    size_t i = 0;
    while (i + 1 < std::size(kClassStarts) && kClassStarts[i + 1] <= c) ++i;
    t[c] = kClassMasks[i];
  }
  return t;
}
constexpr std::array<uint8_t, 128> kAscii = ascii_table();
}  // namespace

uint8_t classify(uint32_t cp) {
  if (cp < 128) return kAscii[cp];
  if (cp > 0x10ffff) return 0;
  const auto it = std::upper_bound(std::begin(kClassStarts), std::end(kClassStarts), cp);
  return kClassMasks[static_cast<size_t>(it - std::begin(kClassStarts)) - 1];
}

const char* unicode_version() {
  return kUnicodeVersion;
}

size_t decode_utf8(std::string_view s, size_t i, uint32_t& cp) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  size_t len;
  uint32_t min;
  if ((b0 & 0xe0) == 0xc0) {
    len = 2, cp = b0 & 0x1f, min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3, cp = b0 & 0x0f, min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    cp = kInvalid;
    return 1;
  }
  if (i + len > s.size()) {
    cp = kInvalid;
    return 1;
  }
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    if ((b & 0xc0) != 0x80) {
      cp = kInvalid;
      return 1;
    }
    cp = cp << 6 | (b & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    cp = kInvalid;
    return 1;
  }
  return len;
}

}  // namespace afm::text
