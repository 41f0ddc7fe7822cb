// afm::arena — a bump allocator over one 64-byte-aligned buffer. Scratch memory for a forward
// pass is carved from it and released all at once with reset(); nothing is freed piecemeal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "afm/error.h"

namespace afm {

class arena {
 public:
  static constexpr size_t kAlign = 64;

  arena() = default;
  explicit arena(size_t capacity) { reserve(capacity); }

  // Replaces the buffer with one of at least `capacity` bytes; earlier allocations are lost.
  void reserve(size_t capacity) {
    capacity = round_up(capacity);
    void* p = std::aligned_alloc(kAlign, capacity == 0 ? kAlign : capacity);
    if (!p) fail("arena: cannot allocate ", capacity, " bytes");
    buf_.reset(static_cast<uint8_t*>(p));
    capacity_ = capacity;
    used_ = 0;
  }

  template <typename T>
  T* alloc(size_t count) {
    const size_t bytes = round_up(count * sizeof(T));
    if (used_ + bytes > capacity_)
      fail("arena: out of scratch memory (", used_ + bytes, " > ", capacity_, " bytes)");
    T* p = reinterpret_cast<T*>(buf_.get() + used_);
    used_ += bytes;
    return p;
  }

  void reset() { used_ = 0; }
  size_t used() const { return used_; }
  size_t capacity() const { return capacity_; }
  static size_t round_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

 private:
  struct free_deleter {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, free_deleter> buf_;
  size_t capacity_ = 0;
  size_t used_ = 0;
};

}  // namespace afm
