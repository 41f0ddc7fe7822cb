#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
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

TEST(ThreadPool, DynamicForCoversEveryIndexOnceInGrainAlignedChunks) {
  for (int threads : {1, 2, 3, 5}) {
    thread_pool pool(threads);
    for (size_t n : {0u, 1u, 7u, 64u, 1001u, 100000u}) {
      for (size_t grain : {1u, 16u, 100u}) {
        std::vector<std::atomic<int>> hits(n);
        std::atomic<size_t> chunks{0};
        pool.parallel_for_dynamic(n, grain, [&](size_t b, size_t e) {
          EXPECT_LT(b, e);
          EXPECT_EQ(b % grain, 0u);
          EXPECT_TRUE(e == n || e % grain == 0);
          for (size_t i = b; i < e; ++i) hits[i]++;
          ++chunks;
        });
        for (size_t i = 0; i < n; ++i)
          ASSERT_EQ(hits[i].load(), 1) << threads << " " << n << " " << grain;
        // Guided: more chunks than threads once there is enough work, but not one per unit.
        const size_t units = (n + grain - 1) / grain;
        if (threads > 1 && units >= 1000) {
          EXPECT_GT(chunks.load(), static_cast<size_t>(threads));
          EXPECT_LT(chunks.load(), units / 8);
        }
      }
    }
  }
}

TEST(ThreadPool, DynamicForLetsAFreeThreadTakeASlowThreadsShare) {
  // The caller (thread 0) stalls in its first chunk until the worker has done everything else
  // (10 s at most): a fixed split would leave half of the range to the caller.
  thread_pool pool(2);
  std::atomic<size_t> done_by_caller{0}, done_by_worker{0};
  const auto caller = std::this_thread::get_id();
  bool first = true;  // only the caller touches it
  pool.parallel_for_dynamic(1000, 1, [&](size_t b, size_t e) {
    if (std::this_thread::get_id() != caller) {
      done_by_worker += e - b;
      return;
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (first && done_by_worker.load() + (e - b) < 1000 &&
           std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    first = false;
    done_by_caller += e - b;
  });
  EXPECT_EQ(done_by_caller.load() + done_by_worker.load(), 1000u);
  EXPECT_LT(done_by_caller.load(), 500u);
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
