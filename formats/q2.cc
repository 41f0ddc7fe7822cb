// q2: 2-bit balanced weights (report section 6), the on-device model's format. Levels
// {-1.5, -0.5, 0.5, 1.5} times an f16 scale per block of 256 weights: 66 bytes per block, 2.0625
// bits per weight. Shared with q4: layout and encoder in formats/balanced_bits.h; decoder,
// activation preparation and fused kernel in formats/balanced_bits-inl.h.
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

void DecodeQ2(const void* src, size_t n, float* dst) {
  DecodeBalanced<2>(src, n, dst);
}

void PrepareActQ2(const float* x, size_t cols, void* act) {
  PrepareActBalanced<2>(x, cols, act);
}

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

HWY_EXPORT(DecodeQ2);
HWY_EXPORT(PrepareActQ2);
HWY_EXPORT(MatvecQ2);

void decode(const void* src, size_t n, float* dst) {
  HWY_DYNAMIC_DISPATCH(DecodeQ2)(src, n, dst);
}

void prepare_act(const float* x, size_t cols, void* act) {
  HWY_DYNAMIC_DISPATCH(PrepareActQ2)(x, cols, act);
}

void matvec(const void* w, size_t row_bytes, size_t cols, const void* act, float* y, size_t r0,
            size_t r1) {
  HWY_DYNAMIC_DISPATCH(MatvecQ2)(w, row_bytes, cols, act, y, r0, r1);
}

}  // namespace

extern const weight_format kQ2Format =
    balanced_bits::make_format<2>(dtype::afm_q2, "q2", decode, prepare_act, matvec);

}  // namespace afm::formats
#endif  // HWY_ONCE
