#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "afm/thread_pool.h"

namespace afm {
namespace {

TEST(ThreadPool, ParallelForCoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 5}) {
    thread_pool pool(threads);
    for (size_t n : {0u, 1u, 7u, 64u, 1001u}) {
      for (size_t grain : {1u, 16u, 100u}) {
        std::vector<std::atomic<int>> hits(n);
        pool.parallel_for(n, grain, [&](size_t b, size_t e) {
          EXPECT_LT(b, e);
          for (size_t i = b; i < e; ++i) hits[i]++;
        });
        for (size_t i = 0; i < n; ++i)
          ASSERT_EQ(hits[i].load(), 1) << threads << " " << n << " " << grain;
      }
    }
  }
}

TEST(ThreadPool, RunsEveryThreadManyTimes) {
  thread_pool pool(3);
  std::atomic<int> total{0};
  for (int r = 0; r < 2000; ++r) pool.run([&](int t) { total += t + 1; });
  EXPECT_EQ(total.load(), 2000 * 6);
  EXPECT_GE(pool.loops_run(), 2000u);
}

}  // namespace
}  // namespace afm

#include "afm/arena.h"
#include "afm/error.h"

namespace afm {
namespace {

TEST(Arena, AlignsAndRefusesOverflow) {
  arena a(1000);
  float* x = a.alloc<float>(3);
  double* y = a.alloc<double>(5);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(x) % arena::kAlign, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(y) % arena::kAlign, 0u);
  EXPECT_EQ(a.used(), 128u);
  EXPECT_THROW(a.alloc<float>(1000), error);
  a.reset();
  EXPECT_EQ(a.alloc<float>(3), x);
}

}  // namespace
}  // namespace afm
