#include "runtime/kv_cache.h"

#include <algorithm>

#include "afm/error.h"

namespace afm {

kv_cache::kv_cache(const architecture& arch, const model_config& c, size_t cap, size_t batch,
                   bool q8_)
    : capacity(cap), q8(q8_) {
  const std::vector<kv_slot> slots = arch.kv_slots(c);
  views.resize(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    const kv_slot& s = slots[i];
    if (s.source != static_cast<int64_t>(i)) continue;
    const size_t window = static_cast<size_t>(s.window);
    // A ring needs window - 1 older positions beside the batch it writes.
    const size_t n_slots = window ? std::min(cap, window + batch) : cap;
    const size_t row = static_cast<size_t>(s.n_kv_heads * s.head_dim);
    const size_t per_cache = row * n_slots;
    // Untouched pages cost nothing until a position is written.
    auto alloc = [&](size_t n) {
      const size_t b = arena::round_up(n);
      void* p = std::aligned_alloc(arena::kAlign, b);
      if (!p) fail("cannot allocate the KV cache (", b, " bytes for cache ", i, ")");
      buffers_.emplace_back(p);
      return p;
    };
    kv_view& v = views[i];
    v.capacity = n_slots;
    v.window = window;
    if (q8) {
      const size_t scales = static_cast<size_t>(s.n_kv_heads) * n_slots * sizeof(float);
      v.k8 = static_cast<int8_t*>(alloc(per_cache));
      v.v8 = static_cast<int8_t*>(alloc(per_cache));
      v.k_scale = static_cast<float*>(alloc(scales));
      v.v_scale = static_cast<float*>(alloc(scales));
      bytes += 2 * (per_cache + scales);
      bytes_per_token += 2 * (row + static_cast<size_t>(s.n_kv_heads) * sizeof(float));
    } else {
      v.k = static_cast<float*>(alloc(per_cache * sizeof(float)));
      v.v = static_cast<float*>(alloc(per_cache * sizeof(float)));
      bytes += 2 * per_cache * sizeof(float);
      bytes_per_token += 2 * row * sizeof(float);
    }
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    const size_t src = static_cast<size_t>(slots[i].source);
    if (src != i) views[i] = views[src];
  }
}

bool kv_cache::can_truncate(size_t pos, size_t n) const {
  if (n > pos) return false;
  if (n == 0 || n == pos) return true;
  for (const kv_view& v : views) {
    if (!v.window || pos <= v.capacity) continue;  // nothing was overwritten
    // The next query, at position n, reads positions from n - window + 1; position j survives
    // while no j + capacity < pos has been written.
    const size_t first = n + 1 > v.window ? n + 1 - v.window : 0;
    if (first + v.capacity < pos) return false;
  }
  return true;
}

}  // namespace afm
