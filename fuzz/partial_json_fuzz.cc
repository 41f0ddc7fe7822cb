// libFuzzer target for the incremental JSON reader: arbitrary bytes, fed in arbitrary pieces,
// either raise afm::error or read a value; what it reads equals nlohmann's parse of the text,
// and it rejects exactly the texts nlohmann rejects.
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "afm/error.h"
#include "afm/partial_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = 1 + data[0] % 7;  // feed in pieces of this size
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  afm::partial_json r;
  bool ok = true;
  try {
    for (size_t i = 0; i < text.size(); i += step) r.feed(std::string_view(text).substr(i, step));
    r.finish();
  } catch (const afm::error&) {
    ok = false;
  }
  // nlohmann stops at a NUL byte as if the input ended there; afm rejects it. Compare the rest.
  if (text.find('\0') != std::string::npos) return 0;
  const auto want = nlohmann::ordered_json::parse(text, nullptr, false);
  if (ok != !want.is_discarded()) std::abort();  // disagree on validity
  if (ok && r.snapshot() != want && !(want.is_number_float() && r.snapshot().is_number()))
    std::abort();
  return 0;
}
