// The AFM on-device architecture (model/dense.cc) in libtorch ops: pre-norm layers, grouped-query
// attention with RoPE, SwiGLU, the tied head, and KV sharing (a layer with kv_source[l] != l has
// no K/V projections and attends over its source layer's keys and values).
#include <map>

#include "train/blocks.h"
#include "train/torch_model.h"

namespace afm::train {

torch::Tensor forward_dense(const torch_model& m, const torch::Tensor& tokens) {
  const model_config& c = m.cfg;
  torch::Tensor x = torch::embedding(m.at("token_embd.weight"), tokens);
  std::map<int64_t, std::pair<torch::Tensor, torch::Tensor>> kv;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    auto W = [&](const char* name) -> const torch::Tensor& { return m.at(p + name + ".weight"); };
    torch::Tensor h = blocks::rms_norm(x, W("attn_norm"), c.rms_eps);
    const torch::Tensor q =
        blocks::rope(torch::matmul(h, W("attn_q").t()).unflatten(-1, {c.n_heads, c.head_dim}), c);
    if (c.owns_kv(l)) {
      kv[l] = {blocks::rope(
                   torch::matmul(h, W("attn_k").t()).unflatten(-1, {c.n_kv_heads, c.head_dim}), c),
               torch::matmul(h, W("attn_v").t()).unflatten(-1, {c.n_kv_heads, c.head_dim})};
    }
    const auto& [k, v] = kv.at(c.kv_source[static_cast<size_t>(l)]);
    x = x + torch::matmul(blocks::attention(q, k, v, 0), W("attn_output").t());
    h = blocks::rms_norm(x, W("ffn_norm"), c.rms_eps);
    x = x + blocks::swiglu(h, W("ffn_gate"), W("ffn_up"), W("ffn_down"));
  }
  const torch::Tensor& out = c.tied_output ? m.at("token_embd.weight") : m.at("output.weight");
  return torch::matmul(blocks::rms_norm(x, m.at("output_norm.weight"), c.rms_eps), out.t());
}

}  // namespace afm::train
