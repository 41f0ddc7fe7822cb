// The KV cache: [n_kv_heads][slots][head_dim] f32 for K and for V (or int8 with an f32 scale
// per [n_kv_heads][slots] vector: the 8-bit cache), one per kv_slot the
// architecture lists, allocated only for slots that own their memory. A layer that shares KV
// (kv_slot::source) gets a view of its source's memory. A sliding-window slot is a ring buffer
// of window + batch slots, so its memory stays bounded however long the sequence grows.
#pragma once

#include <cstdlib>
#include <memory>
#include <vector>

#include "afm/model.h"
#include "model/architecture.h"

namespace afm {

struct kv_cache {
  // `capacity`: positions of a full cache; `batch`: the most positions one forward call adds.
  kv_cache(const architecture& arch, const model_config& c, size_t capacity, size_t batch,
           bool q8 = false);

  std::vector<kv_view> views;  // one per kv_slot
  size_t capacity = 0;
  bool q8 = false;
  size_t bytes = 0;  // allocated
  // K and V bytes one more position adds while every ring buffer has yet to wrap.
  size_t bytes_per_token = 0;

  // True if the sequence can be cut from `pos` positions back to `n` and continued exactly:
  // every ring buffer must still hold the window before position n.
  bool can_truncate(size_t pos, size_t n) const;

 private:
  struct free_deleter {
    void operator()(void* p) const { std::free(p); }
  };
  std::vector<std::unique_ptr<void, free_deleter>> buffers_;
};

}  // namespace afm
