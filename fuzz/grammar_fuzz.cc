// libFuzzer target for the grammar front ends and the matcher. The first byte picks JSON
// Schema, regex or GBNF; the rest is the grammar text. Compiling must either succeed or throw
// afm::error. A compiled grammar is then walked over a byte vocabulary (steps chosen by the
// input's bytes), and each mask must equal what accept_token does token by token.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "afm/error.h"
#include "afm/grammar.h"
#include "afm/grammar_matcher.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::shared_ptr<const afm::grammar> g;
  try {
    switch (data[0] % 3) {
      case 0:
        g = afm::compile_json_schema(text, {.max_whitespace = data[0] % 2});
        break;
      case 1:
        g = afm::compile_regex(text);
        break;
      default:
        g = afm::compile_gbnf(text);
        break;
    }
  } catch (const afm::error&) {
    return 0;
  }
  static const auto vocab = [] {
    std::vector<std::string> t = {"<eos>", "{\"", "\":", "\",\"", "\"}", "},{", "ab", "12", "true"};
    for (int b = 0; b < 256; ++b) t.emplace_back(1, static_cast<char>(b));
    return afm::token_vocabulary::build(t, {0}, {});
  }();
  try {
    afm::grammar_matcher m(g, vocab);
    std::vector<uint32_t> mask(vocab->mask_words());
    for (size_t step = 0; step < 16 && !m.is_terminated(); ++step) {
      m.fill_next_token_mask(mask);
      std::vector<int32_t> allowed;
      for (int32_t t = 0; t < vocab->size; ++t) {
        const bool fast = (mask[t >> 5] >> (t & 31)) & 1;
        const bool slow = m.accept_token(t);
        if (slow) m.rollback(1);
        if (fast != slow) std::abort();
        if (slow) allowed.push_back(t);
      }
      if (allowed.empty()) std::abort();  // a live parse always has a way on
      m.accept_token(allowed[data[(step * 7) % size] % allowed.size()]);
    }
  } catch (const afm::error&) {
    // "grammar too ambiguous" is a legitimate refusal.
  }
  return 0;
}
