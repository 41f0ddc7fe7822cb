// q2_tiles: q2 re-laid in 16-row tiles for a table-lookup product (layout and why:
// formats/q2_tiles.h). Its activation is 6-bit, not q2's 8: each block of 256 inputs is
// quantized to [-31, 31] (scale d = amax / 31) so that a sum of 4 fits the int8 tables.
//
// Activation layout (act_bytes): per tile of 256 columns, 1024 bytes of low-half-byte tables
// then 1024 of high-half-byte tables, laid out like the tile's code bytes so that the vector at
// code byte p reads its tables at the same offset p: bytes 32u .. 32u + 31 hold twice the table
// of unit u's columns 8u .. 8u + 3 (low) or 8u + 4 .. 8u + 7 (high), whose entry m is the sum of
// the quantized inputs whose bit is set in m. Then per tile f32 d, then f32 1.5 * sum(codes)
// (the balanced offset's share, as in q2).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "formats/q2_tiles.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>
#include <vector>

#include "afm/error.h"
#include "formats/balanced_bits.h"
#include "formats/format.h"
#include "formats/matmul.h"
#include "formats/q2_tiles.h"

HWY_BEFORE_NAMESPACE();
namespace afm::formats {
namespace HWY_NAMESPACE {
#include "formats/matvec_stripes-inl.h"
// clang-format off
#include "formats/balanced_bits-inl.h"
// clang-format on

namespace q2t = q2_tiles;

// Bytes ahead of the codes to prefetch within a strip (one stream per thread).
constexpr size_t kQ2TilesPrefetchBytes = 1024;

// The tables of one tile's 256 quantized inputs xq (with 16 readable bytes past them).
HWY_INLINE void BuildQ2Tables(const int8_t* xq, int8_t* lo, int8_t* hi) {
#if HWY_TARGET == HWY_SCALAR
  for (size_t u = 0; u < q2t::kCodeBytes / 32; ++u)
    for (int m = 0; m < 16; ++m) {
      int tl = 0, th = 0;
      for (int k = 0; k < 4; ++k)
        if ((m >> k) & 1) tl += xq[8 * u + k], th += xq[8 * u + 4 + k];
      for (size_t h = 0; h < 2; ++h) {
        lo[32 * u + 16 * h + m] = static_cast<int8_t>(tl);
        hi[32 * u + 16 * h + m] = static_cast<int8_t>(th);
      }
    }
#else
  // Each 16-byte block of a table vector broadcasts its unit's 4 inputs with one byte shuffle
  // each and keeps those whose bit is set in the lane's entry index m.
  const hn::CappedTag<int8_t, 64> d8;
  const hn::RebindToUnsigned<decltype(d8)> du8;
  constexpr size_t V = hn::MaxLanes(d8);
  const auto lane = hn::Iota(du8, 0);
  const auto first = hn::ShiftLeft<3>(hn::ShiftRight<5>(lane));  // the block's unit, 8 inputs each
  const auto m = hn::And(lane, hn::Set(du8, 15));
  decltype(hn::Zero(d8)) keep[4], from_lo[4], from_hi[4];
  for (int k = 0; k < 4; ++k) {
    keep[k] = hn::BitCast(
        d8, hn::VecFromMask(du8, hn::TestBit(m, hn::Set(du8, static_cast<uint8_t>(1 << k)))));
    from_lo[k] = hn::BitCast(d8, hn::Add(first, hn::Set(du8, static_cast<uint8_t>(k))));
    from_hi[k] = hn::BitCast(d8, hn::Add(first, hn::Set(du8, static_cast<uint8_t>(4 + k))));
  }
  for (size_t v = 0; v < q2t::kCodeBytes / V; ++v) {
    const auto xv = hn::LoadDup128(d8, xq + 8 * (v * V / 32));
    auto tl = hn::And(hn::TableLookupBytes(xv, from_lo[0]), keep[0]);
    auto th = hn::And(hn::TableLookupBytes(xv, from_hi[0]), keep[0]);
    for (int k = 1; k < 4; ++k) {
      tl = hn::Add(tl, hn::And(hn::TableLookupBytes(xv, from_lo[k]), keep[k]));
      th = hn::Add(th, hn::And(hn::TableLookupBytes(xv, from_hi[k]), keep[k]));
    }
    hn::StoreU(tl, d8, lo + v * V);
    hn::StoreU(th, d8, hi + v * V);
  }
#endif
}

void PrepareActQ2Tiles(const float* x, size_t cols, void* act) {
  const size_t nb = (cols + q2t::kCols - 1) / q2t::kCols;
  auto* tables = static_cast<int8_t*>(act);
  auto* d = reinterpret_cast<float*>(tables + nb * q2t::kTableBytes);
  float* offset = d + nb;
  HWY_ALIGN float padded[q2t::kCols];
  HWY_ALIGN int8_t xq[q2t::kCols + 16] = {};
  for (size_t b = 0; b < nb; ++b) {
    const float* xb = x + b * q2t::kCols;
    const size_t width = std::min(q2t::kCols, cols - b * q2t::kCols);
    if (width < q2t::kCols) {  // the last, partial tile: its padded columns hold zeros
      std::fill(std::copy_n(xb, width, padded), padded + q2t::kCols, 0.0f);
      xb = padded;
    }
    int32_t sum;
    d[b] = QuantizeActBlock(xb, q2t::kCols, xq, &sum, 31.0f) / 31.0f;
    offset[b] = 1.5f * static_cast<float>(sum);
    int8_t* lo = tables + b * q2t::kTableBytes;
    BuildQ2Tables(xq, lo, lo + q2t::kCodeBytes);
  }
}

// Decodes the tiles at `strip` covering cols columns to s * (code - 1.5), as q2's decoder does.
void DecodeQ2TilesStrip(const void* strip, size_t cols, float* residual, float* offsets) {
  // kSpread[p]: byte k holds bit k of p.
  static constexpr auto kSpread = [] {
    std::array<uint64_t, 256> t{};
    for (size_t p = 0; p < 256; ++p)
      for (size_t k = 0; k < 8; ++k) t[p] |= static_cast<uint64_t>((p >> k) & 1) << (8 * k);
    return t;
  }();
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di32;
  const hn::Rebind<uint8_t, decltype(df)> du8;
  const size_t N = hn::Lanes(df);
  const auto c = hn::Set(df, 1.5f);
  const auto* in = static_cast<const uint8_t*>(strip);
  HWY_ALIGN uint8_t codes[q2t::kCols];
  HWY_ALIGN float row[q2t::kCols];
  for (size_t b = 0; b * q2t::kCols < cols; ++b) {
    const uint8_t* tile = in + b * q2t::kTileBytes;
    const size_t width = std::min(q2t::kCols, cols - b * q2t::kCols);
    offsets[b] = 0.0f;  // balanced levels: no offset to add back
    for (size_t r = 0; r < q2t::kRows; ++r) {
      for (size_t u = 0; u < q2t::kCols / 8; ++u) {
        const uint8_t* unit = tile + q2t::kScaleBytes + 32 * u + 16 * (r / 8) + 2 * (r % 8);
        const uint64_t v = 2 * kSpread[unit[0]] + kSpread[unit[1]];  // no byte exceeds 3
        std::memcpy(codes + 8 * u, &v, 8);
      }
      uint16_t sh;
      std::memcpy(&sh, tile + 2 * r, 2);
      const auto s = hn::Set(df, f16_to_f32(sh));
      float* out = width == q2t::kCols ? residual + r * cols + b * q2t::kCols : row;
      for (size_t i = 0; i < q2t::kCols; i += N) {
        const auto code = hn::ConvertTo(df, hn::PromoteTo(di32, hn::Load(du8, codes + i)));
        hn::StoreU(hn::Mul(hn::Sub(code, c), s), df, out + i);
      }
      if (out == row) std::copy_n(row, width, residual + r * cols + b * q2t::kCols);
    }
  }
}

// y[r] = dot(row r of the strip, x) for its 16 rows, from the tables prepare_act made of x.
void MatvecQ2TilesStrip(const void* strip, size_t cols, const void* act, float* y) {
  const size_t nb = (cols + q2t::kCols - 1) / q2t::kCols;
  const auto* tables = static_cast<const int8_t*>(act);
  const auto* xd = reinterpret_cast<const float*>(tables + nb * q2t::kTableBytes);
  const float* xoff = xd + nb;
  const auto* in = static_cast<const uint8_t*>(strip);
#if HWY_TARGET == HWY_SCALAR
  for (size_t r = 0; r < q2t::kRows; ++r) y[r] = 0.0f;
  for (size_t b = 0; b < nb; ++b) {
    const uint8_t* tile = in + b * q2t::kTileBytes;
    const int8_t* lo = tables + b * q2t::kTableBytes;
    const int8_t* hi = lo + q2t::kCodeBytes;
    for (size_t r = 0; r < q2t::kRows; ++r) {
      int32_t t = 0;
      for (size_t u = 0; u < q2t::kCols / 8; ++u) {
        const uint8_t* unit = tile + q2t::kScaleBytes + 32 * u + 16 * (r / 8) + 2 * (r % 8);
        auto lookup = [&](uint8_t p) { return lo[32 * u + (p & 15)] + hi[32 * u + (p >> 4)]; };
        t += 2 * lookup(unit[0]) + lookup(unit[1]);
      }
      uint16_t sh;
      std::memcpy(&sh, tile + 2 * r, 2);
      y[r] += f16_to_f32(sh) * xd[b] * (static_cast<float>(t) - xoff[b]);
    }
  }
#else
  const hn::CappedTag<uint8_t, 64> du8;
  const hn::RebindToSigned<decltype(du8)> di8;
  const hn::Repartition<uint16_t, decltype(du8)> du16;
  const hn::Repartition<int16_t, decltype(du8)> di16;
  constexpr size_t V = hn::MaxLanes(du8);
  // A 16-byte vector covers 8 rows (half a unit): even and odd vectors keep separate sums.
  constexpr size_t kSums = V < 32 ? 2 : 1;
  const hn::CappedTag<float, 16> df;
  const hn::Rebind<int32_t, decltype(df)> di32;
  const hn::Rebind<int16_t, decltype(df)> di16f;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  constexpr size_t NF = hn::MaxLanes(df);
  const auto low4 = hn::Set(du8, 15);
  const auto planes = hn::BitCast(du8, hn::Set(du16, 0x0102));  // byte pairs: 2 * plane1 + plane0
  decltype(hn::Zero(df)) acc[q2t::kRows / NF];
  for (auto& a : acc) a = hn::Zero(df);
  HWY_ALIGN int16_t sums[q2t::kRows];
  for (size_t b = 0; b < nb; ++b) {
    const uint8_t* tile = in + b * q2t::kTileBytes;
    const uint8_t* codes = tile + q2t::kScaleBytes;
    const int8_t* lo = tables + b * q2t::kTableBytes;
    const int8_t* hi = lo + q2t::kCodeBytes;
    // Each lane gains at most 3 * 124 per vector and sees 32 per tile: no int16 overflow.
    decltype(hn::Zero(di16)) sl[kSums], sh[kSums];
    for (size_t i = 0; i < kSums; ++i) sl[i] = sh[i] = hn::Zero(di16);
    for (size_t k = 0; k < q2t::kCodeBytes / V; ++k) {
      if ((k * V) % 64 == 0) hwy::Prefetch(codes + k * V + kQ2TilesPrefetchBytes);
      const auto v = hn::LoadU(du8, codes + k * V);
      const auto ilo = hn::BitCast(di8, hn::And(v, low4));
      const auto ihi = hn::BitCast(
          di8, hn::And(hn::BitCast(du8, hn::ShiftRight<4>(hn::BitCast(du16, v))), low4));
      const auto tl = hn::LoadU(di8, lo + k * V), th = hn::LoadU(di8, hi + k * V);
      auto& a = sl[k % kSums];
      auto& e = sh[k % kSums];
      a = hn::Add(a, MulAddPairsU8I8(du8, planes, hn::TableLookupBytes(tl, ilo)));
      e = hn::Add(e, MulAddPairsU8I8(du8, planes, hn::TableLookupBytes(th, ihi)));
      KeepInRegister(a);
      KeepInRegister(e);
    }
    const auto s0 = hn::Add(sl[0], sh[0]);
    if constexpr (V == 64) {
      const hn::Half<decltype(di16)> dhalf;
      hn::Store(hn::Add(hn::LowerHalf(dhalf, s0), hn::UpperHalf(dhalf, s0)), dhalf, sums);
    } else {
      hn::Store(s0, di16, sums);
      if constexpr (kSums == 2) hn::Store(hn::Add(sl[kSums - 1], sh[kSums - 1]), di16, sums + 8);
    }
    const auto dx = hn::Set(df, xd[b]), ox = hn::Set(df, xoff[b]);
    const auto* scales = reinterpret_cast<const hwy::float16_t*>(tile);
    for (size_t j = 0; j < q2t::kRows / NF; ++j) {
      const auto s = hn::Mul(hn::PromoteTo(df, hn::LoadU(dh, scales + j * NF)), dx);
      const auto t = hn::ConvertTo(df, hn::PromoteTo(di32, hn::Load(di16f, sums + j * NF)));
      acc[j] = hn::MulAdd(hn::Sub(t, ox), s, acc[j]);
    }
  }
  for (size_t j = 0; j < q2t::kRows / NF; ++j) hn::StoreU(acc[j], df, y + j * NF);
#endif
}

// Bytes in one vector of the target (lookup_preferred).
size_t VectorBytes() {
  return hn::MaxLanes(hn::ScalableTag<uint8_t>());
}

}  // namespace HWY_NAMESPACE
}  // namespace afm::formats
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace afm::formats {

namespace q2_tiles {

void tile_rows(const uint8_t* rows, size_t row_bytes, size_t cols, uint8_t* strip) {
  // Columns 8u .. 8u + 7 of a q2 block are field u / 8 of its code bytes 8 (u % 8) .. + 7
  // (balanced_bits.h): one 8-byte load per unit and row, whose bits 0 and 1 of each byte gather
  // into the two planes by a multiply (bit 8k lands on bit 56 + k, without carries).
  constexpr uint64_t kBit0 = 0x0101010101010101ull, kGather = 0x0102040810204080ull;
  constexpr size_t kRowBlock = balanced_bits::block_bytes(2);
  for (size_t b = 0; b < cols / kCols; ++b) {
    uint8_t* tile = strip + b * kTileBytes;
    for (size_t r = 0; r < kRows; ++r) {
      const uint8_t* blk = rows + r * row_bytes + b * kRowBlock;
      std::memcpy(tile + 2 * r, blk, 2);
      for (size_t u = 0; u < kCols / 8; ++u) {
        uint64_t v;
        std::memcpy(&v, blk + 2 + 8 * (u % 8), 8);
        v >>= 2 * (u / 8);
        uint8_t* unit = tile + kScaleBytes + 32 * u + 16 * (r / 8) + 2 * (r % 8);
        unit[0] = static_cast<uint8_t>((((v >> 1) & kBit0) * kGather) >> 56);
        unit[1] = static_cast<uint8_t>(((v & kBit0) * kGather) >> 56);
      }
    }
  }
}

bool can_retile(const tensor& t) {
  return t.type == dtype::afm_q2 && t.n_dims >= 2 && t.ne[1] % static_cast<int64_t>(kRows) == 0;
}

void retile(tensor& t) {
  if (!can_retile(t))
    fail("tensor '", t.name, "' (", dtype_name(t.type),
         ") cannot be re-laid in 16-row tiles: it needs q2 rows in whole strips of 16");
  const size_t cols = static_cast<size_t>(t.ne[0]), row_bytes = t.row_bytes();
  const size_t strips = static_cast<size_t>(t.ne[1] * t.ne[2] * t.ne[3]) / kRows;
  if (t.nb[1] != row_bytes || t.nb[2] != row_bytes * static_cast<size_t>(t.ne[1]))
    fail("tensor '", t.name, "' is not contiguous: it cannot be re-laid in place");
  std::vector<uint8_t> rows(kRows * row_bytes);
  auto* data = static_cast<uint8_t*>(t.data);
  for (size_t s = 0; s < strips; ++s) {
    uint8_t* strip = data + s * kRows * row_bytes;
    std::memcpy(rows.data(), strip, rows.size());
    tile_rows(rows.data(), row_bytes, cols, strip);
  }
  t.type = dtype::afm_q2_tiles;
  set_contiguous_strides(t);
}

}  // namespace q2_tiles

namespace {

HWY_EXPORT(PrepareActQ2Tiles);
HWY_EXPORT(DecodeQ2TilesStrip);
HWY_EXPORT(MatvecQ2TilesStrip);
HWY_EXPORT(VectorBytes);

size_t act_bytes(size_t cols) {
  const size_t nb = (cols + q2_tiles::kCols - 1) / q2_tiles::kCols;
  return nb * (q2_tiles::kTableBytes + 2 * sizeof(float));
}

void prepare_act(const float* x, size_t cols, void* act) {
  HWY_DYNAMIC_DISPATCH(PrepareActQ2Tiles)(x, cols, act);
}

// q2's row encoder on rows padded to whole tiles (zero weights), then re-laid strip by strip.
void encode_matrix(const float* src, size_t rows, size_t cols, void* dst) {
  using namespace q2_tiles;
  const size_t padded = (cols + kCols - 1) / kCols * kCols;
  const size_t row_bytes = padded / kCols * balanced_bits::block_bytes(2);
  std::vector<float> row(padded, 0.0f);
  std::vector<uint8_t> strip_rows(kRows * row_bytes);
  for (size_t s = 0; s * kRows < rows; ++s) {
    for (size_t r = 0; r < kRows; ++r) {
      const size_t at = s * kRows + r;
      if (at < rows)
        std::copy_n(src + at * cols, cols, row.begin());
      else
        std::fill_n(row.begin(), cols, 0.0f);
      balanced_bits::encode(row.data(), padded, strip_rows.data() + r * row_bytes, 2);
    }
    tile_rows(strip_rows.data(), row_bytes, padded,
              static_cast<uint8_t*>(dst) + s * kRows * row_bytes);
  }
}

void decode_strip(const void* strip, size_t cols, float* residual, float* offsets) {
  HWY_DYNAMIC_DISPATCH(DecodeQ2TilesStrip)(strip, cols, residual, offsets);
}

void matvec_strip(const void* strip, size_t cols, const void* act, float* y) {
  HWY_DYNAMIC_DISPATCH(MatvecQ2TilesStrip)(strip, cols, act, y);
}

}  // namespace

bool q2_tiles::lookup_preferred() {
  return HWY_DYNAMIC_DISPATCH(VectorBytes)() < 64;
}

extern const weight_format kQ2TilesFormat = {
    dtype::afm_q2_tiles, "q2_tiles", static_cast<uint32_t>(q2_tiles::kCols),
    static_cast<uint32_t>(q2_tiles::kTileBytes / q2_tiles::kRows),
    nullptr,  // rows are not stored apart: no row encode, decode or matvec
    nullptr, act_bytes, prepare_act, nullptr, static_cast<uint32_t>(q2_tiles::kRows), encode_matrix,
    decode_strip, matvec_strip,
    // One lookup pass per token beats decoding to f32 for every few-token product: 2 bits a
    // weight in the L1-resident strip against 4 bytes.
    static_cast<uint32_t>(kMatvecMaxRows)};

}  // namespace afm::formats
#endif  // HWY_ONCE
