// Model configuration and loaded weights. One config struct describes every architecture afm
// runs; an architecture (model/<name>.cc) reads it from and writes it to the model file, lists
// its tensors and runs the forward pass.
#pragma once

#include <cstdint>
#include <functional>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "afm/gguf.h"
#include "afm/tensor.h"
#include "afm/thread_pool.h"

namespace afm {

enum class rope_style : uint32_t {
  interleaved = 0,  // rotates (x[2i], x[2i+1]): GGML's "normal" RoPE, llama-family GGUF files
  half = 1,         // rotates (x[i], x[i + d/2]): the NeoX layout
};

// How a model with parallel tracks (PT-MoE) uses the threads.
enum class execution {
  // Tracks run concurrently, each on its own threads, and meet only at track-block boundaries:
  // n_layers / track_block_depth synchronizations per forward pass, plus the output head.
  track_parallel,
  // The baseline, tensor parallelism: layer by layer (every track's layer l together), each
  // thread takes a slice of the attention heads, of the FFN width and of the experts, and the
  // partial results are summed after the attention and after the FFN: 2 synchronizations per
  // layer, plus the output head.
  layer_parallel,
};

struct model_config {
  std::string arch = "afm";  // general.architecture
  std::string name;
  int64_t n_vocab = 0;
  int64_t d_model = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t d_ff = 0;
  int64_t n_ctx = 0;  // longest sequence the model was built for
  float rms_eps = 1e-5f;
  float rope_base = 10000.0f;
  rope_style rope = rope_style::interleaved;
  // KV-cache sharing (report section 2.1): the last round(n_layers * fraction) layers have no
  // K/V projections and read the KV cache of kv_source[layer]. kv_source[l] == l for a layer
  // that owns its cache.
  double kv_shared_fraction = 0.0;
  std::vector<int32_t> kv_source;
  bool tied_output = true;  // the output head reads the token embedding

  // PT-MoE, the server model (report section 2.2; architecture "afm-pt-moe"). Other
  // architectures keep these defaults. n_layers is then the depth of each track, and n_heads,
  // n_kv_heads and d_ff are per track.
  int64_t n_tracks = 1;           // T parallel tracks
  int64_t track_block_depth = 1;  // D layers per track block; tracks synchronize between blocks
  int64_t moe_every = 0;          // layer l has an MoE FFN when (l + 1) % moe_every == 0; 0: none
  int64_t n_experts = 0;          // E experts per MoE layer
  int64_t n_experts_used = 0;     // top-k
  int64_t expert_ff = 0;          // each expert's SwiGLU width
  bool moe_renorm = true;         // renormalize the k chosen router weights to sum to 1
  int64_t sliding_window = 0;     // local layers attend to the last W positions; 0: all of them
  // Layer l is global (no positional embedding, whole sequence) when (l + 1) % global_every == 0;
  // the others are local (RoPE, sliding window). 4 gives the report's 3 local : 1 global; 0 makes
  // every layer local.
  int64_t global_every = 0;

  bool owns_kv(int64_t layer) const { return kv_source[static_cast<size_t>(layer)] == layer; }
  bool is_moe(int64_t layer) const { return moe_every > 0 && (layer + 1) % moe_every == 0; }
  bool is_global(int64_t layer) const {
    return global_every > 0 && (layer + 1) % global_every == 0;
  }
  // Keys a layer's queries see: 0 for the whole sequence.
  int64_t window(int64_t layer) const { return is_global(layer) ? 0 : sliding_window; }
  int64_t n_kv_layers() const;    // layers that own a KV cache
  int64_t last_kv_layer() const;  // the last layer that writes KV
  int64_t n_shared_layers() const { return n_layers - n_kv_layers(); }
};

// Sets kv_source for `kv_shared_fraction`: Block 1 is the first n_layers - round(L * f) layers;
// every Block-2 layer reads the last Block-1 layer's cache.
void set_default_kv_sources(model_config& c);
// Checks every field; throws afm::error naming the first bad one.
void validate_config(const model_config& c);
// Reads a config from a JSON file (see configs/ and docs/model-format.md).
model_config load_config_json(const std::string& path);

struct layer_weights {
  tensor attn_norm, wq, wk, wv, wo;  // wk and wv are empty in layers that share KV
  tensor ffn_norm, w_gate, w_up, w_down;
  // An MoE layer has these instead of w_gate/w_up/w_down: the router [E][d] and the experts'
  // SwiGLU matrices stacked along the third dimension ([E][expert_ff][d], [E][d][expert_ff]).
  tensor router, gate_exps, up_exps, down_exps;
};

struct architecture;

struct model {
  model_config cfg;
  const architecture* arch = nullptr;
  gguf_file file;                         // owns the mapping the tensors point into
  tensor tok_embd, output_norm, output;   // output aliases tok_embd when tied
  std::vector<layer_weights> layers;      // [n_tracks][n_layers]
  std::vector<float> rope_cos, rope_sin;  // [n_ctx][head_dim / 2]
  // Low-rank parts of matrices (tensor::lora_a / lora_b), "<name>.lora_a" / ".lora_b" in the
  // file; a deque so the matrices' pointers stay valid.
  std::deque<tensor> low_rank;

