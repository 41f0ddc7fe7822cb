// GPT-2's printable spelling of bytes, used by encoder.json, vocab.bpe and GGUF "gpt2"
// vocabularies.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "afm/error.h"

namespace afm::text {

// GPT-2 spells bytes as printable code points: bytes 33-126, 161-172, 174-255 as themselves, the
// other 68 as U+0100 onwards in byte order. Returns the byte for a code point, or -1.
inline int gpt2_unicode_to_byte(uint32_t cp) {
  static const std::vector<int> table = [] {
    std::vector<int> t(512, -1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable =
          (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      t[static_cast<size_t>(printable ? b : next++)] = b;
    }
    return t;
  }();
  return cp < table.size() ? table[cp] : -1;
}

// Decodes a GPT-2-spelled token (UTF-8 of the mapped code points) to its bytes.
inline std::string gpt2_token_bytes(const std::string& s, const std::string& where) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    uint32_t cp;
    size_t len;
    if (b0 < 0x80) {
      cp = b0, len = 1;
    } else if ((b0 & 0xe0) == 0xc0 && i + 1 < s.size()) {
      cp = (b0 & 0x1fu) << 6 | (static_cast<uint8_t>(s[i + 1]) & 0x3fu), len = 2;
    } else {
      fail(where, ": token '", s, "' is not in GPT-2's byte spelling");
    }
    const int b = gpt2_unicode_to_byte(cp);
    if (b < 0) fail(where, ": token '", s, "' is not in GPT-2's byte spelling");
    out.push_back(static_cast<char>(b));
    i += len;
  }
  return out;
}

// The inverse: a byte string spelled in GPT-2's code points, as UTF-8.
inline std::string gpt2_spelling(std::string_view bytes) {
  static const std::vector<uint32_t> table = [] {
    std::vector<uint32_t> t(256);
    for (uint32_t cp = 0; cp < 512; ++cp)
      if (const int b = gpt2_unicode_to_byte(cp); b >= 0) t[static_cast<size_t>(b)] = cp;
    return t;
  }();
  std::string out;
  for (unsigned char c : bytes) {
    const uint32_t cp = table[c];
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else {
      out.push_back(static_cast<char>(0xc0 | cp >> 6));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  return out;
}

}  // namespace afm::text
