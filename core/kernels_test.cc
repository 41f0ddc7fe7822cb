// Every kernel against a plain scalar reference, at odd sizes, on every SIMD target.
#include "core/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "afm/rng.h"
#include "core/simd_targets_test_util.h"

namespace afm::kernels {
namespace {

using afm::testing::for_each_simd_target;

std::vector<float> randn(size_t n, uint64_t seed, double sd = 1.0) {
  rng g(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(sd * g.normal());
  return v;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double rel) {
  ASSERT_EQ(got.size(), want.size());
  double scale = 1e-30;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_LE(std::fabs(got[i] - want[i]), rel * scale) << "index " << i;
}

const size_t kSizes[] = {1, 3, 15, 16, 17, 33, 100, 257};

TEST(Kernels, DotAddAxpy) {
  for_each_simd_target([] {
    for (size_t n : kSizes) {
      auto a = randn(n, 1), b = randn(n, 2);
      double want = 0;
      for (size_t i = 0; i < n; ++i) want += static_cast<double>(a[i]) * b[i];
      EXPECT_NEAR(dot(a.data(), b.data(), n), want, 1e-5 * (1 + std::sqrt(static_cast<double>(n))));
      auto y = b;
      axpy(0.5f, a.data(), y.data(), n);
      std::vector<double> w(n);
      for (size_t i = 0; i < n; ++i) w[i] = b[i] + 0.5 * a[i];
      expect_close(y, w, 1e-6);
      y = b;
      add(y.data(), a.data(), n);
      for (size_t i = 0; i < n; ++i) w[i] = static_cast<double>(b[i]) + a[i];
      expect_close(y, w, 1e-6);
    }
  });
}

TEST(Kernels, RmsNormSoftmaxSwiglu) {
  for_each_simd_target([] {
    for (size_t n : kSizes) {
      auto x = randn(n, 3, 2.0), w = randn(n, 4), u = randn(n, 5);
      std::vector<float> y(n);
      rms_norm(x.data(), w.data(), y.data(), n, 1e-5f);
      double ms = 0;
      for (float v : x) ms += static_cast<double>(v) * v;
      ms /= static_cast<double>(n);
      std::vector<double> want(n);
      for (size_t i = 0; i < n; ++i) want[i] = x[i] / std::sqrt(ms + 1e-5) * w[i];
      expect_close(y, want, 1e-5);

      auto s = x;
      softmax(s.data(), n);
      double mx = -1e30, sum = 0;
      for (float v : x) mx = std::max(mx, static_cast<double>(v));
      for (size_t i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
      for (size_t i = 0; i < n; ++i) want[i] = std::exp(x[i] - mx) / sum;
      expect_close(s, want, 1e-5);

      swiglu(x.data(), u.data(), y.data(), n);
      for (size_t i = 0; i < n; ++i)
        want[i] = x[i] / (1.0 + std::exp(-static_cast<double>(x[i]))) * u[i];
      expect_close(y, want, 1e-5);
    }
  });
}

TEST(Kernels, RopeRotatesPairs) {
  const size_t hd = 8, heads = 3;
  auto x = randn(hd * heads, 6);
  std::vector<float> c = {0.1f, 0.5f, -0.3f, 1.0f}, s = {0.9f, -0.2f, 0.4f, 0.0f};
  for (auto style : {rope_style::interleaved, rope_style::half}) {
    auto y = x;
    rope(y.data(), heads, hd, c.data(), s.data(), style);
    for (size_t h = 0; h < heads; ++h)
      for (size_t i = 0; i < hd / 2; ++i) {
        const size_t i0 = style == rope_style::interleaved ? h * hd + 2 * i : h * hd + i;
        const size_t i1 = style == rope_style::interleaved ? i0 + 1 : i0 + hd / 2;
        EXPECT_FLOAT_EQ(y[i0], x[i0] * c[i] - x[i1] * s[i]);
        EXPECT_FLOAT_EQ(y[i1], x[i0] * s[i] + x[i1] * c[i]);
      }
  }
}

// Decoder used to test gemm's decode path: "bf16-like" truncation of stored f32 values.
void decode_halve(const void* src, size_t n, float* dst) {
  const float* s = static_cast<const float*>(src);
  for (size_t i = 0; i < n; ++i) dst[i] = 0.5f * s[i];
}

TEST(Kernels, GemmMatchesScalarAtOddShapes) {
  for_each_simd_target([] {
    for (size_t n : {1u, 2u, 5u, 8u, 9u, 17u}) {
      for (size_t rows : {1u, 7u, 33u, 70u}) {
        for (size_t k : {1u, 13u, 256u, 300u, 600u}) {
          auto x = randn(n * (k + 3), 7), w = randn(rows * k, 8);
          for (bool decoded : {false, true}) {
            const gemm_weights gw{w.data(),
                                  k * sizeof(float),
                                  rows,
                                  k,
                                  1,
                                  sizeof(float),
                                  decoded ? decode_halve : nullptr};
            const size_t ldy = rows + 2;
            std::vector<float> y(n * ldy, -7.0f);
            gemm(x.data(), k + 3, n, gw, y.data(), ldy, 0, rows);
            for (size_t t = 0; t < n; ++t)
              for (size_t r = 0; r < rows; ++r) {
                double want = 0;
                for (size_t i = 0; i < k; ++i)
                  want += static_cast<double>(x[t * (k + 3) + i]) * w[r * k + i] *
                          (decoded ? 0.5 : 1.0);
                ASSERT_NEAR(y[t * ldy + r], want, 1e-4 * (1 + std::sqrt(static_cast<double>(k))))
                    << "n=" << n << " rows=" << rows << " k=" << k << " t=" << t << " r=" << r;
              }
            for (size_t t = 0; t < n; ++t)  // padding columns untouched
              for (size_t r = rows; r < ldy; ++r) ASSERT_EQ(y[t * ldy + r], -7.0f);
          }
        }
      }
    }
  });
}

TEST(Kernels, GemmRowRangeWritesOnlyItsRows) {
  const size_t n = 3, rows = 50, k = 40;
  auto x = randn(n * k, 9), w = randn(rows * k, 10);
  const gemm_weights gw{w.data(), k * sizeof(float), rows, k, 1, sizeof(float), nullptr};
  std::vector<float> y(n * rows, 123.0f);
  gemm(x.data(), k, n, gw, y.data(), rows, 17, 29);
  for (size_t t = 0; t < n; ++t)
    for (size_t r = 0; r < rows; ++r)
      if (r < 17 || r >= 29)
        EXPECT_EQ(y[t * rows + r], 123.0f);
      else
        EXPECT_NE(y[t * rows + r], 123.0f);
}

// Plain attention in double: query t (position pos0 + t) over positions [first, p], position j
// read from slot j % cap.
std::vector<double> attention_scalar(const std::vector<float>& q, const std::vector<float>& k,
                                     const std::vector<float>& v, size_t H, size_t KVH, size_t hd,
                                     size_t cap, size_t n_q, size_t pos0, size_t window,
                                     double scale) {
  std::vector<double> want(n_q * H * hd);
  for (size_t t = 0; t < n_q; ++t)
    for (size_t h = 0; h < H; ++h) {
      const size_t g = h / (H / KVH), p = pos0 + t;
      const size_t first = window && p + 1 > window ? p + 1 - window : 0;
      std::vector<double> s;
      double mx = -1e30, sum = 0;
      for (size_t j = first; j <= p; ++j) {
        double d = 0;
        for (size_t i = 0; i < hd; ++i)
          d += static_cast<double>(q[(t * H + h) * hd + i]) * k[(g * cap + j % cap) * hd + i];
        s.push_back(d * scale);
        mx = std::max(mx, s.back());
      }
      for (auto& e : s) sum += (e = std::exp(e - mx));
      for (size_t i = 0; i < hd; ++i) {
        double acc = 0;
        for (size_t j = first; j <= p; ++j)
          acc += s[j - first] / sum * v[(g * cap + j % cap) * hd + i];
        want[(t * H + h) * hd + i] = acc;
      }
    }
  return want;
}

TEST(Kernels, GroupedQueryAttentionMatchesScalar) {
  for_each_simd_target([] {
    for (size_t hd : {4u, 16u, 18u}) {
      const size_t H = 6, KVH = 2, cap = 23, n_q = 5, pos0 = 9;
      auto q = randn(n_q * H * hd, 11), k = randn(KVH * cap * hd, 12),
           v = randn(KVH * cap * hd, 13);
      std::vector<float> out(n_q * H * hd), scores(pos0 + n_q);
      const attention_args a{q.data(), H * hd, k.data(), v.data(), cap * hd, out.data(), H * hd,
                             H,        KVH,    hd,       n_q,      pos0,     0.3f};
      attention(a, 0, n_q * H, scores.data());
      expect_close(out, attention_scalar(q, k, v, H, KVH, hd, cap, n_q, pos0, 0, 0.3), 1e-5);
    }
  });
}

// Sliding-window attention over a ring buffer: windows that wrap around the ring's end, windows
// longer than the positions so far, and a window of one.
TEST(Kernels, SlidingWindowAttentionOverRingMatchesScalar) {
  for_each_simd_target([] {
    const size_t H = 4, KVH = 2, hd = 8, n_q = 6;
    for (size_t window : {1u, 7u, 16u})
      for (size_t pos0 : {0u, 5u, 20u, 41u}) {
        const size_t cap = window + n_q;  // the engine's ring: window + batch slots
        auto q = randn(n_q * H * hd, 21), k = randn(KVH * cap * hd, 22),
             v = randn(KVH * cap * hd, 23);
        std::vector<float> out(n_q * H * hd), scores(window);
        attention_args a{q.data(), H * hd, k.data(), v.data(), cap * hd, out.data(), H * hd,
                         H,        KVH,    hd,       n_q,      pos0,     0.5f};
        a.window = window;
        a.ring = cap;
        attention(a, 0, n_q * H, scores.data());
        expect_close(out, attention_scalar(q, k, v, H, KVH, hd, cap, n_q, pos0, window, 0.5), 1e-5);
      }
  });
}

// The 8-bit KV cache: attention reading int8 K and V with per-vector scales directly equals
// f32 attention over the dequantized cache, with and without a window over a ring buffer.
TEST(Kernels, EightBitKvAttentionMatchesDequantized) {
  for_each_simd_target([] {
    const size_t H = 4, KVH = 2, n_q = 5;
    for (size_t hd : {8u, 18u, 64u})
      for (size_t window : {0u, 7u})
        for (size_t pos0 : {0u, 11u, 30u}) {
          const size_t cap = window ? window + n_q : pos0 + n_q;
          auto q = randn(n_q * H * hd, 31), k = randn(KVH * cap * hd, 32),
               v = randn(KVH * cap * hd, 33);
          std::vector<int8_t> k8(k.size()), v8(v.size());
          std::vector<float> ks(KVH * cap), vs(KVH * cap);
          for (size_t r = 0; r < KVH * cap; ++r) {
            ks[r] = quantize_i8(k.data() + r * hd, hd, k8.data() + r * hd);
            vs[r] = quantize_i8(v.data() + r * hd, hd, v8.data() + r * hd);
            for (size_t i = 0; i < hd; ++i) {  // what the reference sees: the dequantized cache
              k[r * hd + i] = ks[r] * static_cast<float>(k8[r * hd + i]);
              v[r * hd + i] = vs[r] * static_cast<float>(v8[r * hd + i]);
            }
          }
          std::vector<float> out(n_q * H * hd), scores(pos0 + n_q);
          attention_args a{q.data(), H * hd, nullptr, nullptr, cap * hd, out.data(), H * hd,
                           H,        KVH,    hd,      n_q,     pos0,     0.4f};
          a.window = window;
          a.ring = cap;
          a.k8 = k8.data();
          a.v8 = v8.data();
          a.k_scale = ks.data();
          a.v_scale = vs.data();
          attention(a, 0, n_q * H, scores.data());
          expect_close(out, attention_scalar(q, k, v, H, KVH, hd, cap, n_q, pos0, window, 0.4),
                       1e-5);
        }
  });
}

TEST(Kernels, QuantizeI8) {
  const std::vector<float> x = {0.5f, -2.54f, 1.0f, 0.0f};
  std::vector<int8_t> q(4);
  const float s = quantize_i8(x.data(), 4, q.data());
  EXPECT_FLOAT_EQ(s, 2.54f / 127.0f);
  EXPECT_EQ(q[1], -127);
  EXPECT_EQ(q[0], static_cast<int8_t>(std::lrint(0.5 / (2.54 / 127))));
  EXPECT_EQ(q[3], 0);
  std::vector<float> zeros(3, 0.0f);
  EXPECT_EQ(quantize_i8(zeros.data(), 3, q.data()), 0.0f);
  EXPECT_EQ(q[0], 0);
}

}  // namespace
}  // namespace afm::kernels
