// q4: 4-bit balanced weights, levels {-7.5, ..., 7.5} times an f16 scale per block of 256
// weights: 130 bytes per block, 4.0625 bits per weight. Used for weights and for the token
// embedding table (row lookup decodes one row; the tied output head runs the fused matvec on
// the same bytes). Shared with q2: layout and encoder in formats/balanced_bits.h; decoder,
// activation preparation and fused kernel in formats/balanced_bits-inl.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "formats/q4.cc"
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

void DecodeQ4(const void* src, size_t n, float* dst) {
  DecodeBalanced<4>(src, n, dst);
}

void PrepareActQ4(const float* x, size_t cols, void* act) {
  PrepareActBalanced<4>(x, cols, act);
}

void MatvecQ4(const void* w, size_t row_bytes, size_t cols, const void* act, float* y, size_t r0,
              size_t r1) {
  MatvecBalanced<4>(w, row_bytes, cols, act, y, r0, r1);
}

}  // namespace HWY_NAMESPACE
}  // namespace afm::formats
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace afm::formats {
namespace {

HWY_EXPORT(DecodeQ4);
HWY_EXPORT(PrepareActQ4);
HWY_EXPORT(MatvecQ4);

void decode(const void* src, size_t n, float* dst) {
  HWY_DYNAMIC_DISPATCH(DecodeQ4)(src, n, dst);
}

void prepare_act(const float* x, size_t cols, void* act) {
  HWY_DYNAMIC_DISPATCH(PrepareActQ4)(x, cols, act);
}

void matvec(const void* w, size_t row_bytes, size_t cols, const void* act, float* y, size_t r0,
            size_t r1) {
  HWY_DYNAMIC_DISPATCH(MatvecQ4)(w, row_bytes, cols, act, y, r0, r1);
}

}  // namespace

extern const weight_format kQ4Format =
    balanced_bits::make_format<4>(dtype::afm_q4, "q4", decode, prepare_act, matvec);

}  // namespace afm::formats
#endif  // HWY_ONCE
