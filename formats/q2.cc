// q2: 2-bit balanced weights (report section 6), the on-device model's format. Levels
// {-1.5, -0.5, 0.5, 1.5} times an f16 scale per block of 256 weights: 66 bytes per block, 2.0625
// bits per weight. Layout, encoder and fused kernel are shared with q4: formats/balanced_bits.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "formats/q2.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <type_traits>

#include "formats/balanced_bits.h"
#include "formats/format.h"

HWY_BEFORE_NAMESPACE();
namespace afm::formats {
namespace HWY_NAMESPACE {
#include "formats/matvec_stripes-inl.h"
// clang-format off
#include "formats/balanced_bits-inl.h"
// clang-format on

void MatvecQ2(const void* w, size_t row_bytes, size_t cols, const void* act, float* y, size_t r0,
              size_t r1) {
  MatvecBalanced<2>(w, row_bytes, cols, act, y, r0, r1);
}

}  // namespace HWY_NAMESPACE
}  // namespace afm::formats
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace afm::formats {
namespace {

HWY_EXPORT(MatvecQ2);

void matvec(const void* w, size_t row_bytes, size_t cols, const void* act, float* y, size_t r0,
            size_t r1) {
  HWY_DYNAMIC_DISPATCH(MatvecQ2)(w, row_bytes, cols, act, y, r0, r1);
}

}  // namespace

extern const weight_format kQ2Format = balanced_bits::make_format<2>(dtype::afm_q2, "q2", matvec);

}  // namespace afm::formats
#endif  // HWY_ONCE
