// f32: plain IEEE single precision, the reference format. Matvec is core's SIMD dot product.
#include <cstring>

#include "core/kernels.h"
#include "formats/format.h"

namespace afm::formats {
namespace {

void encode(const float* src, size_t n, void* dst) {
  std::memcpy(dst, src, n * sizeof(float));
}
void decode(const void* src, size_t n, float* dst) {
  std::memcpy(dst, src, n * sizeof(float));
}

void matvec(const void* w, size_t row_bytes, size_t cols, const void* act, float* y, size_t r0,
            size_t r1) {
  const float* x = static_cast<const float*>(act);
  for (size_t r = r0; r < r1; ++r) {
    const auto* row =
        reinterpret_cast<const float*>(static_cast<const uint8_t*>(w) + r * row_bytes);
    y[r - r0] = kernels::dot(row, x, cols);
  }
}

}  // namespace

extern const weight_format kF32Format{dtype::f32, "f32",   1,       4,     encode,
                                      decode,     nullptr, nullptr, matvec};

}  // namespace afm::formats
