// afm::train — a model's weights as libtorch tensors, and its forward pass in libtorch ops,
// mirroring model/ exactly (same tensors, same names, same arithmetic) so that what the
// trainer optimises is what the runtime runs. Import reads any model file the runtime reads
// (every weight format, decoded to floats); export writes the runtime's file in a chosen format.
//
//   auto m = afm::train::import_model("tiny.gguf");
//   torch::Tensor logits = afm::train::forward(m, tokens);   // [S] ids -> [S][n_vocab]
//   afm::train::export_model(m, "out.gguf", afm::dtype::bf16, pool);
#pragma once

#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "afm/dtype.h"
#include "afm/gguf.h"
#include "afm/model.h"
#include "afm/thread_pool.h"

namespace afm::train {

struct torch_model {
  model_config cfg;
  std::vector<std::string> names;          // the architecture's tensor order (model/<arch>.cc)
  std::map<std::string, torch::Tensor> w;  // by file name; dims outermost first (torch order)

  const torch::Tensor& at(const std::string& name) const;
  // Every tensor, in file order: what an optimizer updates.
  std::vector<torch::Tensor> parameters() const;
};

// Reads a model file; tensors come out as `type` (f32 or f64), with requires_grad set.
torch_model import_model(const std::string& path, torch::Dtype type = torch::kFloat32);
// Writes the runtime's model file: weights encoded as `type`, norm gains as f32; `metadata` may
// add keys (a tokenizer's vocabulary).
void export_model(const torch_model& m, const std::string& path, dtype type, thread_pool& pool,
                  const std::function<void(gguf_writer&)>& metadata = {});

// Logits [S][n_vocab] of every position of one sequence of token ids ([S], int64), every layer
// at every position (the runtime's logits_mode::all); or [B][S][n_vocab] for a batch of B
// independent sequences ([B][S]).
torch::Tensor forward(const torch_model& m, const torch::Tensor& tokens);

}  // namespace afm::train
