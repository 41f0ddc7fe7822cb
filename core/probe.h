// Machine probes that benchmarks report beside their figures, measured in the same run:
// the memory read ceiling (STREAM-like, several independent streams per thread) and the f32
// FMA peak of the chosen SIMD target.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

#include "afm/thread_pool.h"

namespace afm::probe {

// Memory the read probe streams through, first written by the pool threads that will read it
// (so its pages are resident and local). Kept to probe again between pieces of other work:
// afm bench pairs every decode round with the ceiling read just before and after it.
struct read_buffer {
  read_buffer(thread_pool& pool, size_t bytes);
  std::unique_ptr<float, decltype(&std::free)> data{nullptr, &std::free};
  size_t floats = 0;
};

// Best of `reps` passes reading the buffer with every pool thread (the pool that wrote it);
// bytes per second, 0 if the buffer could not be allocated.
double read_bandwidth(thread_pool& pool, const read_buffer& buf, int reps);
// The same over a fresh buffer of `bytes`.
double read_bandwidth(thread_pool& pool, size_t bytes = size_t{1} << 30, int reps = 5);
// f32 FLOP/s of independent FMA chains on every pool thread (2 FLOP per lane per FMA).
double fma_peak(thread_pool& pool);

}  // namespace afm::probe
