// Shared by the balanced formats q2 (formats/q2.cc) and q4 (formats/q4.cc).
//
// A block holds 256 weights as B-bit codes under one f16 scale s: weight = s * (q - c) with
// c = (2^B - 1) / 2, so the levels are balanced around zero: {-1.5, -0.5, 0.5, 1.5} s for B = 2
// (report section 6) and {-7.5, ..., 7.5} s for B = 4. Block bytes: [f16 s][D = 32 B code bytes],
// 8 / B codes to a byte: the code of weight i sits in byte i % D at bits B * (i / D).
//
// Why that order: a vector of consecutive code bytes, shifted and masked once per field, gives
// the codes of consecutive weights, which the fused matvec (balanced_bits-inl.h) multiplies with
// consecutive int8 activations in one unsigned-by-signed multiply-add; nothing is shuffled.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "afm/dtype.h"
#include "formats/format.h"

namespace afm::formats::balanced_bits {

constexpr size_t kBlock = 256;
constexpr size_t code_bytes(int bits) {
  return kBlock * static_cast<size_t>(bits) / 8;
}
constexpr size_t block_bytes(int bits) {
  return 2 + code_bytes(bits);
}
constexpr float center(int bits) {
  return static_cast<float>((1 << bits) - 1) / 2.0f;
}

// Nearest balanced code of w / s: round(w / s + c) clamped to [0, 2^B - 1].
inline int code_of(float w_over_s, int bits) {
  const float q = std::floor(w_over_s + center(bits) + 0.5f);
  return static_cast<int>(std::clamp(q, 0.0f, static_cast<float>((1 << bits) - 1)));
}

// The scale of one block: starts from max|w| on the outer level and alternates code assignment
// with the least-squares scale for those codes, keeping the best squared error.
inline float fit_scale(const float* w, int bits) {
  float amax = 0.0f;
  for (size_t i = 0; i < kBlock; ++i) amax = std::max(amax, std::fabs(w[i]));
  if (amax == 0.0f) return 0.0f;
  const float c = center(bits);
  // Every candidate is judged as the f16 value the decoder will use.
  auto to_f16 = [](float v) { return f16_to_f32(f32_to_f16(v)); };
  float s = to_f16(amax / c), best_s = s, best_err = INFINITY;
  for (int iter = 0; iter < 8; ++iter) {
    double wl = 0.0, ll = 0.0, err = 0.0;
    for (size_t i = 0; i < kBlock; ++i) {
      const float l = static_cast<float>(code_of(w[i] / s, bits)) - c;
      wl += static_cast<double>(w[i]) * l;
      ll += static_cast<double>(l) * l;
      const double d = w[i] - s * l;
      err += d * d;
    }
    if (err < best_err) best_err = static_cast<float>(err), best_s = s;
    const float next = to_f16(static_cast<float>(wl / ll));
    if (!(next > 0.0f) || next == s) break;
    s = next;
  }
  return best_s;
}

inline void encode(const float* src, size_t n, void* dst, int bits) {
  auto* out = static_cast<uint8_t*>(dst);
  for (size_t b = 0; b < n / kBlock; ++b) {
    const float* w = src + b * kBlock;
    uint8_t* blk = out + b * block_bytes(bits);
    const float s = fit_scale(w, bits);
    const uint16_t sh = f32_to_f16(s);
    std::memcpy(blk, &sh, 2);
    std::memset(blk + 2, 0, code_bytes(bits));
    const float inv = s != 0.0f ? 1.0f / s : 0.0f;
    const size_t d = code_bytes(bits);
    for (size_t i = 0; i < kBlock; ++i) {
      const int q = s != 0.0f ? code_of(w[i] * inv, bits) : (1 << (bits - 1));
      blk[2 + i % d] |= static_cast<uint8_t>(q << (bits * static_cast<int>(i / d)));
    }
  }
}

// The code of weight i of a block; its weight is s * (code - c). The decoder, activation
// preparation and fused matvec built on this definition are per-target code in
// balanced_bits-inl.h.
inline int code_at(const uint8_t* blk, size_t i, int bits) {
  const size_t d = code_bytes(bits);
  return (blk[2 + i % d] >> (bits * static_cast<int>(i / d))) & ((1 << bits) - 1);
}

// Activation layout of the fused matvec: int8 xq[cols] (one scale per block of 256, values in
// [-127, 127]), then per block f32 d (the scale) and f32 c * sum(xq) (the balanced offset's share).
inline size_t act_bytes(size_t cols) {
  return cols + 2 * (cols / kBlock) * sizeof(float);
}

// The weight_format of B-bit codes, given the file's dispatched kernels: q2.cc and q4.cc each
// supply only their per-target instantiations of balanced_bits-inl.h.
template <int B>
constexpr weight_format make_format(dtype type, const char* name,
                                    decltype(weight_format::decode) decode,
                                    decltype(weight_format::prepare_act) prepare_act,
                                    decltype(weight_format::matvec) matvec) {
  return {type,
          name,
          kBlock,
          block_bytes(B),
          [](const float* src, size_t n, void* dst) { encode(src, n, dst, B); },
          decode,
          act_bytes,
          prepare_act,
          matvec};
}

}  // namespace afm::formats::balanced_bits
