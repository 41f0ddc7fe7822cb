// JSON Pointer (RFC 6901) helpers shared by the schema compiler and the partial-JSON reader.
#pragma once

#include <string>

namespace afm::guided {

// One reference token with '~' and '/' escaped as ~0 and ~1.
inline std::string escape_pointer_token(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace afm::guided
