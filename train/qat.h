// Quantization-aware training (report section 6): the forward pass sees every weight matrix
// through balanced fake quantization, W~ = s * (clamp(round(W / s + z), 0, 2^B - 1) - z) with
// z = (2^B - 1) / 2 (levels {-1.5, -0.5, 0.5, 1.5} s at 2 bits), rounding passed straight
// through in the backward pass. Each tensor has a learnable factor f with s = f * max|W| / z —
// z being the largest level, so f = 1 puts max|W| on it and f < 1 clips — initialised from the
// clipping value c of Newton-Raphson-style rebalancing as f = c / max|W|. The trainer keeps an
// exponential moving average of the weights, which evaluation and export use.
//
//   train::qat_state q = train::qat_state::init(m, {.bits = 2, .embed_bits = 4});
//   o.qat = &q;  train::train(m, loader, o);
//   train::torch_model out = q.export_weights(m);   // the EMA, on the quantization grid
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "train/torch_model.h"

namespace afm::train {

// Balanced fake quantization of w with scale s (a 0-dim tensor), straight-through: the gradient
// passes unchanged to w inside the clamp range (zero outside), and to s as LSQ's
// (q - z) - w / s inside, (q - z) outside.
torch::Tensor fake_quantize(const torch::Tensor& w, const torch::Tensor& s, int bits);

// The clipping value c that balances the clipping error of the weights above it against the
// rounding error of those below (B-bit uniform levels on [-c, c]), by the Newton-Raphson
// fixed-point iteration c <- sum_{|w|>c} |w| / (4^-B / 3 * #{|w|<=c} + #{|w|>c}) (OCTAV, Sakr
// et al. 2022), from c = mean |w|.
double clipping_value(const torch::Tensor& w, int bits, int iterations = 50);

struct qat_options {
  int bits = 2;        // matrices
  int embed_bits = 4;  // the token embedding table (jointly trained, as the report's)
  double ema = 0.999;  // decay of the weights' moving average
};

struct qat_state {
  qat_options opt;
  std::vector<std::string> names;               // the quantized tensors, in file order
  std::map<std::string, int> bits;              // per quantized tensor
  std::map<std::string, torch::Tensor> factor;  // f per quantized tensor (0-dim, trainable)
  std::map<std::string, torch::Tensor> ema;     // moving average of every tensor of the model

  // Quantizes every tensor with two or more dims (norm gains stay float): f from
  // clipping_value, the EMA from m's weights.
  static qat_state init(const torch_model& m, const qat_options& o = {});

  // The model the forward pass sees: quantized tensors fake-quantized from m's, others as m's.
  torch_model fake_quantized(const torch_model& m) const;
  // The factors, for the optimizer.
  std::vector<torch::Tensor> parameters() const;
  // Scales each factor's gradient by 1 / sqrt(its tensor's weight count), for stability.
  void scale_factor_gradients() const;
  // ema <- decay * ema + (1 - decay) * m, after each optimizer step.
  void update_ema(const torch_model& m);
  // The EMA weights on the quantization grid (no gradient): what export writes.
  torch_model export_weights(const torch_model& m) const;
  // Every tensor of the state in a fixed order (checkpoints), and back.
  std::vector<torch::Tensor> state() const;
  void load_state(const std::vector<torch::Tensor>& s);
};

}  // namespace afm::train
