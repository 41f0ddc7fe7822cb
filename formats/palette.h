// Shared by the palettized formats pal2 (formats/pal2.cc) and pal4 (formats/pal4.cc): lookup-table
// weights (the 2024 overview's palettization, report section 6), a tiled format (formats/format.h).
//
// A tile is 16 output channels x 256 inputs sharing one palette of 2^B f16 values found by
// k-means; each weight stores the B-bit index of its palette entry. Tile bytes: the palette
// (padded to 16 bytes for B = 2, 32 for B = 4), then the codes row after row, 8 / B to a byte,
// low bits first. 65 bytes per row of 256 for pal2 (2.03 bits per weight), 130 for pal4 (4.06).
// Strips of 16 rows hold their tiles left to right; rows and columns pad up to whole tiles.
//
// Why tiles rather than whole rows of a channel group: at this size the palette costs only 0.06
// bits per weight, and a palette fitted to 256 inputs follows the group's local range the way
// q4's block scales do, whatever the row length.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "afm/dtype.h"
#include "formats/format.h"

namespace afm::formats::palette {

constexpr size_t kRows = 16, kCols = 256;
constexpr size_t palette_bytes(int bits) {
  return bits == 2 ? 16 : 2u << bits;
}
constexpr size_t tile_bytes(int bits) {
  return palette_bytes(bits) + kRows * kCols * static_cast<size_t>(bits) / 8;
}

// 1-D k-means (Lloyd) of v into k centroids, started at the quantiles, each rounded to f16 (the
// values the decoder will use) before the final assignment; a tile of at most k distinct values
// keeps them. Returns the sorted centroids.
inline std::vector<float> kmeans(std::vector<float> v, size_t k) {
  std::sort(v.begin(), v.end());
  std::vector<float> distinct(v);
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  if (distinct.size() <= k) {  // the values themselves (then exact, if they are f16 values)
    std::vector<float> out(k, distinct.back());
    for (size_t i = 0; i < distinct.size(); ++i) out[i] = f16_to_f32(f32_to_f16(distinct[i]));
    std::sort(out.begin(), out.end());
    return out;
  }
  std::vector<double> c(k);
  for (size_t i = 0; i < k; ++i) c[i] = v[std::min(v.size() - 1, (2 * i + 1) * v.size() / (2 * k))];
  std::vector<double> sum(k);
  std::vector<size_t> count(k);
  for (int iter = 0; iter < 20; ++iter) {
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(count.begin(), count.end(), size_t{0});
    size_t j = 0;  // v is sorted and c stays sorted: one pass with a moving boundary
    for (float x : v) {
      while (j + 1 < k && x > 0.5 * (c[j] + c[j + 1])) ++j;
      sum[j] += x;
      ++count[j];
    }
    bool moved = false;
    for (size_t i = 0; i < k; ++i) {
      if (count[i] == 0) continue;  // an empty cluster keeps its place
      const double m = sum[i] / static_cast<double>(count[i]);
      moved |= m != c[i];
      c[i] = m;
    }
    std::sort(c.begin(), c.end());
    if (!moved) break;
  }
  std::vector<float> out(k);
  for (size_t i = 0; i < k; ++i) out[i] = f16_to_f32(f32_to_f16(static_cast<float>(c[i])));
  std::sort(out.begin(), out.end());
  return out;
}

inline int nearest(const std::vector<float>& pal, float x) {
  int best = 0;
  for (size_t i = 1; i < pal.size(); ++i)
    if (std::fabs(x - pal[i]) < std::fabs(x - pal[static_cast<size_t>(best)]))
      best = static_cast<int>(i);
  return best;
}

// The code of weight i of a tile row's packed codes (bits wide, 8 / bits to a byte, low first):
// the layout encode_matrix writes.
inline unsigned code_at(const uint8_t* packed, size_t i, int bits) {
  return (packed[i * bits / 8] >> (bits * static_cast<int>(i % (8 / bits)))) & ((1u << bits) - 1);
}

inline void encode_matrix(const float* src, size_t rows, size_t cols, void* dst, int bits) {
  const size_t tiles = (cols + kCols - 1) / kCols, k = size_t{1} << bits;
  auto* out = static_cast<uint8_t*>(dst);
  std::vector<float> v;
  for (size_t r0 = 0; r0 < rows; r0 += kRows)
    for (size_t t = 0; t < tiles; ++t, out += tile_bytes(bits)) {
      const size_t r1 = std::min(rows, r0 + kRows), c0 = t * kCols, c1 = std::min(cols, c0 + kCols);
      v.clear();
      for (size_t r = r0; r < r1; ++r) v.insert(v.end(), src + r * cols + c0, src + r * cols + c1);
      const std::vector<float> pal = kmeans(v, k);
      std::memset(out, 0, tile_bytes(bits));
      for (size_t i = 0; i < k; ++i) {
        const uint16_t h = f32_to_f16(pal[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      uint8_t* codes = out + palette_bytes(bits);
      for (size_t r = r0; r < r1; ++r)
        for (size_t c = c0; c < c1; ++c) {
          const size_t i = (r - r0) * kCols + (c - c0);
          const int q = nearest(pal, src[r * cols + c]);
          codes[i * bits / 8] |=
              static_cast<uint8_t>(q << (bits * static_cast<int>(i % (8 / bits))));
        }
    }
}

// Decodes a strip of B-bit codes (the tiled-format contract, formats/format.h) with the best
// SIMD target's code (formats/palette.cc, formats/palette-inl.h).
template <int B>
void decode_strip(const void* strip, size_t cols, float* residual, float* offsets);
template <>
void decode_strip<2>(const void* strip, size_t cols, float* residual, float* offsets);
template <>
void decode_strip<4>(const void* strip, size_t cols, float* residual, float* offsets);

// The fused product of a strip's 16 rows with x (formats/format.h's matvec_strip), likewise.
template <int B>
void matvec_strip(const void* strip, size_t cols, const void* x, float* y);
template <>
void matvec_strip<2>(const void* strip, size_t cols, const void* x, float* y);
template <>
void matvec_strip<4>(const void* strip, size_t cols, const void* x, float* y);

template <int B>
constexpr weight_format make_format(dtype type, const char* name) {
  return {type, name, kCols, static_cast<uint32_t>(tile_bytes(B) / kRows), nullptr, nullptr,
          nullptr, nullptr, nullptr, kRows,
          [](const float* src, size_t rows, size_t cols, void* dst) {
            encode_matrix(src, rows, cols, dst, B);
          },
          decode_strip<B>, matvec_strip<B>,
          // From 3 tokens, decoding a chunk once and running the f32 matvec over it for every token
          // is faster (afm-3b-like, 2 threads, `afm bench -p N -n 1`: 3 tokens pal2 10.2 -> 11.5,
          // 16 tokens pal2 10.6 -> 18.5 and pal4 8.4 -> 17.9 tok/s; at 2 tokens the fused product
          // is 3-30% faster).
          2};
}

}  // namespace afm::formats::palette
