// The building blocks of train/'s forward passes, in libtorch ops (differentiable), matching
// model/blocks.h: RMSNorm, RoPE from tables computed in double, causal grouped-query attention
// with an optional sliding window, the SwiGLU FFN and the grouped dropless mixture of experts.
#pragma once

#include <torch/torch.h>

#include "afm/model.h"

namespace afm::train::blocks {

// x / sqrt(mean(x^2) + eps) * w over the last dimension.
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps);

// Rotates x [..., S, heads, head_dim], row i at position i, as the config's RoPE style says.
torch::Tensor rope(const torch::Tensor& x, const model_config& c);

// Attention of q [..., S, H, hd] over k, v [..., S, KVH, hd] (query head h reads KV head
// h / (H / KVH)), causal, over the last `window` positions when window > 0. Returns
// [..., S, H * hd]; leading dimensions are independent sequences.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        int64_t window);

// down(silu(gate x) * up x); weights [f, d], [f, d], [d, f].
torch::Tensor swiglu(const torch::Tensor& x, const torch::Tensor& gate, const torch::Tensor& up,
                     const torch::Tensor& down);

// The MoE FFN of model/blocks.h moe_swiglu: router softmax, top-k, optional renormalisation, one
// SwiGLU product per expert over exactly the rows routed to it, weighted sum per row. x is
// [..., d]; every row routes on its own.
// router [E, d]; gate/up [E, f, d]; down [E, d, f].
torch::Tensor moe(const torch::Tensor& x, const torch::Tensor& router, const torch::Tensor& gate,
                  const torch::Tensor& up, const torch::Tensor& down, const model_config& c);

}  // namespace afm::train::blocks
