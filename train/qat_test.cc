// QAT pieces with known answers: the clipping initialiser on distributions whose fixed point is
// known in closed form, and the fake quantizer's grid (tests/reference/test_qat.py compares
// values and gradients with PyTorch).
#include <gtest/gtest.h>

#include <cmath>

#include "train/qat.h"

namespace afm::train {
namespace {

// Fixed point of c = E[|w| 1{|w|>c}] / (4^-B/3 P(|w|<=c) + P(|w|>c)) for |w| distributed as
// `tail_mean(c)` = E[|w| 1{|w|>c}] and `tail_prob(c)` = P(|w| > c), by bisection.
template <class Mean, class Prob>
double fixed_point(int bits, Mean tail_mean, Prob tail_prob, double hi) {
  const double noise = std::pow(4.0, -bits) / 3.0;
  double lo = 1e-9;
  for (int i = 0; i < 200; ++i) {
    const double c = (lo + hi) / 2;
    const double next = tail_mean(c) / (noise * (1 - tail_prob(c)) + tail_prob(c));
    (next > c ? lo : hi) = c;
  }
  return (lo + hi) / 2;
}

TEST(Qat, ClippingValueOnKnownDistributions) {
  torch::manual_seed(3);
  const double pi = std::acos(-1.0);
  for (int bits : {2, 4}) {
    // Standard normal: E[|w| 1{|w|>c}] = 2 phi(c), P(|w| > c) = erfc(c / sqrt 2).
    const double want_normal = fixed_point(
        bits, [&](double c) { return 2 * std::exp(-c * c / 2) / std::sqrt(2 * pi); },
        [](double c) { return std::erfc(c / std::sqrt(2.0)); }, 10.0);
    const torch::Tensor g = torch::randn({2000000}, torch::kFloat64) * 0.02;
    EXPECT_NEAR(clipping_value(g, bits) / 0.02, want_normal, 0.01 * want_normal) << bits;
    // Uniform on [-1, 1]: E[|w| 1{|w|>c}] = (1 - c^2) / 2, P(|w| > c) = 1 - c.
    const double want_uniform = fixed_point(
        bits, [](double c) { return (1 - c * c) / 2; }, [](double c) { return 1 - c; }, 1.0);
    const torch::Tensor u = torch::rand({2000000}, torch::kFloat64) * 2 - 1;
    EXPECT_NEAR(clipping_value(u, bits), want_uniform, 0.005) << bits;
  }
}

TEST(Qat, FakeQuantizerLandsOnBalancedLevels) {
  torch::manual_seed(4);
  const torch::Tensor w = torch::randn({16, 64});
  const torch::Tensor s = torch::full({}, 0.7);
  const torch::Tensor q = fake_quantize(w, s, 2) / 0.7;
  const torch::Tensor levels = torch::tensor({-1.5f, -0.5f, 0.5f, 1.5f});
  EXPECT_TRUE(torch::isin(q, levels).all().item<bool>());
  // Nearest level for weights inside the range; the outer levels for those beyond it.
  const torch::Tensor want = torch::clamp(torch::floor(w / 0.7) + 0.5, -1.5, 1.5);
  EXPECT_TRUE(torch::allclose(q, want, 1e-5, 1e-5));
}

TEST(Qat, StateInitAndExport) {
  torch_model m;
  m.names = {"token_embd.weight", "blk.0.attn_norm.weight", "blk.0.attn_q.weight"};
  torch::manual_seed(5);
  m.w["token_embd.weight"] = torch::randn({32, 16}) * 0.02;
  m.w["blk.0.attn_norm.weight"] = torch::ones({16});
  m.w["blk.0.attn_q.weight"] = torch::randn({16, 16}) * 0.02;
  qat_state q = qat_state::init(m, {.bits = 2, .embed_bits = 4, .ema = 0.5});
  ASSERT_EQ(q.names.size(), 2u);  // the norm gain stays float
  EXPECT_EQ(q.bits.at("token_embd.weight"), 4);
  EXPECT_EQ(q.bits.at("blk.0.attn_q.weight"), 2);
  const double amax = m.w["blk.0.attn_q.weight"].abs().max().item<double>();
  EXPECT_NEAR(q.factor.at("blk.0.attn_q.weight").item<double>() * amax,
              clipping_value(m.w["blk.0.attn_q.weight"], 2), 1e-6);
  // The EMA moves halfway towards new weights; export puts it on the grid.
  torch::NoGradGuard no_grad;
  m.w["blk.0.attn_q.weight"].add_(0.01);
  q.update_ema(m);
  const torch_model e = q.export_weights(m);
  const double s = q.factor.at("blk.0.attn_q.weight").item<double>() *
                   q.ema.at("blk.0.attn_q.weight").abs().max().item<double>() / 1.5;
  const torch::Tensor on_grid = e.at("blk.0.attn_q.weight") / s + 1.5;
  EXPECT_LT((on_grid - torch::round(on_grid)).abs().max().item<double>(), 1e-4);
  EXPECT_TRUE(torch::equal(e.at("blk.0.attn_norm.weight"), q.ema.at("blk.0.attn_norm.weight")));
}

}  // namespace
}  // namespace afm::train
