// Import and export between model files and libtorch tensors, and the table of forward passes:
// one line per architecture.
#include "train/torch_model.h"

#include <cstring>

#include "afm/error.h"
#include "formats/matmul.h"
#include "model/architecture.h"

namespace afm::train {

torch::Tensor forward_dense(const torch_model& m, const torch::Tensor& tokens);
torch::Tensor forward_pt_moe(const torch_model& m, const torch::Tensor& tokens);

namespace {

struct forward_entry {
  const char* arch;
  torch::Tensor (*forward)(const torch_model&, const torch::Tensor&);
};
const forward_entry kForwards[] = {
    {"afm", forward_dense},
    {"llama", forward_dense},
    {"afm-pt-moe", forward_pt_moe},
};

std::vector<int64_t> torch_shape(const std::vector<int64_t>& ne) {
  return {ne.rbegin(), ne.rend()};  // GGML order is innermost first
}

}  // namespace

const torch::Tensor& torch_model::at(const std::string& name) const {
  const auto it = w.find(name);
  if (it == w.end()) fail("train: the model has no tensor '", name, "'");
  return it->second;
}

std::vector<torch::Tensor> torch_model::parameters() const {
  std::vector<torch::Tensor> p;
  for (const std::string& n : names) p.push_back(at(n));
  return p;
}

torch_model import_model(const std::string& path, torch::Dtype type) {
  std::unique_ptr<model> rt = load_model(path, gguf_load::map);
  thread_pool pool(2);
  torch_model m;
  m.cfg = rt->cfg;
  for (const tensor_slot& s : rt->arch->tensors(rt->cfg, rt.get())) {
    const tensor& t = *s.slot;
    const int64_t cols = t.cols(), rows = t.rows();
    torch::Tensor dst = torch::empty({rows, cols}, torch::kFloat32);
    formats::decode_tensor(t, dst.data_ptr<float>(), pool);
    if (t.lora_a) {  // a low-rank part (docs/model-format.md): the matrix is W + B A
      torch::Tensor a = torch::empty({t.lora_a->rows(), cols}, torch::kFloat32);
      torch::Tensor b = torch::empty({rows, t.lora_b->cols()}, torch::kFloat32);
      formats::decode_tensor(*t.lora_a, a.data_ptr<float>(), pool);
      formats::decode_tensor(*t.lora_b, b.data_ptr<float>(), pool);
      dst += torch::matmul(b, a);
    }
    m.names.push_back(s.name);
    m.w[s.name] = dst.view(torch_shape(s.ne)).to(type).set_requires_grad(true);
  }
  return m;
}

void export_model(const torch_model& m, const std::string& path, dtype type, thread_pool& pool,
                  const std::function<void(gguf_writer&)>& metadata) {
  const architecture* arch = find_architecture(m.cfg.arch);
  if (!arch) fail("train: unknown architecture '", m.cfg.arch, "'");
  std::vector<torch::Tensor> data;  // f32, contiguous, in the architecture's order
  for (const tensor_slot& s : arch->tensors(m.cfg, nullptr)) {
    const torch::Tensor& t = m.at(s.name);
    if (t.sizes().vec() != torch_shape(s.ne))
      fail("train: tensor '", s.name, "' has shape ", t.sizes(), ", the config needs ",
           torch::IntArrayRef(torch_shape(s.ne)));
    data.push_back(t.detach().to(torch::kCPU, torch::kFloat32).contiguous());
  }
  write_model_file(
      m.cfg, type, path, pool,
      [&](size_t i, size_t r, float* dst) {
        const int64_t cols = data[i].size(-1);
        std::memcpy(dst, data[i].data_ptr<float>() + static_cast<int64_t>(r) * cols,
                    static_cast<size_t>(cols) * sizeof(float));
      },
      {}, metadata);
}

torch::Tensor forward(const torch_model& m, const torch::Tensor& tokens) {
  if (tokens.dim() != 1 && tokens.dim() != 2)
    fail("train: forward takes [S] or [B, S] token ids, not ", tokens.sizes());
  for (const forward_entry& f : kForwards) {
    if (m.cfg.arch != f.arch) continue;
    if (tokens.dim() == 2) return f.forward(m, tokens);
    return f.forward(m, tokens.unsqueeze(0)).squeeze(0);
  }
  fail("train: no libtorch forward pass for architecture '", m.cfg.arch, "'");
}

}  // namespace afm::train
