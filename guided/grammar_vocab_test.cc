// Masks over the real cl100k_base and o200k_base vocabularies (../shared/vocab) equal a brute
// force that tries each of their 100k-200k tokens with accept_token: this exercises the string
// slices and the per-state cache on vocabularies with partial UTF-8, long runs and quotes.
#include <gtest/gtest.h>

#include <random>

#include "afm/grammar.h"
#include "afm/grammar_matcher.h"
#include "afm/tokenizer.h"

namespace afm {
namespace {

std::shared_ptr<const token_vocabulary> shared_vocab(const std::string& name) {
  const tokenizer tok = tokenizer::open(std::string(AFM_SHARED_VOCAB) + "/" + name + ".tiktoken");
  std::vector<std::string> bytes(tok.vocab_size());
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = std::string(tok.token_bytes(static_cast<int32_t>(i)));
  std::vector<int32_t> eos, excluded;
  for (const auto& [text, id] : tok.specials())
    (text == "<|endoftext|>" ? eos : excluded).push_back(id);
  return token_vocabulary::build(std::move(bytes), eos, excluded);
}

TEST(MatcherRealVocab, MasksEqualBruteForce) {
  const std::vector<std::string> schemas = {
      R"({"type":"object","properties":{"name":{"type":"string"},"n":{"type":"number"},
          "tags":{"type":"array","items":{"type":"string","maxLength":5}}},"required":["name","tags"]})",
      R"({"$defs":{"t":{"type":"object","properties":{"v":{"type":"integer","minimum":-3,"maximum":300},
          "k":{"type":"array","items":{"$ref":"#/$defs/t"},"maxItems":2}},"required":["v"]}},"$ref":"#/$defs/t"})",
      R"({"type":"object","properties":{"d":{"type":"string","format":"date"},"p":{"type":"string",
          "pattern":"^[a-z]+ [0-9]{2}$"},"e":{"enum":["caf\u00e9","say \"x\""]}},"required":["d","p","e"]})",
      R"({"type":"object","additionalProperties":{"type":"string","minLength":2}})",
  };
  std::mt19937 rng(3);
  int steps_checked = 0;
  for (const char* name : {"cl100k_base", "o200k_base"}) {
    const auto v = shared_vocab(name);
    std::vector<uint32_t> mask(v->mask_words());
    for (const std::string& s : schemas) {
      SCOPED_TRACE(std::string(name) + " " + s);
      grammar_matcher m(compile_json_schema(s), v);
      for (int step = 0; step < 12 && !m.is_terminated(); ++step) {
        m.fill_next_token_mask(mask);
        std::vector<int32_t> allowed;
        for (int32_t t = 0; t < v->size; ++t) {
          const bool fast = (mask[t >> 5] >> (t & 31)) & 1;
          const bool slow = m.accept_token(t);
          if (slow) m.rollback(1);
          ASSERT_EQ(fast, slow) << "token " << t << " '" << v->bytes[t] << "' at step " << step;
          if (slow) allowed.push_back(t);
        }
        ASSERT_FALSE(allowed.empty());
        ++steps_checked;
        // Alternate between any allowed token and a short one, so walks reach structure.
        std::vector<int32_t> shorts;
        for (int32_t t : allowed) {
          if (v->bytes[t].size() <= 2) shorts.push_back(t);
        }
        const auto& pool = (step % 2 && !shorts.empty()) ? shorts : allowed;
        ASSERT_TRUE(m.accept_token(pool[rng() % pool.size()]));
      }
    }
  }
  EXPECT_GE(steps_checked, 60);  // the walks ran (8 walks of up to 12 steps)
}

}  // namespace
}  // namespace afm
