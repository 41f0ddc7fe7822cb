// afm::thread_pool — a fixed set of worker threads that run one parallel loop at a time.
// The calling thread takes part as worker 0, so `thread_pool(2)` starts one extra thread.
// Workers spin briefly between loops (decode runs hundreds of small loops per token) and then
// sleep on an atomic wait, so an idle pool costs no CPU.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

namespace afm {

class thread_pool {
 public:
  explicit thread_pool(int n_threads);
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(thread_index) once on every thread and returns when all are done.
  void run(const std::function<void(int)>& fn);

  // Splits [0, n) into contiguous chunks, each a multiple of `grain` (except the last), one
  // chunk per thread, and runs fn(begin, end) on each chunk.
  void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn);

  // Like parallel_for, but threads take chunks from a shared counter as they finish, each a
  // multiple of `grain` (except the last) and a shrinking share of what is left (guided
  // scheduling), so a thread slowed by another tenant of its core does not hold up the rest.
  // Which thread runs a chunk varies from call to call: fn must give the same results wherever
  // it runs.
  void parallel_for_dynamic(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn);

  // Number of parallel loops run since construction: benchmarks report synchronizations.
  uint64_t loops_run() const { return generation_.load(std::memory_order_relaxed); }

 private:
  void worker(int index);
  // [0, n) in chunks of whole grains: one per thread, or handed out from a counter (dynamic).
  void for_chunks(size_t n, size_t grain, bool dynamic,
                  const std::function<void(size_t, size_t)>& fn);

  int n_threads_;
  std::vector<std::thread> threads_;
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace afm
