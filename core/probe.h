// Machine probes that benchmarks report beside their figures, measured in the same run:
// the memory read ceiling (STREAM-like, several independent streams per thread) and the f32
// FMA peak of the chosen SIMD target.
#pragma once

#include <cstddef>

#include "afm/thread_pool.h"

namespace afm::probe {

// Best of `reps` passes reading `bytes` of memory with every pool thread; bytes per second.
double read_bandwidth(thread_pool& pool, size_t bytes = size_t{1} << 30, int reps = 5);
// f32 FLOP/s of independent FMA chains on every pool thread (2 FLOP per lane per FMA).
double fma_peak(thread_pool& pool);

}  // namespace afm::probe
