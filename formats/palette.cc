// The per-target strip decoders of pal2 and pal4 (formats/palette-inl.h), dispatched at run time.
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

}  // namespace HWY_NAMESPACE
}  // namespace afm::formats
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace afm::formats {

HWY_EXPORT(DecodePal2Strip);
HWY_EXPORT(DecodePal4Strip);

namespace palette {

template <>
void decode_strip<2>(const void* strip, size_t cols, float* residual, float* offsets) {
  HWY_DYNAMIC_DISPATCH(DecodePal2Strip)(strip, cols, residual, offsets);
}
template <>
void decode_strip<4>(const void* strip, size_t cols, float* residual, float* offsets) {
  HWY_DYNAMIC_DISPATCH(DecodePal4Strip)(strip, cols, residual, offsets);
}

}  // namespace palette
}  // namespace afm::formats
#endif  // HWY_ONCE
