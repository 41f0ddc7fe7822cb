// libFuzzer target for the tokenizer: any byte string must split into contiguous pieces that
// cover it, and encode then decode back to itself, under every split pattern and vocabulary.
//   build-fuzz/fuzz/afm_tokenizer_fuzz -max_total_time=30
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "afm/tokenizer.h"
#include "text/pretokenizer.h"

namespace {
const std::vector<afm::tokenizer>& tokenizers() {
  static const std::vector<afm::tokenizer> t = {
      afm::tokenizer::from_tiktoken_dir(AFM_SHARED_VOCAB, "cl100k_base"),
      afm::tokenizer::from_tiktoken_dir(AFM_SHARED_VOCAB, "o200k_base"),
      afm::tokenizer::from_gpt2(AFM_SHARED_VOCAB "/gpt2/encoder.json",
                                AFM_SHARED_VOCAB "/gpt2/vocab.bpe"),
  };
  return t;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  for (auto p : {afm::text::split_pattern::gpt2, afm::text::split_pattern::cl100k,
                 afm::text::split_pattern::qwen2, afm::text::split_pattern::o200k}) {
    std::vector<uint32_t> ends;
    afm::text::split(p, s, ends);
    uint32_t prev = 0;
    for (uint32_t e : ends) {
      if (e <= prev) std::abort();  // empty or backwards piece
      prev = e;
    }
    if (prev != size) std::abort();  // pieces must cover the input
  }
  for (const auto& tok : tokenizers()) {
    for (auto mode : {afm::special_tokens::as_text, afm::special_tokens::allowed})
      if (tok.decode(tok.encode(s, mode)) != s) std::abort();
  }
  return 0;
}
