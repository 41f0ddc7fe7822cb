// f16: IEEE half precision (5-bit exponent, 10-bit mantissa), round to nearest even.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "formats/f16.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <type_traits>

#include "afm/dtype.h"
#include "formats/format.h"

HWY_BEFORE_NAMESPACE();
namespace afm::formats {
namespace HWY_NAMESPACE {
#include "formats/matvec_stripes-inl.h"

void MatvecF16(const void* w, size_t row_bytes, size_t cols, const void* act, float* y, size_t r0,
               size_t r1) {
  MatvecFloat<hwy::float16_t>(w, row_bytes, cols, static_cast<const float*>(act), y, r0, r1);
}
}  // namespace HWY_NAMESPACE
}  // namespace afm::formats
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace afm::formats {
namespace {

HWY_EXPORT(MatvecF16);

void encode(const float* src, size_t n, void* dst) {
  auto* out = static_cast<uint16_t*>(dst);
  for (size_t i = 0; i < n; ++i) out[i] = f32_to_f16(src[i]);
}
void decode(const void* src, size_t n, float* dst) {
  const auto* in = static_cast<const uint16_t*>(src);
  for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(in[i]);
}
void matvec(const void* w, size_t row_bytes, size_t cols, const void* act, float* y, size_t r0,
            size_t r1) {
  HWY_DYNAMIC_DISPATCH(MatvecF16)(w, row_bytes, cols, act, y, r0, r1);
}

}  // namespace

extern const weight_format kF16Format{dtype::f16, "f16",   1,       2,     encode,
                                      decode,     nullptr, nullptr, matvec};

}  // namespace afm::formats
#endif  // HWY_ONCE
