// Each weight format's kernels against decode-then-f32 scalar products, at odd shapes, on every
// SIMD target, plus the exact encodings.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "afm/error.h"
#include "afm/rng.h"
#include "core/simd_targets_test_util.h"
#include "formats/format.h"
#include "formats/matmul.h"

namespace afm::formats {
namespace {

using afm::testing::for_each_simd_target;

std::vector<float> randn(size_t n, uint64_t seed) {
  rng g(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(g.normal());
  return v;
}

const dtype kTypes[] = {dtype::f32,  dtype::f16,    dtype::bf16,
                        dtype::q8_0, dtype::afm_q4, dtype::afm_q2};

// Formats whose matvec quantizes the activation to 8 bits.
bool quantizes_act(dtype t) {
  return find_format(t)->act_bytes != nullptr;
}

TEST(Formats, RegistryAndErrors) {
  for (dtype t : kTypes) ASSERT_NE(find_format(t), nullptr) << dtype_name(t);
  EXPECT_EQ(find_format(dtype::q4_k), nullptr);
  tensor t;
  t.type = dtype::q4_k;
  t.name = "blk.0.attn_q.weight";
  try {
    format_of(t);
    FAIL();
  } catch (const error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.attn_q.weight"), std::string::npos);
  }
}

TEST(Formats, ExactEncodings) {
  const std::vector<float> x = {1.0f, -0.5f, 3.14159f, 1e-3f};
  std::vector<uint16_t> h(4);
  find_format(dtype::f16)->encode(x.data(), 4, h.data());
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(h[i], f32_to_f16(x[i]));
  find_format(dtype::bf16)->encode(x.data(), 4, h.data());
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(h[i], f32_to_bf16(x[i]));

  // q8_0: d = max|x| / 127 stored as f16; q = round(x / d).
  std::vector<float> b(32);
  for (size_t i = 0; i < 32; ++i) b[i] = static_cast<float>(i) - 10.0f;  // max |x| = 21
  std::vector<uint8_t> q(34);
  find_format(dtype::q8_0)->encode(b.data(), 32, q.data());
  uint16_t dh;
  std::memcpy(&dh, q.data(), 2);
  EXPECT_EQ(dh, f32_to_f16(21.0f / 127.0f));
  for (size_t i = 0; i < 32; ++i)
    EXPECT_EQ(static_cast<int8_t>(q[2 + i]),
              static_cast<int8_t>(std::round(b[i] * 127.0f / 21.0f)));
  std::vector<float> back(32);
  find_format(dtype::q8_0)->decode(q.data(), 32, back.data());
  for (size_t i = 0; i < 32; ++i)
    EXPECT_FLOAT_EQ(back[i], f16_to_f32(dh) * static_cast<int8_t>(q[2 + i]));
}

struct encoded {
  std::vector<uint8_t> bytes;
  std::vector<float> decoded;
  tensor t;
};

encoded make(dtype type, size_t rows, size_t cols, uint64_t seed) {
  const weight_format& f = *find_format(type);
  encoded e;
  const auto w = randn(rows * cols, seed);
  e.bytes.resize(dtype_bytes(type, rows * cols));
  f.encode(w.data(), rows * cols, e.bytes.data());
  e.decoded.resize(rows * cols);
  f.decode(e.bytes.data(), rows * cols, e.decoded.data());
  e.t = make_tensor(e.bytes.data(), type, {static_cast<int64_t>(cols), static_cast<int64_t>(rows)},
                    "w");
  return e;
}

TEST(Formats, MatvecMatchesDecodedProduct) {
  thread_pool pool(2);
  for_each_simd_target([&] {
    for (dtype type : kTypes) {
      SCOPED_TRACE(dtype_name(type));
      const size_t block = find_format(type)->block_elems;
      for (size_t rows : {1u, 5u, 17u, 40u}) {
        for (size_t cols : {32u, 96u, 256u, 768u, 1056u, 3584u}) {
          if (cols % block != 0) continue;
          for (size_t extra : {0u, 1u, 7u}) {  // odd widths for the element formats
            const size_t k = block == 1 ? cols + extra : cols;
            const encoded e = make(type, rows, k, rows * 131 + k);
            const auto x = randn(k, 99);
            std::vector<float> y(rows);
            matmul(e.t, x.data(), k, 1, y.data(), rows, pool);
            // q8 quantizes x to 8 bits per block of 32 as well: compare with that in mind.
            const double tol = quantizes_act(type) ? 1e-2 : 1e-5;
            for (size_t r = 0; r < rows; ++r) {
              double want = 0, mag = 0;
              for (size_t i = 0; i < k; ++i) {
                want += static_cast<double>(e.decoded[r * k + i]) * x[i];
                mag += std::fabs(static_cast<double>(e.decoded[r * k + i]) * x[i]);
              }
              ASSERT_NEAR(y[r], want, tol * mag + 1e-6)
                  << "rows=" << rows << " k=" << k << " r=" << r;
            }
          }
        }
      }
    }
  });
}

TEST(Formats, Q8MatvecIsExactIntegerArithmetic) {
  // With x already on the 8-bit grid the product is exact integer arithmetic per block.
  thread_pool pool(1);
  for_each_simd_target([&] {
    const size_t rows = 9, k = 96;
    encoded e = make(dtype::q8_0, rows, k, 5);
    std::vector<float> x(k);
    rng g(3);
    for (size_t b = 0; b < k / 32; ++b) {
      x[b * 32] = 127.0f * 0.25f;  // block max fixes the scale at 0.25
      for (size_t i = 1; i < 32; ++i)
        x[b * 32 + i] = 0.25f * static_cast<float>(static_cast<int>(g.next() % 255) - 127);
    }
    std::vector<float> y(rows);
    matmul(e.t, x.data(), k, 1, y.data(), rows, pool);
    for (size_t r = 0; r < rows; ++r) {
      double want = 0;
      for (size_t i = 0; i < k; ++i) want += static_cast<double>(e.decoded[r * k + i]) * x[i];
      ASSERT_NEAR(y[r], want, 1e-4 * (1 + std::fabs(want)));
    }
  });
}

TEST(Formats, MatmulMatchesDecodedProduct) {
  thread_pool pool(2);
  for_each_simd_target([&] {
    for (dtype type : kTypes) {
      SCOPED_TRACE(dtype_name(type));
      // Both paths: a few tokens run the striped matvec, more run gemm.
      for (size_t n :
           std::initializer_list<size_t>{2, 9, 13, kMatvecMaxRows, kMatvecMaxRows + 1, 40}) {
        for (size_t rows : {3u, 37u, 70u}) {
          SCOPED_TRACE(::testing::Message() << "n=" << n << " rows=" << rows);
          const size_t k = find_format(type)->block_elems == 1 ? 513 : 512;
          const encoded e = make(type, rows, k, n + rows);
          const auto x = randn(n * k, 77);
          std::vector<float> y(n * rows);
          matmul(e.t, x.data(), k, n, y.data(), rows, pool);
          // The matvec path quantizes q8 activations (see MatvecMatchesDecodedProduct).
          const bool quantized = quantizes_act(type) && n <= kMatvecMaxRows;
          for (size_t t = 0; t < n; ++t)
            for (size_t r = 0; r < rows; ++r) {
              double want = 0, mag = 0;
              for (size_t i = 0; i < k; ++i) {
                want += static_cast<double>(e.decoded[r * k + i]) * x[t * k + i];
                mag += std::fabs(static_cast<double>(e.decoded[r * k + i]) * x[t * k + i]);
              }
              ASSERT_NEAR(y[t * rows + r], want,
                          quantized ? 1e-2 * mag + 1e-6 : 2e-4 * std::sqrt(static_cast<double>(k)));
            }
        }
      }
    }
  });
}

}  // namespace
}  // namespace afm::formats
