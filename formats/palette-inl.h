// Per-target decode and fused strip product of the palettized formats pal2 and pal4
// (formats/palette.h), included inside HWY_NAMESPACE by palette.cc. The including file must
// include <hwy/highway.h> and "formats/palette.h" at the top level first.
//
// A row of a tile's codes unpacks 16 bytes at a time into one code byte per weight, in order:
// the fields of each byte are masked out and interleaved back. Then each vector of codes widens
// to int32 lanes and picks its f32 palette entries with a lane permute (vpermps), over as many
// permutes as the palette needs vectors (one for pal4 with AVX-512, two with AVX2). The fused
// product multiplies those entries with x in registers; for pal4 on x86 it looks up the f16
// entries' bytes with pshufb instead (MatvecPal4TileByBytes), and pal2 shifts each lane's code
// out of a broadcast word of packed codes without unpacking them (MatvecPal2TileByShifts).

namespace hn = hwy::HWY_NAMESPACE;

// The 2^B codes of a tile row's bytes, one byte per weight in column order.
template <int B>
HWY_INLINE void UnpackPaletteCodes(const uint8_t* packed, uint8_t* codes) {
#if HWY_TARGET == HWY_SCALAR
  for (size_t c = 0; c < palette::kCols; ++c)
    codes[c] = static_cast<uint8_t>(palette::code_at(packed, c, B));
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

// The palette entries of the codes in idx's int32 lanes. pal is the palette padded to whole
// vectors; it takes `tables` vectors of N lanes.
template <class DF, class VI>
HWY_INLINE hn::Vec<DF> LookupPalette(DF df, const float* pal, VI idx, size_t tables) {
  const hn::RebindToSigned<DF> di;
  const size_t N = hn::Lanes(df);
  // Codes within one vector of entries need no masking to be valid lane indices.
  const auto lane = hn::IndicesFromVec(
      df, tables == 1 ? idx : hn::And(idx, hn::Set(di, static_cast<int32_t>(N - 1))));
  auto v = hn::TableLookupLanes(hn::Load(df, pal), lane);
  for (size_t j = 1; j < tables; ++j) {  // entries j N .. j N + N - 1 replace lower ones
    const auto part = hn::TableLookupLanes(hn::Load(df, pal + j * N), lane);
    const auto in_part = hn::Gt(idx, hn::Set(di, static_cast<int32_t>(j * N - 1)));
    v = hn::IfThenElse(hn::RebindMask(df, in_part), part, v);
  }
  return v;
}

// Walks the tiles of a strip covering cols columns: tile(t, pal, pal_f16, packed, c0, width,
// unpack_row) with the tile's palette as f32 (padded to whole vectors) and as its stored f16
// values, its packed codes (kCols * B / 8 bytes a row), and a function that unpacks row r's codes.
template <int B, class Tile>
HWY_INLINE void ForEachPaletteTile(const void* strip, size_t cols, const Tile& tile) {
  constexpr size_t k = size_t{1} << B;
  HWY_ALIGN float pal[HWY_MAX_BYTES / sizeof(float) > k ? HWY_MAX_BYTES / sizeof(float) : k] = {};
  const size_t tiles = (cols + palette::kCols - 1) / palette::kCols;
  const auto* in = static_cast<const uint8_t*>(strip);
  for (size_t t = 0; t < tiles; ++t, in += palette::tile_bytes(B)) {
    for (size_t i = 0; i < k; ++i) {
      uint16_t h;
      std::memcpy(&h, in + 2 * i, 2);
      pal[i] = f16_to_f32(h);
    }
    const size_t c0 = t * palette::kCols, width = std::min(cols - c0, palette::kCols);
    const uint8_t* rows = in + palette::palette_bytes(B);
    tile(t, static_cast<const float*>(pal), in, rows, c0, width, [rows](size_t r, uint8_t* codes) {
      UnpackPaletteCodes<B>(rows + r * palette::kCols * B / 8, codes);
    });
  }
}

// The number of vectors the padded palette of 2^B entries takes.
template <int B, class DF>
HWY_INLINE size_t PaletteVectors(DF df) {
  return ((size_t{1} << B) + hn::Lanes(df) - 1) / hn::Lanes(df);
}

template <int B>
void DecodePaletteStrip(const void* strip, size_t cols, float* residual, float* offsets) {
  // Unused by the scalar target, which looks codes up one at a time.
  [[maybe_unused]] const hn::ScalableTag<float> df;
  [[maybe_unused]] const hn::RebindToSigned<decltype(df)> di;
  [[maybe_unused]] const hn::Rebind<uint8_t, decltype(di)> d8;
  [[maybe_unused]] const size_t N = hn::Lanes(df);
  [[maybe_unused]] const size_t tables = PaletteVectors<B>(df);
  HWY_ALIGN uint8_t codes[palette::kCols];
  ForEachPaletteTile<B>(
      strip, cols,
      [&](size_t t, const float* pal, const uint8_t*, const uint8_t*, size_t c0, size_t width,
          const auto& unpack_row) {
        offsets[t] = 0.0f;  // palettes hold the values themselves
        for (size_t r = 0; r < palette::kRows; ++r) {
          unpack_row(r, codes);
          float* dst = residual + r * cols + c0;
          size_t c = 0;
#if HWY_TARGET != HWY_SCALAR
          for (; c + N <= width; c += N)
            hn::StoreU(LookupPalette(df, pal, hn::PromoteTo(di, hn::LoadU(d8, codes + c)), tables),
                       df, dst + c);
#endif
          for (; c < width; ++c) dst[c] = pal[codes[c]];
        }
      });
}

// The fused product keeps each row's sums as one vector until the strip ends: these add a
// tile's four partial sums to a row's vector, and the rows' lanes to y at the end.
template <class D>
HWY_INLINE void AddToRowSums(D d, float* sums, hn::Vec<D> a0, hn::Vec<D> a1, hn::Vec<D> a2,
                             hn::Vec<D> a3) {
  hn::Store(hn::Add(hn::Load(d, sums), hn::Add(hn::Add(a0, a1), hn::Add(a2, a3))), d, sums);
}
template <class D>
HWY_INLINE void AddRowSumsToY(D d, const float* row_sums, size_t stride, float* y) {
  for (size_t r = 0; r < palette::kRows; ++r)
    y[r] += hn::GetLane(hn::SumOfLanes(d, hn::Load(d, row_sums + r * stride)));
}

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET <= HWY_AVX3
// pal4 on x86: the 16 f16 palette entries fit one byte-shuffle table per byte, so two pshufb
// look up 16 weights' halves at once and vcvtph2ps widens 8 of them to f32: 9 instructions per
// 16 weights against 14 for widening codes to int32 lanes and picking entries with two vpermps
// and a blend; with the fused product, 1.7x the rate of decode-then-dot (bench/kernels_bench.cc,
// pal4_stream). Weights are the same f32 values either way.
#define AFM_PAL4_BYTE_LOOKUP 1
// Adds one tile's products into row_sums (16 rows, `stride` floats apart; 8 lanes each) and
// its columns past the last whole 32 into y, which look up the f32 palette pal. The packed codes
// are read as they are: a vector of 16 bytes holds 32 columns' codes, the even columns' in the
// low nibbles and the odd columns' in the high ones, and x is split into even and odd columns
// once per tile to match, for all 16 rows (unpacking each row's codes into column order took
// 5 of the 25 instructions per 32 weights).
HWY_INLINE void MatvecPal4TileByBytes(const float* pal, const uint8_t* pal_f16,
                                      const uint8_t* packed, const float* xt, size_t width,
                                      float* row_sums, size_t stride, float* y) {
  const hn::Full128<uint8_t> d8;
  const hn::Full128<hwy::float16_t> dh;
  const hn::Full256<float> df8;
  HWY_ALIGN uint8_t lo[16], hi[16];
  for (size_t i = 0; i < 16; ++i) lo[i] = pal_f16[2 * i], hi[i] = pal_f16[2 * i + 1];
  const auto table_lo = hn::Load(d8, lo), table_hi = hn::Load(d8, hi);
  const auto nibble = hn::Set(d8, uint8_t{0x0F});
  const size_t whole = width / 32 * 32;
  // Per 32 columns: the even columns, then the odd ones.
  HWY_ALIGN float x_split[palette::kCols];
  for (size_t c = 0; c < whole; c += 16) {
    hn::Vec<decltype(df8)> even, odd;
    hn::LoadInterleaved2(df8, xt + c, even, odd);
    const size_t group = c / 32 * 32, half = c % 32 / 2;  // 0 or 8
    hn::Store(even, df8, x_split + group + half);
    hn::Store(odd, df8, x_split + group + 16 + half);
  }
  for (size_t r = 0; r < palette::kRows; ++r) {
    const uint8_t* codes = packed + r * palette::kCols / 2;
    auto a0 = hn::Zero(df8), a1 = hn::Zero(df8), a2 = hn::Zero(df8), a3 = hn::Zero(df8);
    // The f16 weights of the 16 codes in idx's bytes: the first 8 and the last 8.
    auto halves = [&](hn::Vec<decltype(d8)> idx, auto& first, auto& second) {
      const auto l = hn::TableLookupBytes(table_lo, idx), h = hn::TableLookupBytes(table_hi, idx);
      first = hn::BitCast(dh, hn::InterleaveLower(d8, l, h));
      second = hn::BitCast(dh, hn::InterleaveUpper(d8, l, h));
    };
    size_t c = 0;
    for (; c < whole; c += 32) {
      const auto v = hn::LoadU(d8, codes + c / 2);
      hn::Vec<decltype(dh)> w0, w1, w2, w3;
      halves(hn::And(v, nibble), w0, w1);
      halves(hn::ShiftRight<4>(v), w2, w3);
      a0 = hn::MulAdd(hn::PromoteTo(df8, w0), hn::Load(df8, x_split + c), a0);
      a1 = hn::MulAdd(hn::PromoteTo(df8, w1), hn::Load(df8, x_split + c + 8), a1);
      a2 = hn::MulAdd(hn::PromoteTo(df8, w2), hn::Load(df8, x_split + c + 16), a2);
      a3 = hn::MulAdd(hn::PromoteTo(df8, w3), hn::Load(df8, x_split + c + 24), a3);
    }
    AddToRowSums(df8, row_sums + r * stride, a0, a1, a2, a3);
    for (; c < width; ++c) y[r] += pal[palette::code_at(codes, c, 4)] * xt[c];
  }
}
#else
#define AFM_PAL4_BYTE_LOOKUP 0
#endif

#if HWY_TARGET != HWY_SCALAR
// The pal2 entries of the codes in the low two bits of words' lanes (higher bits hold other
// codes); table holds the 4 entries in every 128-bit block. AVX2's vpermps reads only the low 3
// bits of each index, so there the codes need no mask, which made pal2_stream 6% faster
// (Highway's TableLookupLanes asks for indices below the lane count: the permute is called
// directly).
template <class D, class VU>
HWY_INLINE hn::Vec<D> LookupPal2(D d, hn::Vec<D> table, VU words) {
#if HWY_TARGET == HWY_AVX2
  (void)d;
  return hn::Vec<D>{_mm256_permutevar8x32_ps(table.raw, words.raw)};
#else
  const hn::RebindToSigned<D> di;
  const auto idx = hn::BitCast(di, hn::And(words, hn::Set(hn::DFromV<VU>(), 3u)));
  return hn::TableLookupLanes(table, hn::IndicesFromVec(d, idx));
#endif
}

// pal2: a 32-bit word of a row's packed codes holds 16 weights' codes, column c's at bits 2c.
// Broadcast to every lane and shifted right by twice each lane's column, the word leaves each
// lane's code in its low two bits: a variable shift (and a mask, but on AVX2) per vector of
// weights, then the palette lookup, in place of unpacking four fields a byte into code bytes and
// widening those to int32 lanes: 1.3x the rate of pal2_stream on Zen 3, where the lane permute is
// now the bottleneck. Adds one tile's products into row_sums (16 rows, Lanes(d) floats apart) and
// its columns past the last whole word into y. Weights are the same f32 values.
template <class D>
HWY_INLINE void MatvecPal2TileByShifts(D d, const float* pal, const uint8_t* packed,
                                       const float* xt, size_t width, float* row_sums, float* y) {
  const hn::RebindToUnsigned<D> du;
  constexpr size_t kWordCols = 16;
  const size_t N = hn::Lanes(d);  // at most kWordCols
  // Lane i of the p-th vector of a word shifts by 2 (p N + i).
  const auto s0 = hn::ShiftLeft<1>(hn::Iota(du, 0)), s1 = hn::ShiftLeft<1>(hn::Iota(du, N));
  const auto s2 = hn::ShiftLeft<1>(hn::Iota(du, 2 * N)), s3 = hn::ShiftLeft<1>(hn::Iota(du, 3 * N));
  const auto table = hn::LoadDup128(d, pal);  // the 4 entries in every 128-bit block
  const size_t whole = width / kWordCols * kWordCols;
  for (size_t r = 0; r < palette::kRows; ++r) {
    const uint8_t* codes = packed + r * palette::kCols / 4;
    // The weights of columns at + col .. at + col + N - 1 (at a multiple of kWordCols, col of N).
    auto weights = [&](const uint8_t* at, size_t col) {
      uint32_t word;
      std::memcpy(&word, at + col / kWordCols * 4, 4);
      const size_t p = col % kWordCols / N;
      const auto shift = p == 0 ? s0 : p == 1 ? s1 : p == 2 ? s2 : s3;
      return LookupPal2(d, table, hn::Shr(hn::Set(du, word), shift));
    };
    auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
    size_t c = 0;
    // 4 N columns are whole words (N >= 4): the same word's vectors share one broadcast.
    for (const uint8_t* at = codes; c + 4 * N <= whole; c += 4 * N, at += N) {
      a0 = hn::MulAdd(weights(at, 0), hn::LoadU(d, xt + c), a0);
      a1 = hn::MulAdd(weights(at, N), hn::LoadU(d, xt + c + N), a1);
      a2 = hn::MulAdd(weights(at, 2 * N), hn::LoadU(d, xt + c + 2 * N), a2);
      a3 = hn::MulAdd(weights(at, 3 * N), hn::LoadU(d, xt + c + 3 * N), a3);
    }
    for (; c + N <= whole; c += N) a0 = hn::MulAdd(weights(codes, c), hn::LoadU(d, xt + c), a0);
    AddToRowSums(d, row_sums + r * N, a0, a1, a2, a3);
    for (; c < width; ++c) y[r] += pal[palette::code_at(codes, c, 2)] * xt[c];
  }
}
#endif

// The fused product (format.h's matvec_strip): y[r] = dot(row r of the strip, x) for its 16
// rows. Each vector of codes looks up its weights in the palette in registers and multiplies x
// at once, so no decoded weights are written or read back; pal has no offsets to add.
template <int B>
void MatvecPaletteStrip(const void* strip, size_t cols, const float* x, float* y) {
  // Unused by the scalar target, which looks codes up one at a time.
  [[maybe_unused]] const hn::ScalableTag<float> df;
  [[maybe_unused]] const hn::RebindToSigned<decltype(df)> di;
  [[maybe_unused]] const hn::Rebind<uint8_t, decltype(di)> d8;
  [[maybe_unused]] const size_t N = hn::Lanes(df);
  [[maybe_unused]] const size_t tables = PaletteVectors<B>(df);
  [[maybe_unused]] const hn::CappedTag<float, 16> d16;  // pal2: at most one 32-bit word a vector
  // The whole tile's codes unpack first (4 KiB, in L1): unpacked a row at a time, they stayed in
  // registers and each vector of 8 codes took three more moves and shifts to widen.
  HWY_ALIGN uint8_t tile_codes[palette::kRows * palette::kCols];
  // Each row's sums stay vectors until the strip ends: summing a row's lanes once per tile took
  // a quarter of the time.
  [[maybe_unused]] HWY_ALIGN float row_sums[palette::kRows * HWY_MAX_BYTES / sizeof(float)] = {};
  for (size_t r = 0; r < palette::kRows; ++r) y[r] = 0.0f;
  ForEachPaletteTile<B>(
      strip, cols,
      [&](size_t, const float* pal, const uint8_t* pal_f16, [[maybe_unused]] const uint8_t* packed,
          size_t c0, size_t width, const auto& unpack_row) {
        const float* xt = x + c0;
#if HWY_TARGET != HWY_SCALAR
        if constexpr (B == 2)
          return MatvecPal2TileByShifts(d16, pal, packed, xt, width, row_sums, y);
#endif
#if AFM_PAL4_BYTE_LOOKUP
        if constexpr (B == 4)
          return MatvecPal4TileByBytes(pal, pal_f16, packed, xt, width, row_sums, N, y);
#endif
        for (size_t r = 0; r < palette::kRows; ++r) unpack_row(r, tile_codes + r * palette::kCols);
        (void)pal_f16;
        for (size_t r = 0; r < palette::kRows; ++r) {
          const uint8_t* codes = tile_codes + r * palette::kCols;
          size_t c = 0;
#if HWY_TARGET != HWY_SCALAR
          // Four independent FMA chains (two measured the same on Zen 3; four cost nothing).
          auto a0 = hn::Zero(df), a1 = hn::Zero(df), a2 = hn::Zero(df), a3 = hn::Zero(df);
          auto weights = [&](size_t at) {
            return LookupPalette(df, pal, hn::PromoteTo(di, hn::LoadU(d8, codes + at)), tables);
          };
          for (; c + 4 * N <= width; c += 4 * N) {
            a0 = hn::MulAdd(weights(c), hn::LoadU(df, xt + c), a0);
            a1 = hn::MulAdd(weights(c + N), hn::LoadU(df, xt + c + N), a1);
            a2 = hn::MulAdd(weights(c + 2 * N), hn::LoadU(df, xt + c + 2 * N), a2);
            a3 = hn::MulAdd(weights(c + 3 * N), hn::LoadU(df, xt + c + 3 * N), a3);
          }
          for (; c + N <= width; c += N) a0 = hn::MulAdd(weights(c), hn::LoadU(df, xt + c), a0);
          AddToRowSums(df, row_sums + r * N, a0, a1, a2, a3);
#endif
          for (; c < width; ++c) y[r] += pal[codes[c]] * xt[c];
        }
      });
#if AFM_PAL4_BYTE_LOOKUP
  if constexpr (B == 4) return AddRowSumsToY(hn::Full256<float>(), row_sums, N, y);
#endif
#if HWY_TARGET != HWY_SCALAR
  if constexpr (B == 2) return AddRowSumsToY(d16, row_sums, hn::Lanes(d16), y);
  AddRowSumsToY(df, row_sums, N, y);
#endif
}

#undef AFM_PAL4_BYTE_LOOKUP
