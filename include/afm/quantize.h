// Compressing a model file into other weight formats (`afm quantize`, docs/compression.md).
// Matrices take `weights`, the token embedding table `embed`, norm gains stay f32. Every tensor
// is decoded from whatever format it has and re-encoded, one tensor in memory at a time.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "afm/dtype.h"
#include "afm/thread_pool.h"

namespace afm {

struct quantize_options {
  dtype weights = dtype::q8_0;
  // The token embedding table (also the output head when tied). Unset: q4 when weights are q2
  // (the report's 4-bit embedding), otherwise the weights' type.
  bool embed_set = false;
  dtype embed = dtype::q8_0;
  // astc only: moves each matrix's top-`svd_rank` singular part into an f16 low-rank pair
  // ("<name>.lora_a" / ".lora_b") and encodes only the rest (model/low_rank.h); 0: none.
  size_t svd_rank = 0;
  // > 0: palettization at this mean bits per weight over the matrices, each taking pal2 or pal4
  // by its measured sensitivity (weights is then ignored for matrices).
  double pal_bits = 0.0;
  // The KV cache the runtime should use by default: "q8" or "f32" (afm.kv_cache_type), or
  // empty to keep the input's setting.
  std::string kv;
};

// Parses an --embed value: f32, bf16, f16, q8, q4, q2 or astc. Throws afm::error naming the
// accepted values (and saying which of the report's formats are not built yet).
dtype parse_weight_format(const std::string& spec);
// Parses a --weights value: a format as above, astc:svd=R (the SVD split at rank R) or pal:BITS
// (pal2 / pal4 chosen per tensor for a mean of BITS bits per weight).
struct weight_spec {
  dtype type;
  size_t svd_rank = 0;
  double pal_bits = 0.0;
};
weight_spec parse_weight_spec(const std::string& spec);

struct quantized_tensor {
  std::string name;
  dtype type;
  size_t elements = 0;
  size_t bytes = 0;
  // ||decoded - original|| / ||original||, original being the input file's decoded values.
  double rel_rmse = 0.0;
};

struct quantize_report {
  std::vector<quantized_tensor> tensors;
  size_t elements = 0, bytes = 0;  // over every tensor
  double bits_per_weight() const {
    return elements ? 8.0 * static_cast<double>(bytes) / static_cast<double>(elements) : 0.0;
  }
};

// Reads `in`, writes `out` with the same metadata and tensors re-encoded; `progress(done,
// total)` is called after each tensor and counts weights (values), not tensors. Throws afm::error
// naming the tensor when a shape does not fit the format's blocks.
quantize_report quantize_model(const std::string& in, const std::string& out,
                               const quantize_options& o, thread_pool& pool,
                               const std::function<void(size_t, size_t)>& progress = nullptr);

}  // namespace afm
