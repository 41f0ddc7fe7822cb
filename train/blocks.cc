#include "train/blocks.h"

#include <cmath>

namespace afm::train::blocks {

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  return x * torch::rsqrt(x.pow(2).mean(-1, true) + eps) * w;
}

torch::Tensor rope(const torch::Tensor& x, const model_config& c) {
  const int64_t S = x.size(-3), hd = x.size(-1), half = hd / 2;
  // Angles in double, rounded to x's type: the runtime's tables (model/load.cc) do the same.
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor theta =
      torch::pow(static_cast<double>(c.rope_base), torch::arange(half, f64) * (-2.0 / hd));
  const torch::Tensor ang = torch::arange(S, f64).unsqueeze(1) * theta.unsqueeze(0);
  const torch::Tensor cos = torch::cos(ang).to(x.scalar_type()).unsqueeze(1);
  const torch::Tensor sin = torch::sin(ang).to(x.scalar_type()).unsqueeze(1);
  torch::Tensor a, b;
  if (c.rope == rope_style::half) {
    a = x.narrow(-1, 0, half);
    b = x.narrow(-1, half, half);
    return torch::cat({a * cos - b * sin, a * sin + b * cos}, -1);
  }
  const torch::Tensor pairs = x.unflatten(-1, {half, 2});
  a = pairs.select(-1, 0);
  b = pairs.select(-1, 1);
  return torch::stack({a * cos - b * sin, a * sin + b * cos}, -1).view_as(x);
}

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        int64_t window) {
  const int64_t S = q.size(-3), H = q.size(-2), hd = q.size(-1), group = H / k.size(-2);
  const torch::Tensor kk = k.repeat_interleave(group, -2), vv = v.repeat_interleave(group, -2);
  torch::Tensor s =
      torch::einsum("...qhd,...khd->...hqk", {q, kk}) / std::sqrt(static_cast<double>(hd));
  const torch::Tensor i = torch::arange(S).unsqueeze(1), j = torch::arange(S).unsqueeze(0);
  torch::Tensor hidden = j > i;
  if (window > 0) hidden = hidden.logical_or(j <= i - window);
  s = s.masked_fill(hidden, -std::numeric_limits<double>::infinity());
  return torch::einsum("...hqk,...khd->...qhd", {torch::softmax(s, -1), vv}).flatten(-2);
}

torch::Tensor swiglu(const torch::Tensor& x, const torch::Tensor& gate, const torch::Tensor& up,
                     const torch::Tensor& down) {
  return torch::matmul(torch::silu(torch::matmul(x, gate.t())) * torch::matmul(x, up.t()),
                       down.t());
}

torch::Tensor moe(const torch::Tensor& x_in, const torch::Tensor& router, const torch::Tensor& gate,
                  const torch::Tensor& up, const torch::Tensor& down, const model_config& c) {
  const torch::Tensor x = x_in.flatten(0, -2);  // every position of every sequence: one row
  const int64_t S = x.size(0), k = c.n_experts_used;
  const torch::Tensor probs = torch::softmax(torch::matmul(x, router.t()), -1);
  auto [weights, chosen] = probs.topk(k, -1);
  if (c.moe_renorm) weights = weights / weights.sum(-1, true);
  const torch::Tensor flat_expert = chosen.reshape({-1});
  const torch::Tensor flat_row = torch::arange(S).repeat_interleave(k);
  const torch::Tensor flat_weight = weights.reshape({-1, 1});
  torch::Tensor out = torch::zeros_like(x);
  for (int64_t e = 0; e < c.n_experts; ++e) {
    const torch::Tensor pick = (flat_expert == e).nonzero().squeeze(1);
    if (pick.numel() == 0) continue;
    const torch::Tensor rows = flat_row.index_select(0, pick);
    const torch::Tensor y = swiglu(x.index_select(0, rows), gate[e], up[e], down[e]);
    out = out.index_add(0, rows, y * flat_weight.index_select(0, pick));
  }
  return out.view_as(x_in);
}

}  // namespace afm::train::blocks
