// What an architecture provides to the rest of afm: its config keys, its tensor list, its
// scratch needs and its forward pass. One short file per architecture fills one `architecture`
// from the shared blocks in model/blocks.h; registry.cc lists them.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "afm/arena.h"
#include "afm/gguf.h"
#include "afm/model.h"
#include "afm/thread_pool.h"

namespace afm {

// How a tensor is initialised by `afm create` (docs/model-format.md states the distributions).
enum class tensor_role { norm, embedding, weight, residual_out };

// One tensor an architecture expects: its file name, dims in GGML order, and where the loader
// puts the view. `slot` is null for tensors the caller only declares.
struct tensor_slot {
  std::string name;
  std::vector<int64_t> ne;
  tensor_role role;
  tensor* slot;
};

// A layer's KV cache as the forward pass sees it: [n_kv_heads][capacity][head_dim] for K and V.
// Position p lives in slot p % capacity. A full cache has capacity >= the context; a
// sliding-window layer's is a ring buffer of window + prefill-batch slots, so a batch's writes
// never overwrite keys its own earlier queries still see. Layers that share KV get their source
// layer's view.
// An 8-bit cache (report section 6) holds int8 K and V in the same layout with one f32 scale
// per head vector, [n_kv_heads][capacity], and null k / v.
struct kv_view {
  float* k = nullptr;
  float* v = nullptr;
  int8_t* k8 = nullptr;
  int8_t* v8 = nullptr;
  float* k_scale = nullptr;
  float* v_scale = nullptr;
  size_t capacity = 0;
  size_t window = 0;  // 0: attends to every position
};

// One KV cache an architecture needs (one per layer, and per track): `source` is its own index,
// or an earlier cache it reads instead of owning one (KV sharing).
struct kv_slot {
  int64_t source;
  int64_t n_kv_heads, head_dim;
  int64_t window;  // 0: keeps the whole sequence
};

enum class logits_mode {
  none,  // only fill the KV cache (a prefill chunk that is not the last)
  last,  // logits of the last position; layers after the last KV writer run for it alone
  all,   // logits of every position; every layer runs at every position
};

struct forward_args {
  const int32_t* tokens;
  size_t n;           // tokens in this call
  size_t pos0;        // position of tokens[0]
  const kv_view* kv;  // per layer
  logits_mode mode;
  float* logits;  // [1 or n][n_vocab]
};

struct forward_context {
  thread_pool& pool;
  arena& scratch;
  // Architectures with parallel_tracks: one pool per worker of `pool`, for the work a worker does
  // alone. track_parallel: worker i runs tracks i, i + G, ... (G = worker_pools.size()) on its
  // pool (one thread, or more when there are more threads than tracks); empty: the tracks run
  // in turn, every operation split across `pool`. layer_parallel: one single-thread pool per
  // worker, each running its slices.
  execution exec = execution::track_parallel;
  std::span<thread_pool* const> worker_pools = {};
  // Tokens routed to each expert, [n_tracks][n_layers][n_experts], added to by MoE layers;
  // may be null.
  uint64_t* expert_load = nullptr;
};

struct architecture {
  const char* name;  // general.architecture
  void (*read_config)(const gguf_file& f, model_config& c);
  void (*write_config)(const model_config& c, gguf_writer& w);
  std::vector<tensor_slot> (*tensors)(const model_config& c, model* m);
  // Scratch one forward call of n_tokens needs when the pool has n_threads threads.
  size_t (*scratch_bytes)(const model_config& c, size_t n_tokens, size_t n_threads);
  void (*forward)(const model& m, const forward_args& a, forward_context& ctx);
  // Arithmetic of one forward call (multiply-adds count 2), for benchmarks.
  double (*flops)(const model_config& c, size_t n, size_t pos0, logits_mode mode);
  // KV-cache bytes one decode step at position pos reads (every layer reads its view).
  double (*kv_read_bytes)(const model_config& c, size_t pos);
  // The KV caches the forward pass expects in forward_args::kv, in order.
  std::vector<kv_slot> (*kv_slots)(const model_config& c);
  // Checks the config fields only this architecture reads (after the shared checks).
  void (*validate)(const model_config& c);
  // Runs tracks (forward_context::exec and worker_pools matter).
  bool parallel_tracks = false;
};

// The config keys every architecture shares (<arch>.context_length, ...; docs/model-format.md).
void read_base_config(const gguf_file& f, model_config& c);
void write_base_config(const model_config& c, gguf_writer& w);

const architecture* find_architecture(const std::string& name);
// Names of all registered architectures, for error messages.
std::string architecture_names();

}  // namespace afm
