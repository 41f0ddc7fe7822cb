// Quantization-aware training (train/qat.h).
#include "train/qat.h"

#include <cmath>

#include "afm/error.h"

namespace afm::train {
namespace {

double center(int bits) {
  return ((1 << bits) - 1) / 2.0;
}

torch::Tensor scale_of(const torch::Tensor& w, const torch::Tensor& f, int bits) {
  return f * w.detach().abs().max() / center(bits);
}

}  // namespace

torch::Tensor fake_quantize(const torch::Tensor& w, const torch::Tensor& s, int bits) {
  const double z = center(bits);
  const torch::Tensor x = w / s + z;
  const torch::Tensor rounded = x + (torch::round(x) - x).detach();  // straight-through
  return s * (torch::clamp(rounded, 0.0, static_cast<double>((1 << bits) - 1)) - z);
}

double clipping_value(const torch::Tensor& w, int bits, int iterations) {
  const torch::Tensor a = w.detach().abs().flatten().to(torch::kFloat64);
  if (a.numel() == 0) fail("clipping_value: an empty tensor");
  const double noise = std::pow(4.0, -bits) / 3.0;
  double c = a.mean().item<double>();
  for (int i = 0; i < iterations && c > 0; ++i) {
    const torch::Tensor above = a > c;
    const double n_above = above.sum().item<double>();
    const double n_below = static_cast<double>(a.numel()) - n_above;
    const double next = (a * above).sum().item<double>() / (noise * n_below + n_above);
    if (std::fabs(next - c) <= 1e-9 * c) return next;
    c = next;
  }
  return c;
}

qat_state qat_state::init(const torch_model& m, const qat_options& o) {
  qat_state q;
  q.opt = o;
  torch::NoGradGuard no_grad;
  for (const std::string& n : m.names) {
    const torch::Tensor& w = m.at(n);
    q.ema[n] = w.detach().clone();
    if (w.dim() < 2) continue;
    const int b = n == "token_embd.weight" ? o.embed_bits : o.bits;
    const double amax = w.abs().max().item<double>();
    const double c = clipping_value(w, b);
    q.names.push_back(n);
    q.bits[n] = b;
    q.factor[n] = torch::full({}, amax > 0 ? c / amax : 1.0, w.options()).requires_grad_(true);
  }
  return q;
}

torch_model qat_state::fake_quantized(const torch_model& m) const {
  torch_model out;
  out.cfg = m.cfg;
  out.names = m.names;
  out.w = m.w;
  for (const std::string& n : names) {
    const torch::Tensor& w = m.at(n);
    out.w[n] = fake_quantize(w, scale_of(w, factor.at(n), bits.at(n)), bits.at(n));
  }
  return out;
}

std::vector<torch::Tensor> qat_state::parameters() const {
  std::vector<torch::Tensor> p;
  for (const std::string& n : names) p.push_back(factor.at(n));
  return p;
}

void qat_state::scale_factor_gradients() const {
  torch::NoGradGuard no_grad;
  for (const std::string& n : names) {
    torch::Tensor g = factor.at(n).grad();
    if (g.defined()) g.mul_(1.0 / std::sqrt(static_cast<double>(ema.at(n).numel())));
  }
}

void qat_state::update_ema(const torch_model& m) {
  torch::NoGradGuard no_grad;
  for (auto& [n, e] : ema) e.mul_(opt.ema).add_(m.at(n).detach(), 1.0 - opt.ema);
}

torch_model qat_state::export_weights(const torch_model& m) const {
  torch::NoGradGuard no_grad;
  torch_model out;
  out.cfg = m.cfg;
  out.names = m.names;
  for (const std::string& n : m.names) {
    const torch::Tensor& e = ema.at(n);
    const auto b = bits.find(n);
    out.w[n] = b == bits.end() ? e.clone()
                               : fake_quantize(e, scale_of(e, factor.at(n), b->second), b->second);
  }
  return out;
}

std::vector<torch::Tensor> qat_state::state() const {
  std::vector<torch::Tensor> s;
  for (const std::string& n : names) s.push_back(factor.at(n).detach());
  for (const auto& [n, e] : ema) s.push_back(e);
  return s;
}

void qat_state::load_state(const std::vector<torch::Tensor>& s) {
  if (s.size() != names.size() + ema.size())
    fail("train: QAT checkpoint holds ", s.size(), " tensors, expected ",
         names.size() + ema.size());
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (const std::string& n : names) factor.at(n).copy_(s[i++]);
  for (auto& [n, e] : ema) e.copy_(s[i++]);
}

}  // namespace afm::train
