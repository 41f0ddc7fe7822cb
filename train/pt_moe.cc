// The PT-MoE server architecture (model/pt_moe.cc) in libtorch ops: T tracks of track blocks of
// D layers, each track on its own copy of the stream within a block; at the boundary the stream
// becomes the block input plus every track's residual update; MoE FFNs every moe_every-th layer;
// local layers with RoPE and a sliding window, global layers with neither.
#include "train/blocks.h"
#include "train/torch_model.h"

namespace afm::train {

torch::Tensor forward_pt_moe(const torch_model& m, const torch::Tensor& tokens) {
  const model_config& c = m.cfg;
  torch::Tensor x = torch::embedding(m.at("token_embd.weight"), tokens);
  for (int64_t blk = 0; blk < c.n_layers / c.track_block_depth; ++blk) {
    torch::Tensor update = torch::zeros_like(x);
    for (int64_t t = 0; t < c.n_tracks; ++t) {
      torch::Tensor y = x;
      for (int64_t l = blk * c.track_block_depth; l < (blk + 1) * c.track_block_depth; ++l) {
        const std::string p = "trk." + std::to_string(t) + ".blk." + std::to_string(l) + ".";
        auto W = [&](const char* name) -> const torch::Tensor& {
          return m.at(p + name + ".weight");
        };
        torch::Tensor h = blocks::rms_norm(y, W("attn_norm"), c.rms_eps);
        torch::Tensor q = torch::matmul(h, W("attn_q").t()).unflatten(-1, {c.n_heads, c.head_dim});
        torch::Tensor k =
            torch::matmul(h, W("attn_k").t()).unflatten(-1, {c.n_kv_heads, c.head_dim});
        const torch::Tensor v =
            torch::matmul(h, W("attn_v").t()).unflatten(-1, {c.n_kv_heads, c.head_dim});
        if (!c.is_global(l)) {
          q = blocks::rope(q, c);
          k = blocks::rope(k, c);
        }
        y = y + torch::matmul(blocks::attention(q, k, v, c.window(l)), W("attn_output").t());
        h = blocks::rms_norm(y, W("ffn_norm"), c.rms_eps);
        y = y + (c.is_moe(l) ? blocks::moe(h, W("ffn_gate_inp"), W("ffn_gate_exps"),
                                           W("ffn_up_exps"), W("ffn_down_exps"), c)
                             : blocks::swiglu(h, W("ffn_gate"), W("ffn_up"), W("ffn_down")));
      }
      update = update + (y - x);
    }
    x = x + update;
  }
  const torch::Tensor& out = c.tied_output ? m.at("token_embd.weight") : m.at("output.weight");
  return torch::matmul(blocks::rms_norm(x, m.at("output_norm.weight"), c.rms_eps), out.t());
}

}  // namespace afm::train
