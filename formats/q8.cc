// q8 (GGML Q8_0): blocks of 32 weights, one f16 scale d and 32 int8 values q, w = d * q.
// 34 bytes per block, 8.5 bits per weight; GGUF Q8_0 tensors are used as they are.
//
// The matvec quantizes x once per product to int16 values with one f32 scale per block of 32
// (activation layout: int16 q[cols], then f32 d[cols / 32]), so the inner loop is an integer
// multiply-add of sign-extended weights (vpmaddwd on x86) and one float FMA per block.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "formats/q8.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "afm/dtype.h"
#include "formats/format.h"

#ifndef AFM_FORMATS_Q8_CONSTANTS
#define AFM_FORMATS_Q8_CONSTANTS
namespace afm::formats::q8 {
constexpr size_t kBlock = 32;
constexpr size_t kBlockBytes = 34;
}  // namespace afm::formats::q8
#endif

HWY_BEFORE_NAMESPACE();
namespace afm::formats {
namespace HWY_NAMESPACE {
#include "formats/matvec_stripes-inl.h"

// The activation layout above: int16 q[cols] on each block's grid, then f32 d[cols / 32].
void PrepareActQ8(const float* x, size_t cols, void* act) {
  auto* q = static_cast<int16_t*>(act);
  auto* d = reinterpret_cast<float*>(q + cols);
  for (size_t b = 0; b < cols / q8::kBlock; ++b)
    d[b] = QuantizeActBlock(x + b * q8::kBlock, q8::kBlock, q + b * q8::kBlock, nullptr) / 127.0f;
}

void MatvecQ8(const void* w, size_t row_bytes, size_t cols, const void* act, float* y, size_t r0,
              size_t r1) {
#if HWY_TARGET == HWY_SCALAR
  // One-lane vectors cannot hold the int16 pairs of a widening multiply: plain integer loop.
  const auto* xq = static_cast<const int16_t*>(act);
  const auto* xd = reinterpret_cast<const float*>(xq + cols);
  for (size_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w) + r * row_bytes;
    float acc = 0.0f;
    for (size_t b = 0; b < cols / q8::kBlock; ++b) {
      const uint8_t* blk = row + b * q8::kBlockBytes;
      uint16_t dh;
      std::memcpy(&dh, blk, 2);
      int32_t s = 0;
      for (size_t j = 0; j < q8::kBlock; ++j)
        s += static_cast<int8_t>(blk[2 + j]) * xq[b * q8::kBlock + j];
      acc += static_cast<float>(s) * f16_to_f32(dh) * xd[b];
    }
    y[r - r0] = acc;
  }
#else
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di32;
  const hn::Repartition<int16_t, decltype(di32)> di16;
  const hn::Rebind<int8_t, decltype(di16)> di8;
  const hn::Full64<hwy::float16_t> dh4;
  const hn::Full128<float> df4;
  const size_t N16 = hn::Lanes(di16);
  const size_t n_blocks = cols / q8::kBlock;
  const auto* xq = static_cast<const int16_t*>(act);
  const auto* xd = reinterpret_cast<const float*>(xq + cols);
  MatvecStripes(w, row_bytes, y, r0, r1, [&](const uint8_t* const rows[4], float out[4]) {
    auto acc0 = hn::Zero(df), acc1 = hn::Zero(df), acc2 = hn::Zero(df), acc3 = hn::Zero(df);
    HWY_ALIGN float scale[4];
    for (size_t b = 0; b < n_blocks; ++b) {
      const size_t off = b * q8::kBlockBytes;
      if (b % 2 == 0)  // software prefetch ahead of each stream, one cache line per 2 blocks
        for (size_t s = 0; s < 4; ++s) hwy::Prefetch(rows[s] + off + AFM_MATVEC_PREFETCH_BYTES);
      // The four rows' f16 block scales, widened together and multiplied by x's block scale.
      uint16_t dh[4];
      for (size_t s = 0; s < 4; ++s) std::memcpy(&dh[s], rows[s] + off, 2);
      hn::Store(
          hn::Mul(hn::PromoteTo(df4, hn::LoadU(dh4, reinterpret_cast<const hwy::float16_t*>(dh))),
                  hn::Set(df4, xd[b])),
          df4, scale);
      const int16_t* xb = xq + b * q8::kBlock;
      auto block_dot = [&](const uint8_t* row) {
        const auto* qs = reinterpret_cast<const int8_t*>(row + off + 2);
        auto s0 = hn::Zero(di32), s1 = hn::Zero(di32);
        for (size_t j = 0; j < q8::kBlock; j += N16)
          s0 = hn::ReorderWidenMulAccumulate(di32, hn::PromoteTo(di16, hn::LoadU(di8, qs + j)),
                                             hn::LoadU(di16, xb + j), s0, s1);
        return hn::ConvertTo(df, hn::RearrangeToOddPlusEven(s0, s1));
      };
      acc0 = hn::MulAdd(block_dot(rows[0]), hn::Set(df, scale[0]), acc0);
      acc1 = hn::MulAdd(block_dot(rows[1]), hn::Set(df, scale[1]), acc1);
      acc2 = hn::MulAdd(block_dot(rows[2]), hn::Set(df, scale[2]), acc2);
      acc3 = hn::MulAdd(block_dot(rows[3]), hn::Set(df, scale[3]), acc3);
    }
    out[0] = hn::GetLane(hn::SumOfLanes(df, acc0));
    out[1] = hn::GetLane(hn::SumOfLanes(df, acc1));
    out[2] = hn::GetLane(hn::SumOfLanes(df, acc2));
    out[3] = hn::GetLane(hn::SumOfLanes(df, acc3));
  });
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace afm::formats
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace afm::formats {
namespace {

HWY_EXPORT(PrepareActQ8);
HWY_EXPORT(MatvecQ8);

// Scale and rounding as GGML's reference quantizer: d = max|x| / 127, q = round(x / d).
void encode(const float* src, size_t n, void* dst) {
  auto* out = static_cast<uint8_t*>(dst);
  for (size_t b = 0; b < n / q8::kBlock; ++b) {
    const float* x = src + b * q8::kBlock;
    float amax = 0.0f;
    for (size_t i = 0; i < q8::kBlock; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t* blk = out + b * q8::kBlockBytes;
    const uint16_t dh = f32_to_f16(d);
    std::memcpy(blk, &dh, 2);
    for (size_t i = 0; i < q8::kBlock; ++i)
      blk[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::round(x[i] * id)));
  }
}

void decode(const void* src, size_t n, float* dst) {
  const auto* in = static_cast<const uint8_t*>(src);
  for (size_t b = 0; b < n / q8::kBlock; ++b) {
    const uint8_t* blk = in + b * q8::kBlockBytes;
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    const float d = f16_to_f32(dh);
    for (size_t i = 0; i < q8::kBlock; ++i)
      dst[b * q8::kBlock + i] = d * static_cast<float>(static_cast<int8_t>(blk[2 + i]));
  }
}

size_t act_bytes(size_t cols) {
  return cols * sizeof(int16_t) + cols / q8::kBlock * sizeof(float);
}

void prepare_act(const float* x, size_t cols, void* act) {
  HWY_DYNAMIC_DISPATCH(PrepareActQ8)(x, cols, act);
}

void matvec(const void* w, size_t row_bytes, size_t cols, const void* act, float* y, size_t r0,
            size_t r1) {
  HWY_DYNAMIC_DISPATCH(MatvecQ8)(w, row_bytes, cols, act, y, r0, r1);
}

}  // namespace

extern const weight_format kQ8Format{dtype::q8_0, "q8_0",    q8::kBlock,  q8::kBlockBytes, encode,
                                     decode,      act_bytes, prepare_act, matvec};

}  // namespace afm::formats
#endif  // HWY_ONCE
