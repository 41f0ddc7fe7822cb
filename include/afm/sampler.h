// afm::sampler — picks the next token from logits: greedy, or random with temperature, top-k and
// top-p (nucleus), from a seeded stream so that a seed reproduces a generation.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "afm/rng.h"

namespace afm {

struct sampler_options {
  float temperature = 0.0f;  // <= 0: greedy
  int top_k = 0;             // 0: no limit
  float top_p = 1.0f;        // 1: no limit
  uint64_t seed = 0;
};

class sampler {
 public:
  explicit sampler(sampler_options o = {});
  int32_t sample(std::span<const float> logits);
  const sampler_options& options() const { return o_; }

 private:
  sampler_options o_;
  rng rng_;
  std::vector<std::pair<float, int32_t>> cand_;
};

}  // namespace afm
