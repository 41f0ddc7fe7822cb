// Sparse upcycling (report section 4.3): a trained dense model becomes the PT-MoE model's
// initialisation. Every layer's attention and norms are copied; every moe_every-th layer's FFN
// is copied into each of its experts and gets a new, small random router. With one track, no
// sliding window and no global (NoPE) layers the upcycled model computes exactly what the dense
// one does (identical experts, top-k weights renormalised to sum to one); more tracks start as
// copies of the dense stack with their output projections scaled by 1/T, which is close to the
// dense model but not equal to it.
#pragma once

#include <cstdint>

#include "train/torch_model.h"

namespace afm::train {

struct upcycle_options {
  int64_t n_experts = 8, n_experts_used = 2, moe_every = 2;
  int64_t n_tracks = 1, track_block_depth = 1;
  int64_t sliding_window = 0, global_every = 0;  // 0, 0: every layer RoPE over all positions
  double router_std = 0.02;
  uint64_t seed = 1;
};

// The PT-MoE config for a dense config under `o` (validated; errors name the bad field).
model_config upcycled_config(const model_config& dense, const upcycle_options& o);

// The upcycled model. A dense layer that reads another layer's KV cache (KV sharing) gets a copy
// of that layer's K/V projections, since PT-MoE layers each own their cache.
torch_model upcycle(const torch_model& dense, const upcycle_options& o);

}  // namespace afm::train
