// SVD split by randomized subspace iteration (model/low_rank.h). Written here rather than taken
// from LAPACK: only the top r << min(rows, cols) triplets are needed, which subspace iteration
// gets in O(rows cols r) per step, and the only dense solve left is an (r + 8)^2 symmetric
// eigenproblem (docs/design.md).
#include "model/low_rank.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "afm/dtype.h"
#include "afm/error.h"
#include "afm/rng.h"

namespace afm {
namespace {

// Orthonormalizes the k columns of the row-major n x k matrix y (modified Gram-Schmidt, twice
// for stability); a column that vanishes stays zero.
void orthonormalize(std::vector<double>& y, size_t n, size_t k) {
  for (int pass = 0; pass < 2; ++pass)
    for (size_t j = 0; j < k; ++j) {
      for (size_t i = 0; i < j; ++i) {
        double d = 0.0;
        for (size_t r = 0; r < n; ++r) d += y[r * k + i] * y[r * k + j];
        for (size_t r = 0; r < n; ++r) y[r * k + j] -= d * y[r * k + i];
      }
      double norm = 0.0;
      for (size_t r = 0; r < n; ++r) norm += y[r * k + j] * y[r * k + j];
      norm = std::sqrt(norm);
      const double inv = norm > 1e-300 ? 1.0 / norm : 0.0;
      for (size_t r = 0; r < n; ++r) y[r * k + j] *= inv;
    }
}

// Eigen-decomposition of the symmetric k x k matrix a (destroyed) by cyclic Jacobi rotations:
// returns the eigenvalues, with the eigenvectors as the columns of v.
std::vector<double> symmetric_eigen(std::vector<double>& a, size_t k, std::vector<double>& v) {
  v.assign(k * k, 0.0);
  for (size_t i = 0; i < k; ++i) v[i * k + i] = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0, total = 0.0;
    for (size_t p = 0; p < k; ++p)
      for (size_t q = 0; q < k; ++q) (p == q ? total : off) += a[p * k + q] * a[p * k + q];
    if (off <= 1e-30 * (total + off)) break;
    for (size_t p = 0; p < k; ++p)
      for (size_t q = p + 1; q < k; ++q) {
        const double apq = a[p * k + q];
        if (std::fabs(apq) < 1e-300) continue;
        const double theta = (a[q * k + q] - a[p * k + p]) / (2.0 * apq);
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (size_t i = 0; i < k; ++i) {  // a = a J (columns p, q)
          const double ip = a[i * k + p], iq = a[i * k + q];
          a[i * k + p] = c * ip - s * iq;
          a[i * k + q] = s * ip + c * iq;
        }
        for (size_t i = 0; i < k; ++i) {  // a = J^T a (rows p, q)
          const double pi = a[p * k + i], qi = a[q * k + i];
          a[p * k + i] = c * pi - s * qi;
          a[q * k + i] = s * pi + c * qi;
        }
        for (size_t i = 0; i < k; ++i) {
          const double ip = v[i * k + p], iq = v[i * k + q];
          v[i * k + p] = c * ip - s * iq;
          v[i * k + q] = s * ip + c * iq;
        }
      }
  }
  std::vector<double> values(k);
  for (size_t i = 0; i < k; ++i) values[i] = a[i * k + i];
  return values;
}

float to_f16_value(double v) {
  return f16_to_f32(f32_to_f16(static_cast<float>(v)));
}

}  // namespace

low_rank_split split_low_rank(float* w, size_t rows, size_t cols, size_t rank, uint64_t seed) {
  if (rank == 0 || rank > std::min(rows, cols))
    fail("SVD split rank ", rank, " does not fit a ", rows, " x ", cols, " matrix");
  const size_t k = std::min(rank + 8, std::min(rows, cols));  // oversampled subspace
  constexpr int kPowerSteps = 4;
  rng g(seed);
  std::vector<double> z(cols * k), y(rows * k);
  for (double& v : z) v = g.normal();
  auto times_w = [&] {  // y = W z
    std::fill(y.begin(), y.end(), 0.0);
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) {
        const double wv = w[r * cols + c];
        for (size_t j = 0; j < k; ++j) y[r * k + j] += wv * z[c * k + j];
      }
    orthonormalize(y, rows, k);
  };
  auto times_wt = [&] {  // z = W^T y
    std::fill(z.begin(), z.end(), 0.0);
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) {
        const double wv = w[r * cols + c];
        for (size_t j = 0; j < k; ++j) z[c * k + j] += wv * y[r * k + j];
      }
    orthonormalize(z, cols, k);
  };
  times_w();
  for (int step = 0; step < kPowerSteps; ++step) times_wt(), times_w();

  // W ~ Y (Y^T W): with P = Y^T W (k x cols), P P^T = E L E^T gives W's top singular values
  // sqrt(L), left vectors Y E and right vectors P^T E / sqrt(L).
  std::vector<double> p(k * cols, 0.0);
  for (size_t r = 0; r < rows; ++r)
    for (size_t j = 0; j < k; ++j) {
      const double yv = y[r * k + j];
      for (size_t c = 0; c < cols; ++c) p[j * cols + c] += yv * w[r * cols + c];
    }
  std::vector<double> ppt(k * k, 0.0), e;
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j <= i; ++j) {
      double d = 0.0;
      for (size_t c = 0; c < cols; ++c) d += p[i * cols + c] * p[j * cols + c];
      ppt[i * k + j] = ppt[j * k + i] = d;
    }
  const std::vector<double> lambda = symmetric_eigen(ppt, k, e);
  std::vector<size_t> order(k);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t i, size_t j) { return lambda[i] > lambda[j]; });

  low_rank_split s;
  s.rank = rank;
  s.a.assign(rank * cols, 0.0f);
  s.b.assign(rows * rank, 0.0f);
  for (size_t i = 0; i < rank; ++i) {
    const size_t col = order[i];
    const double sigma = std::sqrt(std::max(0.0, lambda[col]));
    s.singular_values.push_back(sigma);
    if (sigma <= 0.0) continue;
    const double root = std::sqrt(sigma);
    for (size_t r = 0; r < rows; ++r) {
      double u = 0.0;
      for (size_t j = 0; j < k; ++j) u += y[r * k + j] * e[j * k + col];
      s.b[r * rank + i] = to_f16_value(u * root);
    }
    for (size_t c = 0; c < cols; ++c) {
      double v = 0.0;
      for (size_t j = 0; j < k; ++j) v += p[j * cols + c] * e[j * k + col];
      s.a[i * cols + c] = to_f16_value(v / sigma * root);
    }
  }
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) {
      double ba = 0.0;
      for (size_t i = 0; i < rank; ++i)
        ba += static_cast<double>(s.b[r * rank + i]) * s.a[i * cols + c];
      w[r * cols + c] = static_cast<float>(w[r * cols + c] - ba);
    }
  return s;
}

}  // namespace afm
