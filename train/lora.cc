// Quality-recovery adapters (train/lora.h).
#include "train/lora.h"

#include <cmath>
#include <vector>

#include "afm/error.h"
#include "afm/gguf.h"

namespace afm::train {

lora_state lora_state::init(const torch_model& m, const lora_options& o) {
  if (o.rank <= 0) fail("lora: rank must be positive");
  lora_state s;
  s.opt = o;
  torch::manual_seed(o.seed);
  torch::NoGradGuard no_grad;
  for (const std::string& n : m.names) {
    const torch::Tensor& w = m.at(n);
    if (w.dim() != 2 || n == "token_embd.weight" || n == "output.weight") continue;
    const int64_t rows = w.size(0), cols = w.size(1);
    if (o.rank > std::min(rows, cols))
      fail("lora: rank ", o.rank, " does not fit tensor '", n, "' (", rows, " x ", cols, ")");
    s.names.push_back(n);
    s.a[n] = (torch::randn({o.rank, cols}, w.options()) / std::sqrt(static_cast<double>(cols)))
                 .requires_grad_(true);
    s.b[n] = torch::zeros({rows, o.rank}, w.options()).requires_grad_(true);
  }
  return s;
}

torch_model lora_state::applied(const torch_model& m) const {
  torch_model out = m;
  const double scale = opt.alpha / static_cast<double>(opt.rank);
  for (const std::string& n : names)
    out.w[n] = m.at(n).detach() + scale * torch::matmul(b.at(n), a.at(n));
  return out;
}

std::vector<torch::Tensor> lora_state::parameters() const {
  std::vector<torch::Tensor> p;
  for (const std::string& n : names) p.push_back(a.at(n));
  for (const std::string& n : names) p.push_back(b.at(n));
  return p;
}

std::vector<torch::Tensor> lora_state::state() const {
  return parameters();
}

void lora_state::load_state(const std::vector<torch::Tensor>& s) {
  if (s.size() != 2 * names.size())
    fail("lora: checkpoint holds ", s.size(), " tensors, the adapters ", 2 * names.size());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < names.size(); ++i) {
    a.at(names[i]).copy_(s[i]);
    b.at(names[i]).copy_(s[names.size() + i]);
  }
}

void export_with_adapters(const std::string& base_path, const lora_state& s,
                          const std::string& out) {
  const gguf_file f = gguf_file::open(base_path);
  gguf_writer w(f.alignment());
  for (const auto& [key, value] : f.metadata())
    if (key != "general.alignment") w.set(key, value);
  for (const gguf_tensor_info& t : f.tensors())
    w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims));
  const double scale = s.opt.alpha / static_cast<double>(s.opt.rank);
  std::vector<std::pair<torch::Tensor, torch::Tensor>> pairs;
  for (const std::string& n : s.names) {
    const gguf_tensor_info* t = f.find_tensor(n);
    if (!t) fail(base_path, ": no tensor '", n, "' to attach an adapter to");
    if (f.find_tensor(n + ".lora_a"))
      fail(base_path, ": tensor '", n, "' already has a low-rank part");
    const torch::Tensor a = s.a.at(n).detach().to(torch::kFloat32).contiguous();
    const torch::Tensor b = (s.b.at(n).detach() * scale).to(torch::kFloat32).contiguous();
    if (t->n_dims != 2 || t->ne[0] != a.size(1) || t->ne[1] != b.size(0))
      fail(base_path, ": tensor '", n, "' does not have the adapter's shape");
    w.add_tensor(n + ".lora_a", dtype::f16, {a.size(1), a.size(0)});
    w.add_tensor(n + ".lora_b", dtype::f16, {b.size(1), b.size(0)});
    pairs.emplace_back(a, b);
  }
  w.write_header(out);
  for (const gguf_tensor_info& t : f.tensors()) w.write_tensor(f.get_tensor(t.name).data, t.bytes);
  for (const auto& [a, b] : pairs)
    for (const torch::Tensor& x : {a, b}) {
      std::vector<uint16_t> half(static_cast<size_t>(x.numel()));
      const float* p = x.data_ptr<float>();
      for (size_t i = 0; i < half.size(); ++i) half[i] = f32_to_f16(p[i]);
      w.write_tensor(half.data(), half.size() * 2);
    }
  w.finish();
}

}  // namespace afm::train
