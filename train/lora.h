// Quality-recovery adapters (report section 6, "Quality Recovery Adapters"): LoRA pairs trained
// on top of a compressed model whose weights stay frozen, so they learn back what compression
// lost. The base is the compressed file itself, imported (its weights decoded to floats, exactly
// the values the runtime multiplies by); every matrix but the embedding table gets a pair
// (A: rank x cols, B: rows x rank, B = 0 at the start so training starts from the base), and
// the forward pass sees W + (alpha / rank) B A. Export copies the compressed file byte for byte
// and adds each pair as "<name>.lora_a" / ".lora_b" in f16, which the runtime applies as
// W x + B (A x) (docs/model-format.md).
//
//   train::lora_state a = train::lora_state::init(base, {.rank = 16});
//   o.lora = &a;  train::train(base, loader, o);     // only A and B train
//   train::export_with_adapters("q2.gguf", a, "q2-recovered.gguf");
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "train/torch_model.h"

namespace afm::train {

struct lora_options {
  int64_t rank = 16;
  double alpha = 32.0;  // the pair's product is scaled by alpha / rank
  uint64_t seed = 1;
};

struct lora_state {
  lora_options opt;
  std::vector<std::string> names;          // adapted matrices, in file order
  std::map<std::string, torch::Tensor> a;  // [rank][cols], trainable
  std::map<std::string, torch::Tensor> b;  // [rows][rank], trainable, zero at init

  // A pair for every 2-D tensor of m except the token embedding table (and, where the model
  // has one, an untied output head keeps its own weights too); A ~ N(0, 1 / cols), B = 0.
  static lora_state init(const torch_model& m, const lora_options& o = {});

  // The model the forward pass sees: adapted matrices are m's (detached: the base is frozen)
  // plus (alpha / rank) B A; other tensors are m's.
  torch_model applied(const torch_model& m) const;
  std::vector<torch::Tensor> parameters() const;
  // Checkpoints: every A then every B in name order, and back.
  std::vector<torch::Tensor> state() const;
  void load_state(const std::vector<torch::Tensor>& s);
};

// Writes `out`: `base_path`'s metadata and tensors unchanged (byte for byte, whatever their
// format), plus each adapter pair in f16 with the scale folded into B. Throws afm::error if the
// base already has a low-rank part for an adapted matrix or does not match the adapters.
void export_with_adapters(const std::string& base_path, const lora_state& s,
                          const std::string& out);

}  // namespace afm::train
