// Per-target decode of the palettized formats pal2 and pal4 (formats/palette.h), included inside
// HWY_NAMESPACE by palette.cc. The including file must include <hwy/highway.h> and
// "formats/palette.h" at the top level first.
//
// A row of a tile's codes unpacks 16 bytes at a time into one code byte per weight, in order:
// the fields of each byte are masked out and interleaved back. Then each vector of codes widens
// to int32 lanes and picks its f32 palette entries with a lane permute (vpermps), over as many
// permutes as the palette needs vectors (one for pal4 with AVX-512, two with AVX2).

namespace hn = hwy::HWY_NAMESPACE;

// The 2^B codes of a tile row's bytes, one byte per weight in column order.
template <int B>
HWY_INLINE void UnpackPaletteCodes(const uint8_t* packed, uint8_t* codes) {
#if HWY_TARGET == HWY_SCALAR
  for (size_t c = 0; c < palette::kCols; ++c)
    codes[c] = static_cast<uint8_t>((packed[c * B / 8] >> (B * (c % (8 / B)))) & ((1 << B) - 1));
#else
  const hn::Full128<uint8_t> d8;
  const hn::Full128<uint16_t> d16;
  const auto mask = hn::Set(d8, static_cast<uint8_t>((1 << B) - 1));
  for (size_t i = 0; i < palette::kCols * B / 8; i += 16, codes += 16 * 8 / B) {
    const auto v = hn::LoadU(d8, packed + i);
    if constexpr (B == 4) {
      const auto lo = hn::And(v, mask), hi = hn::ShiftRight<4>(v);
      hn::StoreU(hn::InterleaveLower(d8, lo, hi), d8, codes);
      hn::StoreU(hn::InterleaveUpper(d8, lo, hi), d8, codes + 16);
    } else {
      const auto f0 = hn::And(v, mask), f1 = hn::And(hn::ShiftRight<2>(v), mask);
      const auto f2 = hn::And(hn::ShiftRight<4>(v), mask), f3 = hn::ShiftRight<6>(v);
      // Byte pairs (f0, f1) and (f2, f3) of each byte, then the pairs of each byte together.
      const auto a_lo = hn::BitCast(d16, hn::InterleaveLower(d8, f0, f1));
      const auto a_hi = hn::BitCast(d16, hn::InterleaveUpper(d8, f0, f1));
      const auto b_lo = hn::BitCast(d16, hn::InterleaveLower(d8, f2, f3));
      const auto b_hi = hn::BitCast(d16, hn::InterleaveUpper(d8, f2, f3));
      hn::StoreU(hn::BitCast(d8, hn::InterleaveLower(d16, a_lo, b_lo)), d8, codes);
      hn::StoreU(hn::BitCast(d8, hn::InterleaveUpper(d16, a_lo, b_lo)), d8, codes + 16);
      hn::StoreU(hn::BitCast(d8, hn::InterleaveLower(d16, a_hi, b_hi)), d8, codes + 32);
      hn::StoreU(hn::BitCast(d8, hn::InterleaveUpper(d16, a_hi, b_hi)), d8, codes + 48);
    }
  }
#endif
}

template <int B>
void DecodePaletteStrip(const void* strip, size_t cols, float* residual, float* offsets) {
  constexpr size_t k = size_t{1} << B;
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<uint8_t, decltype(di)> d8;
  const size_t N = hn::Lanes(df), tables = (k + N - 1) / N;
  int log2n = 0;
  while ((size_t{1} << log2n) < N) ++log2n;
  // The palette, padded to whole vectors.
  HWY_ALIGN float pal[HWY_MAX_BYTES / sizeof(float) > k ? HWY_MAX_BYTES / sizeof(float) : k] = {};
  HWY_ALIGN uint8_t codes[palette::kCols];
  const size_t tiles = (cols + palette::kCols - 1) / palette::kCols;
  const auto* in = static_cast<const uint8_t*>(strip);
  for (size_t t = 0; t < tiles; ++t, in += palette::tile_bytes(B)) {
    offsets[t] = 0.0f;  // palettes hold the values themselves
    for (size_t i = 0; i < k; ++i) {
      uint16_t h;
      std::memcpy(&h, in + 2 * i, 2);
      pal[i] = f16_to_f32(h);
    }
    const size_t c0 = t * palette::kCols, width = std::min(cols - c0, palette::kCols);
    for (size_t r = 0; r < palette::kRows; ++r) {
      UnpackPaletteCodes<B>(in + palette::palette_bytes(B) + r * palette::kCols * B / 8, codes);
      float* dst = residual + r * cols + c0;
      size_t c = 0;
#if HWY_TARGET != HWY_SCALAR
      for (; c + N <= width; c += N) {
        const auto idx = hn::PromoteTo(di, hn::LoadU(d8, codes + c));
        const auto lane =
            hn::IndicesFromVec(df, hn::And(idx, hn::Set(di, static_cast<int32_t>(N - 1))));
        auto v = hn::TableLookupLanes(hn::Load(df, pal), lane);
        for (size_t j = 1; j < tables; ++j) {  // entries j N .. j N + N - 1
          const auto part = hn::TableLookupLanes(hn::Load(df, pal + j * N), lane);
          const auto in_part =
              hn::Eq(hn::ShiftRightSame(idx, log2n), hn::Set(di, static_cast<int32_t>(j)));
          v = hn::IfThenElse(hn::RebindMask(df, in_part), part, v);
        }
        hn::StoreU(v, df, dst + c);
      }
#endif
      for (; c < width; ++c) dst[c] = pal[codes[c]];
    }
  }
  (void)di;
  (void)d8;
  (void)tables;
  (void)log2n;
}
