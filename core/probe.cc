// SIMD bodies of core/probe.h, compiled per Highway target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/probe.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

#include "core/probe.h"

HWY_BEFORE_NAMESPACE();
namespace afm::probe {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Sums [p, p + n) as 4 interleaved streams (quarters of the range) with 2 accumulators each, so
// the prefetchers track several independent streams as the ceiling needs.
float ReadSum(const float* p, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t q = n / 4 / (2 * N) * (2 * N);
  const float* s0 = p;
  const float* s1 = p + q;
  const float* s2 = p + 2 * q;
  const float* s3 = p + 3 * q;
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  auto b0 = hn::Zero(d), b1 = hn::Zero(d), b2 = hn::Zero(d), b3 = hn::Zero(d);
  for (size_t i = 0; i < q; i += 2 * N) {
    a0 = hn::Add(a0, hn::Load(d, s0 + i));
    b0 = hn::Add(b0, hn::Load(d, s0 + i + N));
    a1 = hn::Add(a1, hn::Load(d, s1 + i));
    b1 = hn::Add(b1, hn::Load(d, s1 + i + N));
    a2 = hn::Add(a2, hn::Load(d, s2 + i));
    b2 = hn::Add(b2, hn::Load(d, s2 + i + N));
    a3 = hn::Add(a3, hn::Load(d, s3 + i));
    b3 = hn::Add(b3, hn::Load(d, s3 + i + N));
  }
  const auto s =
      hn::Add(hn::Add(hn::Add(a0, b0), hn::Add(a1, b1)), hn::Add(hn::Add(a2, b2), hn::Add(a3, b3)));
  return hn::GetLane(hn::SumOfLanes(d, s));
}

// Runs `iters` rounds of 12 independent FMA chains; returns FLOPs done.
double FmaChains(size_t iters, float* sink) {
  const hn::ScalableTag<float> d;
  const auto m = hn::Set(d, 0.999999f), c = hn::Set(d, 1e-7f);
  // Distinct starting values keep the compiler from merging the chains.
  auto v0 = hn::Set(d, 1.00f), v1 = hn::Set(d, 1.01f), v2 = hn::Set(d, 1.02f),
       v3 = hn::Set(d, 1.03f);
  auto v4 = hn::Set(d, 1.04f), v5 = hn::Set(d, 1.05f), v6 = hn::Set(d, 1.06f),
       v7 = hn::Set(d, 1.07f);
  auto v8 = hn::Set(d, 1.08f), v9 = hn::Set(d, 1.09f), v10 = hn::Set(d, 1.10f),
       v11 = hn::Set(d, 1.11f);
  for (size_t i = 0; i < iters; ++i) {
    v0 = hn::MulAdd(v0, m, c);
    v1 = hn::MulAdd(v1, m, c);
    v2 = hn::MulAdd(v2, m, c);
    v3 = hn::MulAdd(v3, m, c);
    v4 = hn::MulAdd(v4, m, c);
    v5 = hn::MulAdd(v5, m, c);
    v6 = hn::MulAdd(v6, m, c);
    v7 = hn::MulAdd(v7, m, c);
    v8 = hn::MulAdd(v8, m, c);
    v9 = hn::MulAdd(v9, m, c);
    v10 = hn::MulAdd(v10, m, c);
    v11 = hn::MulAdd(v11, m, c);
  }
  const auto s = hn::Add(hn::Add(hn::Add(v0, v1), hn::Add(v2, v3)),
                         hn::Add(hn::Add(hn::Add(v4, v5), hn::Add(v6, v7)),
                                 hn::Add(hn::Add(v8, v9), hn::Add(v10, v11))));
  *sink = hn::GetLane(s);
  return static_cast<double>(iters) * 12.0 * 2.0 * static_cast<double>(hn::Lanes(d));
}

}  // namespace HWY_NAMESPACE
}  // namespace afm::probe
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace afm::probe {

HWY_EXPORT(ReadSum);
HWY_EXPORT(FmaChains);

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

read_buffer::read_buffer(thread_pool& pool, size_t bytes)
    : data(static_cast<float*>(std::aligned_alloc(64, bytes / 64 * 64)), &std::free),
      floats(data ? bytes / 64 * 64 / sizeof(float) : 0) {
  const size_t n = floats, T = static_cast<size_t>(pool.size());
  float* p = data.get();
  pool.run([&](int t) {
    const size_t b = n * static_cast<size_t>(t) / T, e = n * (static_cast<size_t>(t) + 1) / T;
    for (size_t i = b; i < e; ++i) p[i] = 1.0f;
  });
}

double read_bandwidth(thread_pool& pool, const read_buffer& buf, int reps) {
  const size_t n = buf.floats, T = static_cast<size_t>(pool.size());
  if (n == 0) return 0.0;
  const float* p = buf.data.get();
  double best = 0.0;
  volatile float sink = 0.0f;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run([&](int t) {
      const size_t b = n * static_cast<size_t>(t) / T / 64 * 64;
      const size_t e = n * (static_cast<size_t>(t) + 1) / T / 64 * 64;
      sink = sink + HWY_DYNAMIC_DISPATCH(ReadSum)(p + b, e - b);
    });
    best = std::max(best, static_cast<double>(n * sizeof(float)) / seconds_since(t0));
  }
  return best;
}

double read_bandwidth(thread_pool& pool, size_t bytes, int reps) {
  return read_bandwidth(pool, read_buffer(pool, bytes), reps);
}

double fma_peak(thread_pool& pool) {
  double best = 0.0;
  for (int r = 0; r < 3; ++r) {
    std::vector<double> flops(static_cast<size_t>(pool.size()));
    std::vector<float> sink(static_cast<size_t>(pool.size()));
    const auto t0 = std::chrono::steady_clock::now();
    pool.run([&](int t) {
      flops[static_cast<size_t>(t)] =
          HWY_DYNAMIC_DISPATCH(FmaChains)(20'000'000, &sink[static_cast<size_t>(t)]);
    });
    const double s = seconds_since(t0);
    double total = 0.0;
    for (double f : flops) total += f;
    best = std::max(best, total / s);
  }
  return best;
}

}  // namespace afm::probe
#endif  // HWY_ONCE
