// The trainer: AdamW with linear warmup and cosine decay, gradient clipping, next-token
// cross-entropy over packed sequences, checkpoints that resume bit for bit, a CSV log and a
// loss-curve SVG. Data parallel over any collective (train/data_parallel.h: c10d with Gloo):
// every rank reads the same global batch, takes its share of the rows, and the gradients are
// summed across ranks before the (identical) optimizer step.
#pragma once

#include <functional>
#include <string>

#include "train/data.h"
#include "train/lora.h"
#include "train/qat.h"
#include "train/torch_model.h"

namespace afm::train {

// How the ranks of a data-parallel run talk; train/data_parallel.h makes one over c10d.
struct collective {
  int rank = 0, size = 1;
  std::function<void(torch::Tensor&)> all_reduce_sum;  // in place, over every rank
};

struct train_options {
  int64_t steps = 100;
  int64_t batch = 8;        // sequences per optimizer step, over all ranks
  int64_t micro_batch = 0;  // sequences per forward pass on a rank (0: all of its share)
  bool bf16 = false;        // CPU autocast to bfloat16 for the forward and backward passes
  double lr = 3e-3, min_lr = 3e-4;
  int64_t warmup = 10;  // steps of linear warmup, then cosine decay to min_lr at `steps`
  double weight_decay = 0.1;
  double clip = 1.0;                 // max global gradient norm (0: none)
  int64_t checkpoint_every = 0;      // also at the end; 0: only at the end
  int64_t stop_at = 0;               // stop (with a checkpoint) after this step; 0: at `steps`
  std::string out_dir;               // checkpoint/, log.csv and loss.svg go here (rank 0 writes)
  const collective* comm = nullptr;  // data parallel; nullptr: one process
  // Distillation: the loss per counted token becomes
  //   alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE.
  const torch_model* teacher = nullptr;
  double distill_alpha = 0.5, distill_temperature = 2.0;
  // Quantization-aware training (train/qat.h): the forward pass sees qat->fake_quantized(m),
  // the factors train with the weights (their gradients scaled), the EMA follows every step,
  // and checkpoints keep both.
  qat_state* qat = nullptr;
  // Recovery adapters (train/lora.h): the model's own weights stay frozen, only the adapters
  // train, the forward pass sees lora->applied(m), and checkpoints keep the adapters.
  lora_state* lora = nullptr;
};

struct step_report {
  int64_t step = 0, steps = 0;  // step just done (1-based)
  double loss = 0, lr = 0, grad_norm = 0, tokens = 0, tokens_per_s = 0, elapsed_s = 0;
};

// The learning rate after `step` optimizer steps.
double learning_rate(const train_options& o, int64_t step);

// Whether this CPU has bfloat16 matrix instructions (x86 AVX512-BF16 or AMX-BF16). Without
// them libtorch emulates bf16 autocast, which ran 15x slower than f32 on an AVX2 host
// (docs/training.md), so recipes asking for bf16 train in f32 there unless told otherwise.
bool cpu_has_native_bf16();

// Trains m until o.steps, resuming from o.out_dir/checkpoint if it holds one (the weights,
// optimizer moments, step, data cursor and token count), else from m as it is. Calls on_step
// after every step.
void train(torch_model& m, sequence_loader& data, const train_options& o,
           const std::function<void(const step_report&)>& on_step = {});

// Mean next-token cross-entropy over the counted tokens of at most max_sequences sequences of a
// stream (in order).
double mean_loss(const torch_model& m, const token_stream& stream, size_t seq_len,
                 size_t max_sequences);

// Draws log.csv's loss column as an SVG line chart.
void write_loss_svg(const std::string& csv_path, const std::string& svg_path);

}  // namespace afm::train
