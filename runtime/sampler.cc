// Sampling: greedy argmax, or temperature-scaled softmax restricted to the top-k candidates and
// then to the smallest prefix whose probability reaches top-p.
#include "afm/sampler.h"

#include <algorithm>
#include <cmath>

#include "afm/error.h"

namespace afm {

sampler::sampler(sampler_options o) : o_(o), rng_(o.seed) {
  if (o.top_k < 0) fail("top-k must be >= 0 (got ", o.top_k, ")");
  if (!(o.top_p > 0.0f && o.top_p <= 1.0f)) fail("top-p must be in (0, 1] (got ", o.top_p, ")");
  if (!std::isfinite(o.temperature)) fail("temperature must be finite");
}

int32_t sampler::sample(std::span<const float> logits) {
  if (logits.empty()) fail("sampler: empty logits");
  if (o_.temperature <= 0.0f) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  // Candidates ordered by logit, ties by id, so the draw is reproducible.
  auto before = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  cand_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) cand_[i] = {logits[i], static_cast<int32_t>(i)};
  size_t n = cand_.size();
  if (o_.top_k > 0 && static_cast<size_t>(o_.top_k) < n) {
    n = static_cast<size_t>(o_.top_k);
    std::partial_sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(n), cand_.end(),
                      before);
  } else {
    std::sort(cand_.begin(), cand_.end(), before);
  }
  const float mx = cand_[0].first;
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    cand_[i].first = std::exp((cand_[i].first - mx) / o_.temperature);
    sum += cand_[i].first;
  }
  if (o_.top_p < 1.0f) {
    double cum = 0.0;
    size_t keep = 0;
    while (keep < n) {
      cum += cand_[keep].first / sum;
      ++keep;
      if (cum >= o_.top_p) break;
    }
    n = keep;
    sum = 0.0;
    for (size_t i = 0; i < n; ++i) sum += cand_[i].first;
  }
  double u = rng_.uniform() * sum;
  for (size_t i = 0; i < n; ++i) {
    u -= cand_[i].first;
    if (u < 0.0) return cand_[i].second;
  }
  return cand_[n - 1].second;
}

}  // namespace afm