  // Bytes of weights one decode step reads (everything but the embedding rows it looks up,
  // plus the output head, which is the whole embedding table when tied).
  size_t decode_weight_bytes() const;
  size_t weight_bytes() const;
  int64_t n_params() const;
};

// How load_model lays q2 matrices out in memory.
enum class q2_layout {
  // tiles where the lookup product is the faster decode kernel on this CPU (vectors narrower
  // than 512 bits), else rows: formats/q2_tiles.h's lookup_preferred, measured in
  // docs/performance.md.
  automatic,
  // Re-laid in place into 16-row tiles for the table-lookup product (formats/q2_tiles.h) when
  // the image is private memory (gguf_load::read) and a matrix's rows come in whole 16-row strips;
  // the bytes and their count stay the same, and tensors then have type afm_q2_tiles.
  tiles,
  // As the file holds them, for q2's int8 dot-product kernel (and A/B measurements).
  rows,
};

// Opens a model file; throws afm::error naming the file, the tensor and what was expected.
// `load` defaults to reading the file into huge pages, which decode's weight streams need
// (gguf_load); tools that read the weights once pass gguf_load::map.
std::unique_ptr<model> load_model(const std::string& path, gguf_load load = gguf_load::read,
                                  q2_layout q2 = q2_layout::automatic);

}  // namespace afm

namespace afm {

// Random weights for tests and benchmarks (docs/model-format.md states the initialisation):
// embeddings and projections ~ N(0, std), the two residual-output projections (attn_output,
// ffn_down) ~ N(0, std / sqrt(2 n_layers)), norm gains ~ N(1, 0.1). Same seed, same weights,
// whatever the dtype; norm gains stay f32.
struct create_options {
  dtype type = dtype::f32;
  uint64_t seed = 1;
  double std = 0.02;
};
// Writes a model file for config c: every tensor the architecture lists, weights in `type` and
// norm gains in f32, each row's values from fill(tensor index in the architecture's list, row,
// dst of ne[0] floats); fill is called from several threads. `progress(done, total)` is called
// after each tensor and counts weights, so its fraction tracks the time left. `metadata` may add
// keys (e.g. a tokenizer's tokenizer.ggml.*) before the file is written. Throws afm::error naming
// a tensor the format cannot store.
void write_model_file(const model_config& c, dtype type, const std::string& path, thread_pool& pool,
                      const std::function<void(size_t tensor, size_t row, float* dst)>& fill,
                      const std::function<void(size_t done, size_t total)>& progress = {},
                      const std::function<void(gguf_writer&)>& metadata = {});

// Random weights from o, written as write_model_file does; `progress` counts weights, and
// `metadata` may add keys (e.g. a tokenizer's tokenizer.ggml.*) before the file is written.
void create_random_model(const model_config& c, const create_options& o, const std::string& path,
                         thread_pool& pool,
                         const std::function<void(size_t done, size_t total)>& progress = {},
                         const std::function<void(gguf_writer&)>& metadata = {});

}  // namespace afm
