// Per-target decoder, activation preparation and fused matvec of the balanced formats q2 and q4
// (formats/balanced_bits.h), included inside HWY_NAMESPACE after matvec_stripes-inl.h.
//
// Per block, the dot product is s * d * (sum_i q_i x_i - c * sum_i x_i) with x quantized to int8
// (scale d) and the second term precomputed per block in the activation. A vector of code bytes
// is shifted and masked once per field to give codes of consecutive weights, which are
// multiplied with consecutive int8 activations by an unsigned-by-signed multiply that adds
// adjacent pairs into int16 lanes; the int16 sums are widened to int32 before they could
// overflow and scaled in f32 once per block.

// Sums of adjacent products of unsigned bytes a and signed bytes b, as int16 lanes. On x86
// this is one pmaddubsw, which Highway 1.0.3 does not expose (docs/design.md); elsewhere the
// same from portable ops. Our operands never reach pmaddubsw's saturation.
template <class DU8>
HWY_INLINE hn::Vec<hn::Repartition<int16_t, DU8>> MulAddPairsU8I8(
    DU8 du8, hn::Vec<DU8> a, hn::Vec<hn::RebindToSigned<DU8>> b) {
  const hn::Repartition<int16_t, DU8> di16;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  (void)du8;
  return hn::Vec<decltype(di16)>{_mm512_maddubs_epi16(a.raw, b.raw)};
#elif HWY_ARCH_X86 && HWY_TARGET == HWY_AVX2
  (void)du8;
  return hn::Vec<decltype(di16)>{_mm256_maddubs_epi16(a.raw, b.raw)};
#elif HWY_ARCH_X86 && (HWY_TARGET == HWY_SSE4 || HWY_TARGET == HWY_SSSE3)
  (void)du8;
  return hn::Vec<decltype(di16)>{_mm_maddubs_epi16(a.raw, b.raw)};
#else
  const hn::Repartition<uint16_t, DU8> du16;
  const auto a_even = hn::BitCast(di16, hn::And(hn::BitCast(du16, a), hn::Set(du16, 0xFF)));
  const auto a_odd = hn::BitCast(di16, hn::ShiftRight<8>(hn::BitCast(du16, a)));
  const auto b_even = hn::ShiftRight<8>(hn::ShiftLeft<8>(hn::BitCast(di16, b)));
  const auto b_odd = hn::ShiftRight<8>(hn::BitCast(di16, b));
  (void)du8;
  return hn::Add(hn::Mul(a_even, b_even), hn::Mul(a_odd, b_odd));
#endif
}

// Ends the compiler's view of v's value here. GCC reassociates a chain of integer vector adds
// into a tree, computing all of a block's products before adding any; with four rows that is
// more values than x86's 16 AVX2 registers hold, and the spills and reloads slowed q2 (the
// kernel is compute-bound on hosts without VNNI). A register-only asm with v as input and
// output keeps the adds in order.
template <class V>
HWY_INLINE void KeepInRegister(V& v) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_SSSE3 && defined(__GNUC__)
  asm("" : "+v"(v.raw));
#else
  (void)v;
#endif
}

#if HWY_ARCH_X86 && HWY_TARGET == HWY_AVX3_DL && defined(__GNUC__) && !defined(__clang__)
// VNNI: vpdpbusd multiplies unsigned by signed bytes and adds each group of four products into
// an int32 lane in one instruction (Highway 1.0.3 does not expose it either), so the int16
// stage and its widening disappear. Highway 1.0.3 detects VNNI for this target but leaves
// avx512vnni out of the compiler target string, so it is added here (undone by
// HWY_AFTER_NAMESPACE's pop).
#pragma GCC target("avx512vnni")
#define AFM_BALANCED_VNNI 1
#else
#define AFM_BALANCED_VNNI 0
#endif

// Decodes n weights (whole blocks) to s * (code - c) in the arithmetic of the scalar definition
// (balanced_bits.h), so results are bit-identical on every target: prefill's gemm decodes its
// panels through this, and a per-weight scalar loop took a quarter of q4 prefill.
template <int kBits>
HWY_INLINE void DecodeBalanced(const void* src, size_t n, float* dst) {
  namespace bb = balanced_bits;
  constexpr size_t kCodeBytes = bb::code_bytes(kBits);
  constexpr int kFields = 8 / kBits;
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di32;
  const hn::Rebind<uint8_t, decltype(df)> du8;
  const size_t N = hn::Lanes(df);
  const auto mask = hn::Set(di32, (1 << kBits) - 1);
  const auto c = hn::Set(df, bb::center(kBits));
  const auto* in = static_cast<const uint8_t*>(src);
  for (size_t b = 0; b < n / bb::kBlock; ++b) {
    const uint8_t* blk = in + b * bb::block_bytes(kBits);
    uint16_t sh;
    std::memcpy(&sh, blk, 2);
    const auto s = hn::Set(df, f16_to_f32(sh));
    float* out = dst + b * bb::kBlock;
    for (size_t k = 0; k < kCodeBytes; k += N) {
      const auto bytes = hn::PromoteTo(di32, hn::LoadU(du8, blk + 2 + k));
      for (int f = 0; f < kFields; ++f) {
        const auto code = hn::And(hn::ShiftRightSame(bytes, f * kBits), mask);
        hn::StoreU(hn::Mul(hn::Sub(hn::ConvertTo(df, code), c), s), df,
                   out + static_cast<size_t>(f) * kCodeBytes + k);
      }
    }
  }
}

