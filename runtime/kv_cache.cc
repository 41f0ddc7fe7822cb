#include "runtime/kv_cache.h"

#include "afm/error.h"

namespace afm {

kv_cache::kv_cache(const model_config& c, size_t cap) : capacity(cap) {
  const size_t per_layer = static_cast<size_t>(c.n_kv_heads * c.head_dim) * capacity;
  views.resize(static_cast<size_t>(c.n_layers));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    if (!c.owns_kv(l)) continue;
    // Untouched pages cost nothing until a position is written.
    const size_t b = arena::round_up(per_layer * sizeof(float));
    for (int kv = 0; kv < 2; ++kv) {
      auto* p = static_cast<float*>(std::aligned_alloc(arena::kAlign, b));
      if (!p) fail("cannot allocate the KV cache (", b, " bytes for layer ", l, ")");
      buffers_.emplace_back(p);
    }
    views[static_cast<size_t>(l)] = {buffers_[buffers_.size() - 2].get(), buffers_.back().get(),
                                     capacity};
    bytes += 2 * per_layer * sizeof(float);
    bytes_per_token += 2 * static_cast<size_t>(c.n_kv_heads * c.head_dim) * sizeof(float);
  }
  for (int64_t l = 0; l < c.n_layers; ++l)
    if (!c.owns_kv(l))
      views[static_cast<size_t>(l)] =
          views[static_cast<size_t>(c.kv_source[static_cast<size_t>(l)])];
}

}  // namespace afm
