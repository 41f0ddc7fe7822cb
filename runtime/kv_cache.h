// The KV cache: [n_kv_heads][capacity][head_dim] f32 for K and for V, allocated only for layers
// that own KV. Layers that share KV (config.kv_source) get a view of their source's memory.
#pragma once

#include <cstdlib>
#include <memory>
#include <vector>

#include "afm/model.h"
#include "model/architecture.h"

namespace afm {

struct kv_cache {
  kv_cache(const model_config& c, size_t capacity);

  std::vector<kv_view> views;  // one per layer
  size_t capacity = 0;
  size_t bytes = 0;            // allocated
  size_t bytes_per_token = 0;  // K and V of every owning layer for one position

 private:
  struct free_deleter {
    void operator()(float* p) const { std::free(p); }
  };
  std::vector<std::unique_ptr<float, free_deleter>> buffers_;
};

}  // namespace afm
