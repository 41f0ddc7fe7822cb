// ASTC HDR luminance blocks decoded from the ASTC specification (Khronos Data Format
// Specification, "ASTC Compressed Texture Image Formats"), not from libastcenc's code:
// formats_test checks every block it takes against libastcenc's decompressor, on encoded
// weights and on random blocks.
//
// Why our own: libastcenc decodes any block of any profile into four channels of f32 texels at
// about 40 M weights a second on one core, which left astc models at a token every 45 s on
// afm-3b-like. Weights are one channel, and the encoder gives nearly all their blocks (99.96% of
// Gaussian weights' blocks) one or two partitions with HDR luminance endpoint modes, so this
// decoder does only those, with the per-mode work in tables built at compile time, the weight
// range most blocks use read through a table of whole trit groups, the texels' interpolation in
// vectors, and those of most blocks (one partition, six weight levels) looked up from the six
// values they can take; formats/astc.cc sends the rest to libastcenc.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "formats/astc_block.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "formats/astc_block.h"

HWY_BEFORE_NAMESPACE();
namespace afm::formats::astc {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The f16 values (the specification's piecewise-linear mantissa, clamped below infinity),
// widened to f32, of 16-bit HDR values (12-bit LNS shifted up by 4) between endpoints e0 and e1
// at weights w (0..64), with a0 = 64 * e0 and a1 = e1 - e0: e0 * (64 - w) + e1 * w as one
// multiply.
template <class DI, class VI = hn::Vec<DI>>
hn::Vec<hn::RebindToFloat<DI>> LnsTexels(DI di, VI a0, VI a1, VI w) {
  const hn::Rebind<uint16_t, DI> d16;
  const hn::Rebind<hwy::float16_t, DI> dh;
  const hn::RebindToFloat<DI> df;
  const auto zero = hn::Zero(di);
  const auto c = hn::ShiftRight<6>(hn::Add(hn::Add(a0, hn::Mul(a1, w)), hn::Set(di, 32)));
  const auto m = hn::And(c, hn::Set(di, 0x7FF));
  // 3m below 512, 4m - 512 below 1536, 5m - 2048 above.
  const auto mt =
      hn::Add(hn::Add(hn::Add(hn::Add(m, m), m), hn::Max(hn::Sub(m, hn::Set(di, 512)), zero)),
              hn::Max(hn::Sub(m, hn::Set(di, 1536)), zero));
  const auto h = hn::Min(hn::Or(hn::ShiftLeft<10>(hn::ShiftRight<11>(c)), hn::ShiftRight<3>(mt)),
                         hn::Set(di, 0x7BFF));
  // h is an f16 (finite, non-negative); widening it is exact, subnormals included.
  return hn::PromoteTo(df, hn::BitCast(dh, hn::DemoteTo(d16, h)));
}

// The 36 texels between the endpoints y0, y1 of their partition (0 or 1, or all 0 when partition
// is null; 16-bit HDR values) at the given weights (0..64), row by row into texels (kRowSpan
// floats of each row written). Weights and partitions come in rows of kRowSpan bytes, as the
// decoder writes them: each row's load then reads what one 8-byte store wrote, where loads
// spanning two stores stalled. In vectors: as a scalar loop it was most of the decoder's time,
// and its branches over the mantissa's three pieces mispredicted. Rows go straight to their
// place, as whole vectors: an array of texels copied row by row afterwards stalled the same way.
void InterpolateLns(const int32_t* y0, const int32_t* y1, const uint8_t* partition,
                    const uint8_t* weight, float* texels, size_t stride) {
  const hn::CappedTag<int32_t, kRowSpan> di;
  const hn::Rebind<uint8_t, decltype(di)> d8;
  const hn::RebindToFloat<decltype(di)> df;
  const auto a0 = hn::Set(di, y0[0] * 64), a1 = hn::Set(di, y1[0] - y0[0]);
  const auto b0 = hn::Set(di, y0[1] * 64), b1 = hn::Set(di, y1[1] - y0[1]);
  for (size_t y = 0; y < 6; ++y) {
    for (size_t x = 0; x < 6; x += hn::Lanes(di)) {
      const size_t i = kRowSpan * y + x;
      const auto w = hn::PromoteTo(di, hn::LoadU(d8, weight + i));
      auto e0 = a0, e1 = a1;
      if (partition != nullptr) {
        const auto second = hn::Eq(hn::PromoteTo(di, hn::LoadU(d8, partition + i)), hn::Set(di, 1));
        e0 = hn::IfThenElse(second, b0, a0);
        e1 = hn::IfThenElse(second, b1, a1);
      }
      hn::StoreU(LnsTexels(di, e0, e1, w), df, texels + y * stride + x);
    }
  }
}

// The same for one partition whose weights take at most 8 levels, given as their codes (0..7,
// rows of kRowSpan bytes) and the levels' weights (8 bytes): a texel's value depends on its
// weight alone, so the levels' values are computed once and each row of texels is looked up
// from them, one lane permutation a row where the texels' interpolation took about 20 vector
// instructions.
void LookupLns(int32_t y0, int32_t y1, const uint8_t* level_weights, const uint8_t* code,
               float* texels, size_t stride) {
  const hn::CappedTag<int32_t, kRowSpan> di;
  const hn::Rebind<uint8_t, decltype(di)> d8;
  const hn::RebindToFloat<decltype(di)> df;
  const auto a0 = hn::Set(di, y0 * 64), a1 = hn::Set(di, y1 - y0);
  if constexpr (hn::MaxLanes(di) >= kRowSpan) {
    const auto values = LnsTexels(di, a0, a1, hn::PromoteTo(di, hn::LoadU(d8, level_weights)));
    for (size_t y = 0; y < 6; ++y) {
      const auto index = hn::PromoteTo(di, hn::LoadU(d8, code + kRowSpan * y));
      hn::StoreU(hn::TableLookupLanes(values, hn::IndicesFromVec(df, index)), df,
                 texels + y * stride);
    }
  } else {  // vectors too short to hold the levels: look them up one texel at a time
    HWY_ALIGN float values[kRowSpan];
    for (size_t l = 0; l < kRowSpan; l += hn::Lanes(di))
      hn::Store(LnsTexels(di, a0, a1, hn::PromoteTo(di, hn::LoadU(d8, level_weights + l))), df,
                values + l);
    for (size_t y = 0; y < 6; ++y)
      for (size_t x = 0; x < 6; ++x) texels[y * stride + x] = values[code[kRowSpan * y + x]];
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace afm::formats::astc
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace afm::formats::astc {
namespace {

HWY_EXPORT(InterpolateLns);
HWY_EXPORT(LookupLns);

constexpr unsigned kDim = 6;
static_assert(kTexels == kDim * kDim);

// The integer sequence encoding's ranges, in the order block modes and the colour-range choice
// count them: number of levels, and whether a value is a trit or quint plus `bits` low bits.
struct ise_range {
  uint16_t levels;
  uint8_t trits, quints, bits;
};
constexpr ise_range kRanges[] = {
    {2, 0, 0, 1},   {3, 1, 0, 0},   {4, 0, 0, 2},  {5, 0, 1, 0},  {6, 1, 0, 1},  {8, 0, 0, 3},
    {10, 0, 1, 1},  {12, 1, 0, 2},  {16, 0, 0, 4}, {20, 0, 1, 2}, {24, 1, 0, 3}, {32, 0, 0, 5},
    {40, 0, 1, 3},  {48, 1, 0, 4},  {64, 0, 0, 6}, {80, 0, 1, 4}, {96, 1, 0, 5}, {128, 0, 0, 7},
    {160, 0, 1, 5}, {192, 1, 0, 6}, {256, 0, 0, 8}};
constexpr unsigned kRangeCount = sizeof(kRanges) / sizeof(kRanges[0]);
constexpr unsigned kMinColourRange = 4;  // endpoint values need at least 6 levels

constexpr unsigned ise_bits(const ise_range& r, unsigned n) {
  return n * r.bits + (r.trits ? (8 * n + 4) / 5 : 0) + (r.quints ? (7 * n + 2) / 3 : 0);
}

// The value v of `from` bits repeated from the top to fill `to` bits.
constexpr unsigned replicate(unsigned v, unsigned from, unsigned to) {
  unsigned out = 0;
  for (int shift = static_cast<int>(to) - static_cast<int>(from); shift > -static_cast<int>(from);
       shift -= static_cast<int>(from))
    out |= shift >= 0 ? v << shift : v >> -shift;
  return out & ((1u << to) - 1);
}

// Five trits packed in 8 bits and three quints in 7 (the specification's decoding procedures),
// as tables indexed by the packed bits.
constexpr auto kTrits = [] {
  std::array<std::array<uint8_t, 5>, 256> t{};
  for (unsigned T = 0; T < 256; ++T) {
    unsigned c, t4, t3;
    if (((T >> 2) & 7) == 7) {
      c = ((T >> 5) & 7) << 2 | (T & 3);
      t4 = t3 = 2;
    } else {
      c = T & 0x1F;
      if (((T >> 5) & 3) == 3) {
        t4 = 2;
        t3 = T >> 7;
      } else {
        t4 = T >> 7;
        t3 = (T >> 5) & 3;
      }
    }
    unsigned t2, t1, t0;
    const unsigned c0 = c & 1, c1 = (c >> 1) & 1, c2 = (c >> 2) & 1, c3 = (c >> 3) & 1;
    if ((c & 3) == 3) {
      t2 = 2;
      t1 = c >> 4;
      t0 = c3 << 1 | (c2 & (c3 ^ 1));
    } else if (((c >> 2) & 3) == 3) {
      t2 = t1 = 2;
      t0 = c & 3;
    } else {
      t2 = c >> 4;
      t1 = (c >> 2) & 3;
      t0 = c1 << 1 | (c0 & (c1 ^ 1));
    }
    t[T] = {static_cast<uint8_t>(t0), static_cast<uint8_t>(t1), static_cast<uint8_t>(t2),
            static_cast<uint8_t>(t3), static_cast<uint8_t>(t4)};
  }
  return t;
}();

constexpr auto kQuints = [] {
  std::array<std::array<uint8_t, 3>, 128> t{};
  for (unsigned Q = 0; Q < 128; ++Q) {
    unsigned q2, q1, q0;
    const unsigned q_0 = Q & 1, q_3 = (Q >> 3) & 1, q_4 = (Q >> 4) & 1;
    if (((Q >> 1) & 3) == 3 && ((Q >> 5) & 3) == 0) {
      q2 = q_0 << 2 | (q_4 & (q_0 ^ 1)) << 1 | (q_3 & (q_0 ^ 1));
      q1 = q0 = 4;
    } else {
      unsigned c;
      if (((Q >> 1) & 3) == 3) {
        q2 = 4;
        c = ((Q >> 3) & 3) << 3 | ((~Q >> 5) & 3) << 1 | q_0;
      } else {
        q2 = (Q >> 5) & 3;
        c = Q & 0x1F;
      }
      if ((c & 7) == 5) {
        q1 = 4;
        q0 = (c >> 3) & 3;
      } else {
        q1 = (c >> 3) & 3;
        q0 = c & 7;
      }
    }
    t[Q] = {static_cast<uint8_t>(q0), static_cast<uint8_t>(q1), static_cast<uint8_t>(q2)};
  }
  return t;
}();

// Unquantization of a trit or quint value d with low bits `low` (m of them): the
// specification's T = d * C + B, XORed with the low bit spread over A, then shifted; B and C
// per range are the specification's tables, B written here as multiples of the low bits b, c,
// d, e, f (bit 1 upward) placed where the table puts them.
constexpr unsigned unquantize_tq(bool trit, unsigned m, unsigned d, unsigned low, bool colour) {
  const unsigned b = (low >> 1) & 1, c = (low >> 2) & 1, dd = (low >> 3) & 1, e = (low >> 4) & 1,
                 f = (low >> 5) & 1;
  unsigned B = 0, C = 0;
  if (colour) {
    if (trit) {
      constexpr unsigned kC[] = {0, 204, 93, 44, 22, 11, 5};
      C = kC[m];
      if (m == 2) B = b * 0x116;
      if (m == 3) B = c * 0x10A + b * 0x85;
      if (m == 4) B = dd * 0x104 + c * 0x82 + b * 0x41;
      if (m == 5) B = e * 0x102 + dd * 0x81 + c * 0x40 + b * 0x20;
      if (m == 6) B = f * 0x101 + e * 0x80 + dd * 0x40 + c * 0x20 + b * 0x10;
    } else {
      constexpr unsigned kC[] = {0, 113, 54, 26, 13, 6};
      C = kC[m];
      if (m == 2) B = b * 0x10C;
      if (m == 3) B = c * 0x105 + b * 0x82;
      if (m == 4) B = dd * 0x102 + c * 0x81 + b * 0x40;
      if (m == 5) B = e * 0x101 + dd * 0x80 + c * 0x40 + b * 0x20;
    }
    const unsigned A = (low & 1) ? 0x1FF : 0;
    return (A & 0x80) | (((d * C + B) ^ A) >> 2);
  }
  if (trit) {
    constexpr unsigned kC[] = {0, 50, 23, 11};
    C = kC[m];
    if (m == 2) B = b * 0x45;
    if (m == 3) B = c * 0x42 + b * 0x21;
  } else {
    constexpr unsigned kC[] = {0, 28, 13};
    C = kC[m];
    if (m == 2) B = b * 0x42;
  }
  const unsigned A = (low & 1) ? 0x7F : 0;
  return (A & 0x20) | (((d * C + B) ^ A) >> 2);
}

// Endpoint values (0..255) and weights (0..64) of each range's encoded values.
constexpr auto kColourValues = [] {
  std::array<std::array<uint8_t, 256>, kRangeCount> t{};
  for (unsigned r = kMinColourRange; r < kRangeCount; ++r) {
    const ise_range& q = kRanges[r];
    for (unsigned v = 0; v < q.levels; ++v)
      t[r][v] =
          static_cast<uint8_t>(q.trits || q.quints ? unquantize_tq(q.trits, q.bits, v >> q.bits,
                                                                   v & ((1u << q.bits) - 1), true)
                                                   : replicate(v, q.bits, 8));
  }
  return t;
}();

constexpr unsigned kWeightRanges = 12;  // up to 32 levels
constexpr auto kWeightValues = [] {
  std::array<std::array<uint8_t, 32>, kWeightRanges> t{};
  for (unsigned r = 0; r < kWeightRanges; ++r) {
    const ise_range& q = kRanges[r];
    for (unsigned v = 0; v < q.levels; ++v) {
      unsigned w;
      if (q.bits == 0) {  // bare trit or quint: the specification lists the values
        constexpr unsigned kTrit[] = {0, 32, 63}, kQuint[] = {0, 16, 32, 47, 63};
        w = q.trits ? kTrit[v] : kQuint[v];
      } else if (q.trits || q.quints) {
        w = unquantize_tq(q.trits, q.bits, v >> q.bits, v & ((1u << q.bits) - 1), false);
      } else {
        w = replicate(v, q.bits, 6);
      }
      t[r][v] = static_cast<uint8_t>(w > 32 ? w + 1 : w);
    }
  }
  return t;
}();

// What the 11 block-mode bits say, for the modes this decoder takes: a weight grid of at most
// 6x6, one plane, 24 to 96 bits of weights. ok = false for every other mode.
struct block_mode {
  bool ok = false;
  uint8_t grid_w = 0, grid_h = 0, weight_range = 0, weight_bits = 0;
};

constexpr block_mode decode_block_mode(unsigned m) {
  const unsigned a = (m >> 5) & 3;
  unsigned r, high = (m >> 9) & 1, dual = (m >> 10) & 1, w, h;
  if (m & 3) {
    r = (m & 3) << 1 | ((m >> 4) & 1);
    const unsigned b = (m >> 7) & 3;
    switch ((m >> 2) & 3) {
      case 0:
        w = b + 4, h = a + 2;
        break;
      case 1:
        w = b + 8, h = a + 2;
        break;
      case 2:
        w = a + 2, h = b + 8;
        break;
      default:
        if (m & 0x100)
          w = ((m >> 7) & 1) + 2, h = a + 2;
        else
          w = a + 2, h = ((m >> 7) & 1) + 6;
    }
  } else {
    if ((m & 0xF) == 0) return {};  // reserved
    r = ((m >> 2) & 3) << 1 | ((m >> 4) & 1);
    switch ((m >> 7) & 3) {
      case 0:
        w = 12, h = a + 2;
        break;
      case 1:
        w = a + 2, h = 12;
        break;
      case 2:
        w = a + 6, h = ((m >> 9) & 3) + 6;
        high = dual = 0;
        break;
      default:
        if (a > 1) return {};  // void extent or reserved
        w = a == 0 ? 6 : 10, h = a == 0 ? 10 : 6;
    }
  }
  if (dual || w > kDim || h > kDim) return {};
  block_mode out;
  out.weight_range = static_cast<uint8_t>(r - 2 + 6 * high);
  const unsigned bits = ise_bits(kRanges[out.weight_range], w * h);
  if (bits < 24 || bits > 96) return {};
  out.ok = true;
  out.grid_w = static_cast<uint8_t>(w);
  out.grid_h = static_cast<uint8_t>(h);
  out.weight_bits = static_cast<uint8_t>(bits);
  return out;
}

constexpr auto kBlockModes = [] {
  std::array<block_mode, 2048> t{};
  for (unsigned m = 0; m < 2048; ++m) t[m] = decode_block_mode(m);
  return t;
}();

// The endpoint values' range: the one with most levels whose encoding of n values (2 a
// partition) fits the bits left between the header and the weights; kRangeCount if even 6
// levels do not fit (an invalid block). Indexed by [partitions - 1][bits].
constexpr auto kColourRange = [] {
  std::array<std::array<uint8_t, 129>, 2> t{};
  for (unsigned p = 0; p < 2; ++p)
    for (unsigned bits = 0; bits <= 128; ++bits) {
      unsigned range = kRangeCount;
      while (range > kMinColourRange && ise_bits(kRanges[range - 1], 2 * (p + 1)) > bits) --range;
      t[p][bits] = static_cast<uint8_t>(range == kMinColourRange ? kRangeCount : range - 1);
    }
  return t;
}();

// The specification's partition pattern: which of `count` partitions texel (x, y) of a block
// of 31 texels or more belongs to, for a 10-bit pattern seed (a hash of seed and count picks
// four lines' slopes and offsets; the texel takes the partition whose value is largest).
constexpr unsigned partition_of(unsigned seed, unsigned count, unsigned x, unsigned y) {
  seed += (count - 1) * 1024;
  uint32_t r = seed;
  r ^= r >> 15;
  r -= r << 17;
  r += r << 7;
  r += r << 4;
  r ^= r >> 5;
  r += r << 16;
  r ^= r >> 7;
  r ^= r >> 3;
  r ^= r << 6;
  r ^= r >> 17;
  unsigned s[8];
  for (unsigned i = 0; i < 8; ++i) {
    const unsigned v = (r >> (4 * i)) & 0xF;
    s[i] = v * v;
  }
  unsigned sh1, sh2;
  if (seed & 1) {
    sh1 = (seed & 2) ? 4 : 5;
    sh2 = count == 3 ? 6 : 5;
  } else {
    sh1 = count == 3 ? 6 : 5;
    sh2 = (seed & 2) ? 4 : 5;
  }
  // z = 0 for 2D blocks, so the third-dimension seeds drop out.
  const unsigned a = ((s[0] >> sh1) * x + (s[1] >> sh2) * y + (r >> 14)) & 0x3F;
  const unsigned b = ((s[2] >> sh1) * x + (s[3] >> sh2) * y + (r >> 10)) & 0x3F;
  const unsigned c = count < 3 ? 0 : ((s[4] >> sh1) * x + (s[5] >> sh2) * y + (r >> 6)) & 0x3F;
  const unsigned d = count < 4 ? 0 : ((s[6] >> sh1) * x + (s[7] >> sh2) * y + (r >> 2)) & 0x3F;
  if (a >= b && a >= c && a >= d) return 0;
  if (b >= c && b >= d) return 1;
  return c >= d ? 2 : 3;
}

// The two-partition patterns of every seed (48 KiB: padded to whole vectors), built on first use.
const std::array<std::array<uint8_t, kPaddedTexels>, 1024>& two_partition_patterns() {
  static const auto patterns = [] {
    std::array<std::array<uint8_t, kPaddedTexels>, 1024> t{};
    for (unsigned seed = 0; seed < 1024; ++seed)
      for (unsigned i = 0; i < kTexels; ++i)
        t[seed][i / kDim * kRowSpan + i % kDim] =
            static_cast<uint8_t>(partition_of(seed, 2, i % kDim, i / kDim));
    return t;
  }();
  return patterns;
}

// Weight infill: each texel's four grid weights and their factors (sixteenths), per grid size,
// by the specification's fixed-point bilinear rule. Grids of 6x6 need none.
struct infill {
  uint8_t index[kTexels][4];
  uint8_t factor[kTexels][4];
};
constexpr auto kInfill = [] {
  std::array<std::array<infill, kDim + 1>, kDim + 1> t{};
  constexpr unsigned ds = (1024 + kDim / 2) / (kDim - 1);
  for (unsigned gw = 2; gw <= kDim; ++gw)
    for (unsigned gh = 2; gh <= kDim; ++gh)
      for (unsigned y = 0; y < kDim; ++y)
        for (unsigned x = 0; x < kDim; ++x) {
          const unsigned gs = (ds * x * (gw - 1) + 32) >> 6, gt = (ds * y * (gh - 1) + 32) >> 6;
          const unsigned js = gs >> 4, fs = gs & 0xF, jt = gt >> 4, ft = gt & 0xF;
          const unsigned w11 = (fs * ft + 8) >> 4, v0 = js + jt * gw;
          infill& f = t[gw][gh];
          const unsigned i = y * kDim + x;
          // Indices past the grid only ever carry factor 0; clamp them to stay in bounds.
          const unsigned last = gw * gh - 1;
          const unsigned idx[4] = {v0, v0 + 1, v0 + gw, v0 + gw + 1};
          const unsigned fac[4] = {16 - fs - ft + w11, fs - w11, ft - w11, w11};
          for (unsigned k = 0; k < 4; ++k) {
            f.index[i][k] = static_cast<uint8_t>(idx[k] > last ? last : idx[k]);
            f.factor[i][k] = static_cast<uint8_t>(fac[k]);
          }
        }
  return t;
}();

// A block's bits as a little-endian stream: the endpoint values read from bit 17 or 29 upwards,
// the weights from bit 127 downwards (bit-reversed). Two 64-bit halves: GCC kept a 128-bit
// integer in memory, written in halves and read back whole, which stalled store forwarding.
struct bit_stream {
  uint64_t lo, hi;
  // Drops the lowest s bits (s < 64); bits past the end read as 0.
  void skip(unsigned s) {
    if (s == 0) return;
    lo = (lo >> s) | (hi << (64 - s));
    hi >>= s;
  }
  // Keeps the lowest n bits (n <= 128).
  void keep(unsigned n) {
    if (n < 64) {
      lo &= (uint64_t{1} << n) - 1;
      hi = 0;
    } else if (n < 128) {
      hi &= (uint64_t{1} << (n - 64)) - 1;
    }
  }
};

uint64_t reverse_bits(uint64_t v) {
  v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
  v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
  v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
  return __builtin_bswap64(v);
}

// n values in groups of kGroup (5 trits or 3 quints) from the low end of `in`: each value's m
// low bits, each followed by some of the group's packed bits (packed_bits[i] of them, which go
// to bit shift[i] of the packed 8 or 7); `table` gives the packed bits' trits or quints. A
// group takes kGroup * m + 8 (or + 7) <= 38 bits.
template <size_t kGroup, size_t kPatterns>
void decode_groups(bit_stream in, unsigned m, unsigned n,
                   const std::array<std::array<uint8_t, kGroup>, kPatterns>& table,
                   const unsigned (&packed_bits)[kGroup], const unsigned (&shift)[kGroup],
                   uint8_t* out) {
  const unsigned mask = (1u << m) - 1;
  unsigned group_bits = kGroup * m;
  for (unsigned i = 0; i < kGroup; ++i) group_bits += packed_bits[i];
  for (unsigned g = 0; g < n; g += kGroup, in.skip(group_bits)) {
    const uint64_t b = in.lo;
    unsigned low[kGroup], packed = 0, at = 0;
    for (unsigned i = 0; i < kGroup; ++i) {
      low[i] = static_cast<unsigned>(b >> at) & mask;
      at += m;
      packed |= (static_cast<unsigned>(b >> at) & ((1u << packed_bits[i]) - 1)) << shift[i];
      at += packed_bits[i];
    }
    const auto& t = table[packed];
    for (unsigned i = 0; i < kGroup && g + i < n; ++i)
      out[g + i] = static_cast<uint8_t>(t[i] << m | low[i]);
  }
}

// n values of range q from the low end of `in`. Bits past the sequence's end read as 0, as a
// short last group's missing values do.
void decode_ise(bit_stream in, const ise_range& q, unsigned n, uint8_t* out) {
  in.keep(ise_bits(q, n));
  if (q.trits) {
    static constexpr unsigned kPackedBits[5] = {2, 2, 1, 2, 1}, kShift[5] = {0, 2, 4, 5, 7};
    decode_groups(in, q.bits, n, kTrits, kPackedBits, kShift, out);
  } else if (q.quints) {
    static constexpr unsigned kPackedBits[3] = {3, 2, 2}, kShift[3] = {0, 3, 5};
    decode_groups(in, q.bits, n, kQuints, kPackedBits, kShift, out);
  } else {
    const unsigned mask = (1u << q.bits) - 1;
    for (unsigned i = 0; i < n; ++i, in.skip(q.bits)) out[i] = static_cast<uint8_t>(in.lo & mask);
  }
}

// The weight range the encoder gives most blocks of weights, in a 6x6 grid (91% of a Gaussian
// matrix's blocks): six levels, each a trit and one low bit, 36 of them in 94 bits as seven
// groups of five and one of one.
constexpr unsigned kTritBitRange = 4;
static_assert(kRanges[kTritBitRange].trits == 1 && kRanges[kTritBitRange].bits == 1);

// Every 13-bit group of that range as the block holds it (before the weight stream's bit
// reversal: index bit i is the group's bit 12 - i), mapped to its five weights' codes (0..5) in
// the low five bytes (64 KiB, built on first use). One lookup replaces the group's bit-by-bit
// decoding, which was 40% of afm-3b-like's astc decode time.
const std::array<uint64_t, 8192>& trit_bit_groups() {
  static const auto groups = [] {
    std::array<uint64_t, 8192> t{};
    const ise_range& q = kRanges[kTritBitRange];
    for (unsigned r = 0; r < 8192; ++r) {
      const uint64_t in_stream_order = reverse_bits(r) >> (64 - 13);
      uint8_t coded[5];
      decode_ise(bit_stream{in_stream_order, 0}, q, 5, coded);
      for (unsigned i = 0; i < 5; ++i) t[r] |= uint64_t{coded[i]} << (8 * i);
    }
    return t;
  }();
  return groups;
}

// The 36 weights' codes of a 6x6 grid in the trit-and-bit range, from the block's two halves, as
// six rows of kRowSpan bytes (8-byte words: the 6 codes and 2 more, each 0..5 but meaningless).
// Group k (weights 5k to 5k + 4, one byte each in its table entry) takes block bits 115 - 13k to
// 127 - 13k; of the last group's bits (24 to 36) only the top three, its one weight's, belong to
// the weights.
void decode_trit_bit_grid(uint64_t lo, uint64_t hi, uint8_t* weight) {
  const uint64_t* groups = trit_bit_groups().data();
  const uint64_t g[8] = {groups[hi >> 51],
                         groups[(hi >> 38) & 0x1FFF],
                         groups[(hi >> 25) & 0x1FFF],
                         groups[(hi >> 12) & 0x1FFF],
                         groups[(lo >> 63 | hi << 1) & 0x1FFF],
                         groups[(lo >> 50) & 0x1FFF],
                         groups[(lo >> 37) & 0x1FFF],
                         groups[(lo >> 24) & 0x1C00]};
  const uint64_t rows[6] = {g[0] | g[1] << 40,       g[1] >> 8 | g[2] << 32,
                            g[2] >> 16 | g[3] << 24, g[3] >> 24 | g[4] << 16,
                            g[4] >> 32 | g[5] << 8,  g[6] | g[7] << 40};
  std::memcpy(weight, rows, sizeof(rows));
}

// The 12-bit LNS endpoints of HDR luminance endpoint mode 2 (large range) or 3 (small range:
// a base and a positive offset) from their two values.
void luminance_endpoints(unsigned endpoint_mode, unsigned v0, unsigned v1, int32_t* y0,
                         int32_t* y1) {
  unsigned lo, hi;
  if (endpoint_mode == 2) {
    if (v1 >= v0)
      lo = v0 << 4, hi = v1 << 4;
    else
      lo = (v1 << 4) + 8, hi = (v0 << 4) - 8;
  } else {
    unsigned d;
    if (v0 & 0x80)
      lo = (v1 & 0xE0) << 4 | (v0 & 0x7F) << 2, d = (v1 & 0x1F) << 2;
    else
      lo = (v1 & 0xF0) << 4 | (v0 & 0x7F) << 1, d = (v1 & 0x0F) << 1;
    hi = lo + d > 0xFFF ? 0xFFF : lo + d;
  }
  *y0 = static_cast<int32_t>(lo);
  *y1 = static_cast<int32_t>(hi);
}

}  // namespace

bool decode_luminance_block(const uint8_t block[16], float* texels, size_t stride) {
  uint64_t lo, hi;
  std::memcpy(&lo, block, 8);
  std::memcpy(&hi, block + 8, 8);
  const block_mode& mode = kBlockModes[lo & 0x7FF];
  if (!mode.ok) return false;
  // One partition: 11 mode bits, 2 of partition count and 4 of endpoint mode, then the endpoint
  // values. Two: a 10-bit pattern seed and 6 bits of endpoint modes, whose low 2 are 0 when the
  // partitions share the mode in the other 4. Otherwise they are a base class plus one, and the
  // other 4 with 2 more just below the weights give each partition a class step (1 bit each)
  // and a mode within its class (2 bits each); this decoder takes class 0 (modes 2 and 3) only.
  const unsigned partitions = static_cast<unsigned>((lo >> 11) & 3) + 1;
  unsigned endpoint_mode[2], header, colour_bits = 128 - mode.weight_bits;
  if (partitions == 1) {
    endpoint_mode[0] = (lo >> 13) & 0xF;
    header = 17;
  } else if (partitions == 2) {
    header = 29;
    const unsigned field = (lo >> 23) & 0x3F;
    if ((field & 3) == 0) {
      endpoint_mode[0] = endpoint_mode[1] = field >> 2;
    } else {
      colour_bits -= 2;
      // Bits colour_bits and colour_bits + 1 (colour_bits >= 30), which may straddle the halves.
      const uint64_t below_weights = colour_bits < 64
                                         ? (lo >> colour_bits) | (hi << (64 - colour_bits))
                                         : hi >> (colour_bits - 64);
      const unsigned more = (field >> 2) | static_cast<unsigned>(below_weights & 3) << 4;
      if ((field & 3) != 1 || (more & 3) != 0) return false;  // a class above 0
      endpoint_mode[0] = (more >> 2) & 3;
      endpoint_mode[1] = (more >> 4) & 3;
    }
  } else {
    return false;
  }
  for (unsigned p = 0; p < partitions; ++p)
    if (endpoint_mode[p] != 2 && endpoint_mode[p] != 3) return false;
  const unsigned colour_range = kColourRange[partitions - 1][colour_bits - header];
  if (colour_range == kRangeCount) return false;

  uint8_t v[kTexels];  // 4 used; GCC's bounds check cannot see that n <= 4 once inlined
  // The range most blocks' colours use, 8 plain bits a value, is read directly: through the
  // integer sequence decoder it was a tenth of the decode time. The values end by bit 61.
  if (kRanges[colour_range].levels == 256) {
    for (unsigned i = 0; i < 2 * partitions; ++i)
      v[i] = static_cast<uint8_t>(lo >> (header + 8 * i));
  } else {
    bit_stream colours{lo, hi};
    colours.skip(header);
    decode_ise(colours, kRanges[colour_range], 2 * partitions, v);
  }
  const auto& unquantized = kColourValues[colour_range];
  int32_t y0[2] = {}, y1[2] = {};  // as 16-bit HDR values
  for (unsigned p = 0; p < partitions; ++p) {
    luminance_endpoints(endpoint_mode[p], unquantized[v[2 * p]], unquantized[v[2 * p + 1]], &y0[p],
                        &y1[p]);
    y0[p] <<= 4;
    y1[p] <<= 4;
  }
  const uint8_t* pattern =
      partitions == 1 ? nullptr : two_partition_patterns()[(lo >> 13) & 0x3FF].data();

  const unsigned n = static_cast<unsigned>(mode.grid_w) * mode.grid_h;
  uint8_t weight[kPaddedTexels];
  if (n == kTexels && mode.weight_range == kTritBitRange) {
    decode_trit_bit_grid(lo, hi, weight);
    if (pattern == nullptr) {
      HWY_DYNAMIC_DISPATCH(LookupLns)
      (y0[0], y1[0], kWeightValues[kTritBitRange].data(), weight, texels, stride);
      return true;
    }
    for (uint8_t& w : weight) w = kWeightValues[kTritBitRange][w];
  } else {
    std::memset(weight, 0, sizeof(weight));  // the rows' last 2 bytes are read too
    // Weights run from bit 127 downwards.
    const bit_stream reversed{reverse_bits(hi), reverse_bits(lo)};
    uint8_t coded[kTexels], grid[kTexels];
    decode_ise(reversed, kRanges[mode.weight_range], n, coded);
    const auto& values = kWeightValues[mode.weight_range];
    for (unsigned i = 0; i < n; ++i) grid[i] = values[coded[i]];
    if (n == kTexels) {
      for (unsigned y = 0; y < kDim; ++y) std::memcpy(weight + y * kRowSpan, grid + y * kDim, kDim);
    } else {
      const infill& f = kInfill[mode.grid_w][mode.grid_h];
      for (unsigned i = 0; i < kTexels; ++i) {
        unsigned s = 8;
        for (unsigned k = 0; k < 4; ++k) s += grid[f.index[i][k]] * f.factor[i][k];
        weight[i / kDim * kRowSpan + i % kDim] = static_cast<uint8_t>(s >> 4);
      }
    }
  }
  HWY_DYNAMIC_DISPATCH(InterpolateLns)(y0, y1, pattern, weight, texels, stride);
  return true;
}

}  // namespace afm::formats::astc
#endif  // HWY_ONCE
