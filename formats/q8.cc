// q8 (GGML Q8_0): blocks of 32 weights, one f16 scale d and 32 int8 values q, w = d * q.
// 34 bytes per block, 8.5 bits per weight; GGUF Q8_0 tensors are used as they are.
//
// The matvec quantizes x once per product to int16 values with one f32 scale per block of 32
// (activation layout: int16 q[cols], then f32 d[cols / 32]), so the inner loop is an integer
// multiply-add of sign-extended weights (vpmaddwd on x86) and one float FMA per block.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "formats/q8.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstring>

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
namespace hn = hwy::HWY_NAMESPACE;

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
  const hn::CappedTag<hwy::float16_t, 1> dh1;
  const hn::CappedTag<float, 1> df1;
  const size_t N16 = hn::Lanes(di16);
  const size_t n_blocks = cols / q8::kBlock;
  const auto* xq = static_cast<const int16_t*>(act);
  const auto* xd = reinterpret_cast<const float*>(xq + cols);
  for (size_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w) + r * row_bytes;
    auto acc0 = hn::Zero(df), acc1 = hn::Zero(df);
    for (size_t b = 0; b < n_blocks; ++b) {
      const uint8_t* blk = row + b * q8::kBlockBytes;
      const auto* qs = reinterpret_cast<const int8_t*>(blk + 2);
      const int16_t* xb = xq + b * q8::kBlock;
      auto s0 = hn::Zero(di32), s1 = hn::Zero(di32);
      for (size_t j = 0; j < q8::kBlock; j += N16) {
        const auto wv = hn::PromoteTo(di16, hn::LoadU(di8, qs + j));
        s0 = hn::ReorderWidenMulAccumulate(di32, wv, hn::LoadU(di16, xb + j), s0, s1);
      }
      const float dw = hn::GetLane(
          hn::PromoteTo(df1, hn::LoadU(dh1, reinterpret_cast<const hwy::float16_t*>(blk))));
      const auto sum = hn::ConvertTo(df, hn::RearrangeToOddPlusEven(s0, s1));
      if (b & 1) {
        acc1 = hn::MulAdd(sum, hn::Set(df, dw * xd[b]), acc1);
      } else {
        acc0 = hn::MulAdd(sum, hn::Set(df, dw * xd[b]), acc0);
      }
    }
    y[r - r0] = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0, acc1)));
  }
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace afm::formats
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace afm::formats {
namespace {

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
  auto* q = static_cast<int16_t*>(act);
  auto* d = reinterpret_cast<float*>(q + cols);
  for (size_t b = 0; b < cols / q8::kBlock; ++b) {
    const float* xb = x + b * q8::kBlock;
    float amax = 0.0f;
    for (size_t i = 0; i < q8::kBlock; ++i) amax = std::max(amax, std::fabs(xb[i]));
    d[b] = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (size_t i = 0; i < q8::kBlock; ++i)
      q[b * q8::kBlock + i] = static_cast<int16_t>(std::lrintf(xb[i] * id));
  }
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
