// afm_qat_check: runs train/qat.h's fake quantizer and clipping initialiser on inputs given as
// JSON on stdin, for tests/reference/test_qat.py to compare with PyTorch:
//   in:  {"w": [...], "rows": R, "cols": C, "f": F, "bits": B, "g": [...] (dL/dW~)}
//   out: {"s": s, "wq": [...], "dw": [...], "df": dL/df, "clip": c}
#include <cstdio>
#include <iostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/qat.h"

int main() {
  using nlohmann::json;
  const json in = json::parse(std::cin);
  const int64_t rows = in.at("rows"), cols = in.at("cols");
  const int bits = in.at("bits");
  auto tensor = [&](const char* key) {
    const std::vector<float> v = in.at(key).get<std::vector<float>>();
    return torch::tensor(v, torch::kFloat64).reshape({rows, cols});
  };
  const torch::Tensor w = tensor("w").requires_grad_(true);
  const torch::Tensor f =
      torch::full({}, in.at("f").get<double>(), torch::kFloat64).requires_grad_(true);
  const torch::Tensor s = f * w.detach().abs().max() / (((1 << bits) - 1) / 2.0);
  const torch::Tensor wq = afm::train::fake_quantize(w, s, bits);
  (wq * tensor("g")).sum().backward();
  auto list = [](const torch::Tensor& t) {
    const torch::Tensor c = t.detach().contiguous().flatten();
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  };
  const json out = {{"s", s.item<double>()},
                    {"wq", list(wq)},
                    {"dw", list(w.grad())},
                    {"df", f.grad().item<double>()},
                    {"clip", afm::train::clipping_value(w, bits)}};
  std::cout << out.dump() << "\n";
  return 0;
}
