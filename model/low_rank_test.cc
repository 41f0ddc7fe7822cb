// The SVD split (model/low_rank.h) on matrices whose singular values are known by construction.
#include "model/low_rank.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "afm/error.h"
#include "afm/rng.h"

namespace afm {
namespace {

// k orthonormal columns of length n (row-major n x k), by Gram-Schmidt of Gaussian vectors.
std::vector<double> orthonormal(size_t n, size_t k, uint64_t seed) {
  rng g(seed);
  std::vector<double> q(n * k);
  for (double& v : q) v = g.normal();
  for (size_t j = 0; j < k; ++j) {
    for (size_t i = 0; i < j; ++i) {
      double d = 0;
      for (size_t r = 0; r < n; ++r) d += q[r * k + i] * q[r * k + j];
      for (size_t r = 0; r < n; ++r) q[r * k + j] -= d * q[r * k + i];
    }
    double norm = 0;
    for (size_t r = 0; r < n; ++r) norm += q[r * k + j] * q[r * k + j];
    for (size_t r = 0; r < n; ++r) q[r * k + j] /= std::sqrt(norm);
  }
  return q;
}

TEST(LowRank, SplitTakesTheTopSingularPart) {
  // W = U diag(s) V^T with s = 10, 7, 5, 3, 2, 1: the rank-3 split must find 10, 7, 5 and leave
  // a residual of squared norm 3^2 + 2^2 + 1^2 = 14 (plus the f16 rounding of A and B).
  const size_t rows = 40, cols = 30, k = 6;
  const double s[k] = {10, 7, 5, 3, 2, 1};
  const auto u = orthonormal(rows, k, 1), v = orthonormal(cols, k, 2);
  std::vector<float> w(rows * cols), original;
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) {
      double x = 0;
      for (size_t i = 0; i < k; ++i) x += u[r * k + i] * s[i] * v[c * k + i];
      w[r * cols + c] = static_cast<float>(x);
    }
  original = w;
  const low_rank_split p = split_low_rank(w.data(), rows, cols, 3);
  ASSERT_EQ(p.singular_values.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(p.singular_values[i], s[i], 1e-6 * s[i]);
  double res = 0;
  for (size_t i = 0; i < rows * cols; ++i) {
    res += static_cast<double>(w[i]) * w[i];
    double ba = 0;
    for (size_t j = 0; j < 3; ++j) ba += p.b[i / cols * 3 + j] * p.a[j * cols + i % cols];
    ASSERT_NEAR(w[i] + ba, original[i], 1e-5);  // W_res + B A is W
  }
  EXPECT_NEAR(res, 14.0, 0.05);
  // B = U sqrt(S) and A = sqrt(S) V^T: column i of B has squared norm s_i, as does row i of A.
  for (size_t i = 0; i < 3; ++i) {
    double nb = 0, na = 0;
    for (size_t r = 0; r < rows; ++r) nb += p.b[r * 3 + i] * static_cast<double>(p.b[r * 3 + i]);
    for (size_t c = 0; c < cols; ++c)
      na += p.a[i * cols + c] * static_cast<double>(p.a[i * cols + c]);
    EXPECT_NEAR(nb, s[i], 1e-2 * s[i]);
    EXPECT_NEAR(na, s[i], 1e-2 * s[i]);
  }
}

TEST(LowRank, RankMustFit) {
  std::vector<float> w(12, 1.0f);
  EXPECT_THROW(split_low_rank(w.data(), 3, 4, 4), error);
  EXPECT_THROW(split_low_rank(w.data(), 3, 4, 0), error);
}

}  // namespace
}  // namespace afm