// The activation layout of balanced_bits.h (act_bytes): int8 codes, then per block the scale d
// and c * sum(codes).
template <int kBits>
HWY_INLINE void PrepareActBalanced(const float* x, size_t cols, void* act) {
  namespace bb = balanced_bits;
  auto* q = static_cast<int8_t*>(act);
  auto* d = reinterpret_cast<float*>(q + cols);  // cols is a multiple of 256: aligned
  float* offset = d + cols / bb::kBlock;
  for (size_t b = 0; b < cols / bb::kBlock; ++b) {
    int32_t sum;
    d[b] = QuantizeActBlock(x + b * bb::kBlock, bb::kBlock, q + b * bb::kBlock, &sum) / 127.0f;
    offset[b] = bb::center(kBits) * static_cast<float>(sum);
  }
}

template <int kBits>
HWY_INLINE void MatvecBalanced(const void* w, size_t row_bytes, size_t cols, const void* act,
                               float* y, size_t r0, size_t r1) {
  namespace bb = balanced_bits;
  constexpr size_t kBlockBytes = bb::block_bytes(kBits);
  const size_t n_blocks = cols / bb::kBlock;
  const auto* xq = static_cast<const int8_t*>(act);
  const auto* xd = reinterpret_cast<const float*>(xq + cols);
  const float* xoff = xd + n_blocks;
#if HWY_TARGET == HWY_SCALAR
  // One-lane vectors cannot hold byte pairs: plain integer loop over the codes.
  for (size_t r = r0; r < r1; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w) + r * row_bytes;
    float acc = 0.0f;
    for (size_t b = 0; b < n_blocks; ++b) {
      const uint8_t* blk = row + b * kBlockBytes;
      uint16_t sh;
      std::memcpy(&sh, blk, 2);
      int32_t t = 0;
      for (size_t i = 0; i < bb::kBlock; ++i)
        t += bb::code_at(blk, i, kBits) * xq[b * bb::kBlock + i];
      acc += f16_to_f32(sh) * xd[b] * (static_cast<float>(t) - xoff[b]);
    }
    y[r - r0] = acc;
  }
