// f32: plain IEEE single precision, the reference format.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "formats/f32.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <type_traits>

#include <cstring>

#include "afm/dtype.h"
#include "formats/format.h"

HWY_BEFORE_NAMESPACE();
namespace afm::formats {
namespace HWY_NAMESPACE {
#include "formats/matvec_stripes-inl.h"

void MatvecF32(const void* w, size_t row_bytes, size_t cols, const void* act, float* y, size_t r0,
               size_t r1) {
  MatvecFloat<float>(w, row_bytes, cols, static_cast<const float*>(act), y, r0, r1);
}
}  // namespace HWY_NAMESPACE
}  // namespace afm::formats
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace afm::formats {
namespace {

HWY_EXPORT(MatvecF32);

void encode(const float* src, size_t n, void* dst) {
  std::memcpy(dst, src, n * sizeof(float));
}
void decode(const void* src, size_t n, float* dst) {
  std::memcpy(dst, src, n * sizeof(float));
}
void matvec(const void* w, size_t row_bytes, size_t cols, const void* act, float* y, size_t r0,
            size_t r1) {
  HWY_DYNAMIC_DISPATCH(MatvecF32)(w, row_bytes, cols, act, y, r0, r1);
}

}  // namespace

extern const weight_format kF32Format{dtype::f32, "f32",   1,       4,     encode,
                                      decode,     nullptr, nullptr, matvec};

}  // namespace afm::formats
#endif  // HWY_ONCE
