// The per-target strip decoders and fused strip products of pal2 and pal4 (formats/palette-inl.h),
// dispatched at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "formats/palette.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include "formats/palette.h"

HWY_BEFORE_NAMESPACE();
namespace afm::formats {
namespace HWY_NAMESPACE {
#include "formats/palette-inl.h"

void DecodePal2Strip(const void* strip, size_t cols, float* residual, float* offsets) {
  DecodePaletteStrip<2>(strip, cols, residual, offsets);
}
void DecodePal4Strip(const void* strip, size_t cols, float* residual, float* offsets) {
  DecodePaletteStrip<4>(strip, cols, residual, offsets);
}
void MatvecPal2Strip(const void* strip, size_t cols, const void* x, float* y) {
  MatvecPaletteStrip<2>(strip, cols, static_cast<const float*>(x), y);
}
void MatvecPal4Strip(const void* strip, size_t cols, const void* x, float* y) {
  MatvecPaletteStrip<4>(strip, cols, static_cast<const float*>(x), y);
}

}  // namespace HWY_NAMESPACE
}  // namespace afm::formats
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace afm::formats {

HWY_EXPORT(DecodePal2Strip);
HWY_EXPORT(DecodePal4Strip);
HWY_EXPORT(MatvecPal2Strip);
HWY_EXPORT(MatvecPal4Strip);

namespace palette {

template <>
void decode_strip<2>(const void* strip, size_t cols, float* residual, float* offsets) {
  HWY_DYNAMIC_DISPATCH(DecodePal2Strip)(strip, cols, residual, offsets);
}
template <>
void decode_strip<4>(const void* strip, size_t cols, float* residual, float* offsets) {
  HWY_DYNAMIC_DISPATCH(DecodePal4Strip)(strip, cols, residual, offsets);
}
template <>
void matvec_strip<2>(const void* strip, size_t cols, const void* x, float* y) {
  HWY_DYNAMIC_DISPATCH(MatvecPal2Strip)(strip, cols, x, y);
}
template <>
void matvec_strip<4>(const void* strip, size_t cols, const void* x, float* y) {
  HWY_DYNAMIC_DISPATCH(MatvecPal4Strip)(strip, cols, x, y);
}

}  // namespace palette
}  // namespace afm::formats
#endif  // HWY_ONCE
