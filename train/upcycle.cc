#include "train/upcycle.h"

#include "afm/error.h"
#include "afm/rng.h"
#include "model/architecture.h"

namespace afm::train {

model_config upcycled_config(const model_config& dense, const upcycle_options& o) {
  if (dense.arch != "afm" && dense.arch != "llama")
    fail("upcycle: the source must be a dense model (afm or llama), not '", dense.arch, "'");
  model_config c = dense;
  c.arch = "afm-pt-moe";
  c.name = dense.name + "-upcycled";
  c.n_tracks = o.n_tracks;
  c.track_block_depth = o.track_block_depth;
  c.moe_every = o.moe_every;
  c.n_experts = o.n_experts;
  c.n_experts_used = o.n_experts_used;
  c.expert_ff = dense.d_ff;
  c.moe_renorm = true;
  c.sliding_window = o.sliding_window;
  c.global_every = o.global_every;
  c.kv_shared_fraction = 0;
  set_default_kv_sources(c);
  validate_config(c);
  return c;
}

torch_model upcycle(const torch_model& dense, const upcycle_options& o) {
  torch_model m;
  m.cfg = upcycled_config(dense.cfg, o);
  const model_config& c = m.cfg;
  torch::NoGradGuard no_grad;
  rng g(o.seed);
  const double track_scale = 1.0 / static_cast<double>(c.n_tracks);
  for (const tensor_slot& s : find_architecture(c.arch)->tensors(c, nullptr)) {
    const std::string& name = s.name;
    torch::Tensor t;
    if (name.rfind("trk.", 0) != 0) {
      t = dense.at(name).detach().clone();  // token_embd, output_norm, output
    } else {
      // trk.T.blk.L.<tensor> <- blk.L'.<tensor>, L' the layer owning L's KV for K and V
      const size_t blk = name.find(".blk.");
      const size_t dot = name.find('.', blk + 5);
      const int64_t l = std::stoll(name.substr(blk + 5, dot - blk - 5));
      const std::string what = name.substr(dot + 1);
      const bool kv = what == "attn_k.weight" || what == "attn_v.weight";
      const int64_t src = kv ? dense.cfg.kv_source[static_cast<size_t>(l)] : l;
      const std::string p = "blk." + std::to_string(src) + ".";
      if (what == "ffn_gate_inp.weight") {
        std::vector<float> r(static_cast<size_t>(c.n_experts * c.d_model));
        for (float& v : r) v = static_cast<float>(o.router_std * g.normal());
        t = torch::tensor(r).view({c.n_experts, c.d_model});
      } else if (what == "ffn_gate_exps.weight" || what == "ffn_up_exps.weight" ||
                 what == "ffn_down_exps.weight") {
        const std::string from = what == "ffn_gate_exps.weight" ? "ffn_gate.weight"
                                 : what == "ffn_up_exps.weight" ? "ffn_up.weight"
                                                                : "ffn_down.weight";
        const torch::Tensor w = dense.at(p + from).detach();
        t = w.unsqueeze(0).expand({c.n_experts, w.size(0), w.size(1)}).clone();
        if (from == "ffn_down.weight") t.mul_(track_scale);
      } else {
        t = dense.at(p + what).detach().clone();
        if (what == "attn_output.weight" || what == "ffn_down.weight") t.mul_(track_scale);
      }
    }
    m.names.push_back(name);
    m.w[name] = t.to(torch::kFloat32).set_requires_grad(true);
  }
  return m;
}

}  // namespace afm::train
