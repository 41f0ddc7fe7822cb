// Thread pool: workers wait on a generation counter; the caller publishes a job, bumps the
// generation, runs its own share and waits for `pending_` to reach zero.
#include "afm/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AFM_PAUSE() _mm_pause()
#else
#define AFM_PAUSE() std::this_thread::yield()
#endif

namespace afm {

thread_pool::thread_pool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

thread_pool::~thread_pool() {
  stop_.store(true);
  generation_.fetch_add(1);
  generation_.notify_all();
  for (auto& t : threads_) t.join();
}

void thread_pool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin a little first: the next loop usually follows within microseconds.
    uint64_t g = generation_.load(std::memory_order_acquire);
    for (int spin = 0; g == seen && spin < 20000; ++spin) {
      AFM_PAUSE();
      g = generation_.load(std::memory_order_acquire);
    }
    while (g == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      g = generation_.load(std::memory_order_acquire);
    }
    seen = g;
    if (stop_.load()) return;
    (*job_)(index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

void thread_pool::run(const std::function<void(int)>& fn) {
  if (n_threads_ == 1) {
    generation_.fetch_add(1, std::memory_order_relaxed);
    fn(0);
    return;
  }
  job_ = &fn;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  fn(0);
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < 100000) {
      AFM_PAUSE();
    } else {
      const int p = pending_.load(std::memory_order_acquire);
      if (p != 0) pending_.wait(p, std::memory_order_acquire);
    }
  }
}

void thread_pool::parallel_for(size_t n, size_t grain,
                               const std::function<void(size_t, size_t)>& fn) {
  for_chunks(n, grain, false, fn);
}

void thread_pool::parallel_for_dynamic(size_t n, size_t grain,
                                       const std::function<void(size_t, size_t)>& fn) {
  for_chunks(n, grain, true, fn);
}

void thread_pool::for_chunks(size_t n, size_t grain, bool dynamic,
                             const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  grain = std::max<size_t>(1, grain);
  const size_t units = (n + grain - 1) / grain;
  const size_t nt = std::min<size_t>(static_cast<size_t>(n_threads_), units);
  if (nt <= 1) {
    fn(0, n);
    return;
  }
  if (!dynamic) {
    run([&](int t) {
      const size_t ut = static_cast<size_t>(t);
      if (ut >= nt) return;
      const size_t u0 = units * ut / nt, u1 = units * (ut + 1) / nt;
      const size_t b = u0 * grain, e = std::min(n, u1 * grain);
      if (b < e) fn(b, e);
    });
    return;
  }
  std::atomic<size_t> next{0};
  run([&](int) {
    size_t u0 = next.load(std::memory_order_relaxed);
    for (;;) {
      // Half of an even share of what is left: large chunks first, small ones to even out the end.
      const size_t left = units - std::min(units, u0);
      if (left == 0) return;
      const size_t take = std::min(left, std::max<size_t>(1, left / (2 * nt)));
      if (!next.compare_exchange_weak(u0, u0 + take, std::memory_order_relaxed)) continue;
      fn(u0 * grain, std::min(n, (u0 + take) * grain));
      u0 = next.load(std::memory_order_relaxed);
    }
  });
}

}  // namespace afm
