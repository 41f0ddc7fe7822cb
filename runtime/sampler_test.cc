#include "afm/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "afm/error.h"

namespace afm {
namespace {

const std::vector<float> kLogits = {0.5f, 2.0f, -1.0f, 1.9f, 0.0f, 1.0f};

TEST(Sampler, GreedyTakesTheMaximum) {
  sampler s;
  EXPECT_EQ(s.sample(kLogits), 1);
  EXPECT_EQ(sampler({.temperature = 1.0f, .top_k = 1}).sample(kLogits), 1);
  EXPECT_EQ(sampler({.temperature = 1.0f, .top_p = 1e-6f}).sample(kLogits), 1);
}

TEST(Sampler, SeedReproducesTheStream) {
  sampler a({.temperature = 1.0f, .seed = 9}), b({.temperature = 1.0f, .seed = 9}),
      c({.temperature = 1.0f, .seed = 10});
  std::vector<int32_t> x, y, z;
  for (int i = 0; i < 200; ++i) {
    x.push_back(a.sample(kLogits));
    y.push_back(b.sample(kLogits));
    z.push_back(c.sample(kLogits));
  }
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  sampler s({.temperature = 1.0f, .seed = 1});
  std::vector<int> count(kLogits.size());
  const int n = 60000;
  for (int i = 0; i < n; ++i) ++count[static_cast<size_t>(s.sample(kLogits))];
  double z = 0;
  for (float l : kLogits) z += std::exp(l);
  for (size_t i = 0; i < kLogits.size(); ++i) {
    const double p = std::exp(kLogits[i]) / z;
    EXPECT_NEAR(count[i] / static_cast<double>(n), p, 5 * std::sqrt(p * (1 - p) / n)) << i;
  }
}

TEST(Sampler, TopKAndTopPRestrictTheCandidates) {
  sampler k({.temperature = 5.0f, .top_k = 2, .seed = 3});
  sampler p(
      {.temperature = 1.0f, .top_p = 0.6f, .seed = 3});  // {1, 3} hold 0.31 + 0.28 ... + 5 (0.12)
  for (int i = 0; i < 500; ++i) {
    const int32_t a = k.sample(kLogits);
    EXPECT_TRUE(a == 1 || a == 3) << a;
    const int32_t b = p.sample(kLogits);
    EXPECT_TRUE(b == 1 || b == 3 || b == 5) << b;
  }
}

TEST(Sampler, RejectsBadOptions) {
  EXPECT_THROW(sampler({.top_k = -1}), error);
  EXPECT_THROW(sampler({.top_p = 0.0f}), error);
  EXPECT_THROW(sampler({.top_p = 1.5f}), error);
  EXPECT_THROW(sampler().sample({}), error);
}

}  // namespace
}  // namespace afm
