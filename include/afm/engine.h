// afm::engine — runs one sequence through a loaded model: prefill, then decode, over a KV
// cache that holds memory only for the layers that own KV (shared layers read their source's).
//
//   auto m = afm::load_model("model.gguf");
//   afm::engine e(*m, {.n_threads = 2});
//   auto logits = e.prefill(prompt_tokens);      // logits of the last prompt position
//   int32_t t = sampler.sample(logits);
//   logits = e.decode(t);                        // one token at a time
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "afm/arena.h"
#include "afm/model.h"
#include "afm/thread_pool.h"

namespace afm {

struct kv_cache;

// How the KV cache stores K and V: f32, or 8 bits per value with one f32 scale per head vector
// (report section 6; docs/compression.md). `model_default`: what the model file asks for in
// afm.kv_cache_type (written by `afm quantize --kv q8`), f32 when it says nothing.
enum class kv_cache_type { model_default, f32, q8 };

struct engine_options {
  int n_threads = 0;                           // 0: one per hardware thread
  size_t n_ctx = 0;                            // 0: the model's context length
  size_t batch = 512;                          // prefill tokens processed together
  execution exec = execution::track_parallel;  // no effect on single-track models
  kv_cache_type kv_type = kv_cache_type::model_default;
};

class engine {
 public:
  explicit engine(const model& m, engine_options o = {});
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // Appends tokens and returns the logits of the last one ([n_vocab]). Layers after the last
  // KV writer (Block 2 with KV sharing) run for that position only. Throws afm::error on a
  // context overflow or a token outside the vocabulary; the sequence is then unchanged.
  std::span<const float> prefill(std::span<const int32_t> tokens);
  // As prefill, but every layer runs at every position and the logits of all of them are
  // returned ([n][n_vocab]).
  std::span<const float> prefill_all(std::span<const int32_t> tokens);
  // One token: prefill of length 1.
  std::span<const float> decode(int32_t token) {
    return prefill(std::span<const int32_t>(&token, 1));
  }

  size_t position() const { return pos_; }
  size_t context_size() const { return n_ctx_; }
  // Forgets the sequence; the KV memory is kept for the next one.
  void reset() { pos_ = 0; }
  // Keeps the first n positions and forgets the rest (n <= position()): the cache rows past n are
  // simply overwritten by the next prefill. Sessions use it to reuse a shared prefix. Throws if
  // !can_truncate(n).
  void truncate(size_t n);
  // False when a sliding-window ring buffer has already overwritten positions that the window
  // before n needs (the sequence was cut back by more than the ring's spare slots); a caller
  // then re-runs from position 0.
  bool can_truncate(size_t n) const;

  size_t kv_bytes() const;            // bytes allocated for the KV cache
  size_t kv_bytes_per_token() const;  // bytes one position adds (before ring buffers wrap)
  bool kv_8bit() const;               // the cache holds 8-bit K and V
  // Tokens routed to each expert so far, [n_tracks][n_layers][n_experts] (zeros for dense
  // layers); empty for models without experts.
  std::span<const uint64_t> expert_load() const { return expert_load_; }
  // Barriers of the thread pool that the track-parallel execution shares between tracks (or of
  // the only pool, in layer-parallel execution) since the engine was made: synchronizations.
  uint64_t synchronizations() const { return pool_.loops_run(); }
  // Floating-point operations of every forward pass run so far (benchmarks).
  double flops() const { return flops_; }
  thread_pool& pool() { return pool_; }
  const afm::model& model() const { return m_; }

 private:
  std::span<const float> run(std::span<const int32_t> tokens, bool all);

  const afm::model& m_;
  size_t n_ctx_;
  size_t batch_;
  size_t pos_ = 0;
  execution exec_;
  thread_pool pool_;
  std::vector<std::unique_ptr<thread_pool>> worker_pools_;
  std::vector<thread_pool*> worker_pool_ptrs_;
  arena scratch_;
  std::unique_ptr<kv_cache> kv_;
  std::vector<uint64_t> expert_load_;
  std::vector<float> logits_;
  double flops_ = 0.0;
};

}  // namespace afm
