// What the two files of the PT-MoE architecture share: pt_moe.cc (config, tensors,
// track-parallel execution) and pt_moe_baseline.cc (the layer-parallel baseline).
#pragma once

#include <cstddef>

#include "afm/arena.h"
#include "afm/model.h"
#include "model/architecture.h"
#include "model/blocks.h"

namespace afm::pt_moe {

// The buffers one layer of one track needs for n rows (the projections, attention output, FFN
// and MoE scratch).
struct layer_scratch {
  float *xn, *q, *k, *v, *att, *gate, *up;
  blocks::moe_scratch moe;
};
size_t layer_scratch_floats(const model_config& c, size_t n);
layer_scratch carve_layer_scratch(const model_config& c, size_t n, arena& s);

// dst[j] = in[j] + sum over tracks t of (outs[t][j] - in[j]) for j in [j0, j1): the combine at a
// track-block boundary (docs/design.md), tracks summed in order.
void combine(const float* in, const float* const* outs, size_t n_tracks, float* dst, size_t j0,
             size_t j1);

// The layer-parallel baseline: forward_context::worker_pools holds one single-thread pool per
// worker of forward_context::pool.
void forward_layer_parallel(const model& m, const forward_args& a, forward_context& ctx);
size_t layer_parallel_scratch_bytes(const model_config& c, size_t n, size_t n_threads);

}  // namespace afm::pt_moe