#else
  constexpr size_t kCodeBytes = bb::code_bytes(kBits);
  constexpr int kFields = 8 / kBits;
  const hn::CappedTag<uint8_t, 64> du8;  // a chunk never spans two blocks' code bytes
  const hn::RebindToSigned<decltype(du8)> di8;
  const hn::Repartition<uint16_t, decltype(du8)> du16;
  const hn::Repartition<int16_t, decltype(du8)> di16;
  const hn::Repartition<int32_t, decltype(du8)> di32;
  const hn::Repartition<float, decltype(du8)> df;
  const hn::Full64<hwy::float16_t> dh4;
  const hn::Full128<float> df4;
  const size_t V = hn::Lanes(du8), chunks = kCodeBytes / V;
  // An int16 lane gains at most 2 * 127 * (2^B - 1) per multiply-add: widen before 32767.
  constexpr size_t kMaxAdds = 32767 / (2 * 127 * ((1u << kBits) - 1));
  const size_t chunks_per_flush =
      AFM_BALANCED_VNNI ? chunks : std::max<size_t>(1, kMaxAdds / kFields);
  const auto code_mask = hn::Set(du8, static_cast<uint8_t>((1u << kBits) - 1));
  [[maybe_unused]] const auto ones = hn::Set(di16, 1);
  auto field = [&](decltype(hn::Zero(du8)) v, int f) {
    if (f == 0) return hn::And(v, code_mask);
    return hn::And(hn::BitCast(du8, hn::ShiftRightSame(hn::BitCast(du16, v), f * kBits)),
                   code_mask);
  };
  MatvecStripes(w, row_bytes, y, r0, r1, [&](const uint8_t* const rows[4], float out[4]) {
    auto f0 = hn::Zero(df), f1 = hn::Zero(df), f2 = hn::Zero(df), f3 = hn::Zero(df);
    auto offset = hn::Zero(df4);
    HWY_ALIGN float scale[4];
    for (size_t b = 0; b < n_blocks; ++b) {
      const size_t off = b * kBlockBytes;
      // One prefetch per cache line the block spans: a q4 block (130 bytes) covers up to three
      // lines, and one prefetch per block left about half of them to the hardware prefetcher.
      for (size_t p = 0; p < kBlockBytes; p += 64)
        for (size_t s = 0; s < 4; ++s) hwy::Prefetch(rows[s] + off + p + AFM_MATVEC_PREFETCH_BYTES);
      uint16_t sh[4];
      for (size_t s = 0; s < 4; ++s) std::memcpy(&sh[s], rows[s] + off, 2);
      const auto scale4 =
          hn::Mul(hn::PromoteTo(df4, hn::LoadU(dh4, reinterpret_cast<const hwy::float16_t*>(sh))),
                  hn::Set(df4, xd[b]));
      hn::Store(scale4, df4, scale);
      offset = hn::MulAdd(scale4, hn::Set(df4, xoff[b]), offset);
      const int8_t* xb = xq + b * bb::kBlock;
      auto i0 = hn::Zero(di32), i1 = hn::Zero(di32), i2 = hn::Zero(di32), i3 = hn::Zero(di32);
      auto j0 = hn::Zero(di32), j1 = hn::Zero(di32), j2 = hn::Zero(di32), j3 = hn::Zero(di32);
      for (size_t k0 = 0; k0 < chunks; k0 += chunks_per_flush) {
#if !AFM_BALANCED_VNNI
        auto a0 = hn::Zero(di16), a1 = hn::Zero(di16), a2 = hn::Zero(di16), a3 = hn::Zero(di16);
#endif
        for (size_t k = k0; k < std::min(chunks, k0 + chunks_per_flush); ++k) {
          const size_t co = off + 2 + k * V;
          auto v0 = hn::LoadU(du8, rows[0] + co), v1 = hn::LoadU(du8, rows[1] + co);
          auto v2 = hn::LoadU(du8, rows[2] + co), v3 = hn::LoadU(du8, rows[3] + co);
#if AFM_BALANCED_VNNI
          // Left to itself GCC folds the load into each field's shift and mask, four loads of
          // the same bytes, each split across two cache lines (blocks are 66 or 130 bytes);
          // held in registers (AVX-512 has 32) q2 computed 1.37x as fast (stop 34).
          KeepInRegister(v0);
          KeepInRegister(v1);
          KeepInRegister(v2);
          KeepInRegister(v3);
#endif
          for (int f = 0; f < kFields; ++f) {
            const auto xv = hn::LoadU(di8, xb + static_cast<size_t>(f) * kCodeBytes + k * V);
#if AFM_BALANCED_VNNI
            i0.raw = _mm512_dpbusd_epi32(i0.raw, field(v0, f).raw, xv.raw);
            i1.raw = _mm512_dpbusd_epi32(i1.raw, field(v1, f).raw, xv.raw);
            i2.raw = _mm512_dpbusd_epi32(i2.raw, field(v2, f).raw, xv.raw);
            i3.raw = _mm512_dpbusd_epi32(i3.raw, field(v3, f).raw, xv.raw);
#else
            a0 = hn::Add(a0, MulAddPairsU8I8(du8, field(v0, f), xv));
            a1 = hn::Add(a1, MulAddPairsU8I8(du8, field(v1, f), xv));
            a2 = hn::Add(a2, MulAddPairsU8I8(du8, field(v2, f), xv));
            a3 = hn::Add(a3, MulAddPairsU8I8(du8, field(v3, f), xv));
            KeepInRegister(a0);
            KeepInRegister(a1);
            KeepInRegister(a2);
            KeepInRegister(a3);
#endif
          }
        }
#if !AFM_BALANCED_VNNI
        i0 = hn::ReorderWidenMulAccumulate(di32, a0, ones, i0, j0);
        i1 = hn::ReorderWidenMulAccumulate(di32, a1, ones, i1, j1);
        i2 = hn::ReorderWidenMulAccumulate(di32, a2, ones, i2, j2);
        i3 = hn::ReorderWidenMulAccumulate(di32, a3, ones, i3, j3);
#endif
      }
      f0 = hn::MulAdd(hn::ConvertTo(df, hn::RearrangeToOddPlusEven(i0, j0)), hn::Set(df, scale[0]),
                      f0);
      f1 = hn::MulAdd(hn::ConvertTo(df, hn::RearrangeToOddPlusEven(i1, j1)), hn::Set(df, scale[1]),
                      f1);
      f2 = hn::MulAdd(hn::ConvertTo(df, hn::RearrangeToOddPlusEven(i2, j2)), hn::Set(df, scale[2]),
                      f2);
      f3 = hn::MulAdd(hn::ConvertTo(df, hn::RearrangeToOddPlusEven(i3, j3)), hn::Set(df, scale[3]),
                      f3);
    }
    HWY_ALIGN float offsets[4];
    hn::Store(offset, df4, offsets);
    out[0] = hn::GetLane(hn::SumOfLanes(df, f0)) - offsets[0];
    out[1] = hn::GetLane(hn::SumOfLanes(df, f1)) - offsets[1];
    out[2] = hn::GetLane(hn::SumOfLanes(df, f2)) - offsets[2];
    out[3] = hn::GetLane(hn::SumOfLanes(df, f3)) - offsets[3];
  });
#endif
}

#undef AFM_BALANCED_VNNI
