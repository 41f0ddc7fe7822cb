// Each weight format's kernels against decode-then-f32 scalar products, at odd shapes, on every
// SIMD target, plus the exact encodings.
#include <astcenc.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "afm/error.h"
#include "afm/rng.h"
#include "core/kernels.h"
#include "core/simd_targets_test_util.h"
#include "formats/astc.h"
#include "formats/astc_block.h"
#include "formats/format.h"
#include "formats/matmul.h"
#include "formats/q2_tiles.h"

namespace afm::formats {
namespace {

using afm::testing::for_each_simd_target;

std::vector<float> randn(size_t n, uint64_t seed) {
  rng g(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(g.normal());
  return v;
}

const dtype kTypes[] = {dtype::f32,      dtype::f16,         dtype::bf16,     dtype::q8_0,
                        dtype::afm_q4,   dtype::afm_q2,      dtype::afm_astc, dtype::afm_pal2,
                        dtype::afm_pal4, dtype::afm_q2_tiles};

// Formats that take rows of any width: the element formats, and tiled ones (which pad).
bool any_width(dtype t) {
  return find_format(t)->block_elems == 1 || find_format(t)->tile_rows > 1;
}

// Formats whose matvec quantizes the activation (to 8 bits; q2_tiles to 6).
bool quantizes_act(dtype t) {
  return find_format(t)->act_bytes != nullptr;
}

// The relative bound of a quantized-activation product: a 6-bit grid is 4x coarser than 8 bits.
double act_tol(dtype t) {
  return t == dtype::afm_q2_tiles ? 3e-2 : 1e-2;
}

TEST(Formats, RegistryAndErrors) {
  for (dtype t : kTypes) ASSERT_NE(find_format(t), nullptr) << dtype_name(t);
  EXPECT_EQ(find_format(dtype::q4_k), nullptr);
  tensor t;
  t.type = dtype::q4_k;
  t.name = "blk.0.attn_q.weight";
  try {
    format_of(t);
    FAIL();
  } catch (const error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.attn_q.weight"), std::string::npos);
  }
}

TEST(Formats, ExactEncodings) {
  const std::vector<float> x = {1.0f, -0.5f, 3.14159f, 1e-3f};
  std::vector<uint16_t> h(4);
  find_format(dtype::f16)->encode(x.data(), 4, h.data());
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(h[i], f32_to_f16(x[i]));
  find_format(dtype::bf16)->encode(x.data(), 4, h.data());
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(h[i], f32_to_bf16(x[i]));

  // q8_0: d = max|x| / 127 stored as f16; q = round(x / d).
  std::vector<float> b(32);
  for (size_t i = 0; i < 32; ++i) b[i] = static_cast<float>(i) - 10.0f;  // max |x| = 21
  std::vector<uint8_t> q(34);
  find_format(dtype::q8_0)->encode(b.data(), 32, q.data());
  uint16_t dh;
  std::memcpy(&dh, q.data(), 2);
  EXPECT_EQ(dh, f32_to_f16(21.0f / 127.0f));
  for (size_t i = 0; i < 32; ++i)
    EXPECT_EQ(static_cast<int8_t>(q[2 + i]),
              static_cast<int8_t>(std::round(b[i] * 127.0f / 21.0f)));
  std::vector<float> back(32);
  find_format(dtype::q8_0)->decode(q.data(), 32, back.data());
  for (size_t i = 0; i < 32; ++i)
    EXPECT_FLOAT_EQ(back[i], f16_to_f32(dh) * static_cast<int8_t>(q[2 + i]));
}

// q2 / q4 decoding, on every target, against the layout's definition (balanced_bits.h): a block
// is [f16 s][D = 32 B code bytes], weight i has code (byte i % D) >> (B * (i / D)) & (2^B - 1)
// and value s * (code - (2^B - 1) / 2). Bit for bit.
TEST(Formats, BalancedDecodeIsTheDocumentedLevels) {
  const size_t n = 3 * 256;
  const auto w = randn(n, 23);
  for_each_simd_target([&] {
    for (int bits : {2, 4}) {
      SCOPED_TRACE(bits);
      const weight_format& f = *find_format(bits == 2 ? dtype::afm_q2 : dtype::afm_q4);
      const size_t d = 32 * static_cast<size_t>(bits), block_bytes = 2 + d;
      std::vector<uint8_t> bytes(3 * block_bytes);
      f.encode(w.data(), n, bytes.data());
      std::vector<float> got(n);
      f.decode(bytes.data(), n, got.data());
      const float c = static_cast<float>((1 << bits) - 1) / 2.0f;
      for (size_t b = 0; b < 3; ++b) {
        uint16_t sh;
        std::memcpy(&sh, bytes.data() + b * block_bytes, 2);
        const float s = f16_to_f32(sh);
        for (size_t i = 0; i < 256; ++i) {
          const int byte = bytes[b * block_bytes + 2 + i % d];
          const int code = (byte >> (bits * static_cast<int>(i / d))) & ((1 << bits) - 1);
          ASSERT_EQ(got[b * 256 + i], s * (static_cast<float>(code) - c)) << "weight " << i;
        }
      }
    }
  });
}

struct encoded {
  std::vector<uint8_t> bytes;
  std::vector<float> decoded;
  tensor t;
};

// Encodes random weights and decodes them back: a tiled format's decoding adds its block
// offsets back, the explicit reconstruction its fused products must match.
encoded make(dtype type, size_t rows, size_t cols, uint64_t seed) {
  thread_pool pool(2);
  const weight_format& f = *find_format(type);
  encoded e;
  const auto w = randn(rows * cols, seed);
  const int64_t ne[2] = {static_cast<int64_t>(cols), static_cast<int64_t>(rows)};
  e.bytes.resize(tensor_bytes(type, ne, 2));
  encode_tensor(f, w.data(), ne, 2, e.bytes.data(), pool);
  e.t = make_tensor(e.bytes.data(), type, {ne[0], ne[1]}, "w");
  e.decoded.resize(rows * cols);
  decode_tensor(e.t, e.decoded.data(), pool);
  return e;
}

TEST(Formats, MatvecMatchesDecodedProduct) {
  thread_pool pool(2);
  for_each_simd_target([&] {
    for (dtype type : kTypes) {
      SCOPED_TRACE(dtype_name(type));
      const size_t block = find_format(type)->block_elems;
      for (size_t rows : {1u, 5u, 17u, 40u}) {
        // 48: a tile ending in 16 columns past a whole 32 (pal4's byte-lookup loop).
        for (size_t cols : {32u, 48u, 96u, 256u, 768u, 1056u, 3584u}) {
          if (cols % block != 0 && !any_width(type)) continue;
          for (size_t extra : {0u, 1u, 7u}) {  // odd widths for the element and tiled formats
            const size_t k = any_width(type) ? cols + extra : cols;
            const encoded e = make(type, rows, k, rows * 131 + k);
            const auto x = randn(k, 99);
            std::vector<float> y(rows);
            matmul(e.t, x.data(), k, 1, y.data(), rows, pool);
            // q8 quantizes x to 8 bits per block of 32 as well: compare with that in mind.
            const double tol = quantizes_act(type) ? act_tol(type) : 1e-5;
            for (size_t r = 0; r < rows; ++r) {
              double want = 0, mag = 0;
              for (size_t i = 0; i < k; ++i) {
                want += static_cast<double>(e.decoded[r * k + i]) * x[i];
                mag += std::fabs(static_cast<double>(e.decoded[r * k + i]) * x[i]);
              }
              ASSERT_NEAR(y[r], want, tol * mag + 1e-6)
                  << "rows=" << rows << " k=" << k << " r=" << r;
            }
          }
        }
      }
    }
  });
}

// The integer kernels' activations, as documented (q8.cc, balanced_bits.h): per block, scale
// d = amax / 127 and codes lrintf(x * 127 / amax), round half to even; q2 and q4 add
// c * sum(codes). Computed here one value at a time and compared bit for bit.
TEST(Formats, PreparedActivationsAreTheDocumentedQuantization) {
  const size_t cols = 768;
  auto x = randn(cols, 17);
  for (size_t i = 0; i < 32; ++i) x[i] = 0.0f;  // an all-zero block: scale 0, codes 0
  // Ties: with the block maximum at 127 the codes are x itself, so halves must go to even.
  x[256] = 127.0f;
  for (size_t i = 1; i < 256; ++i)
    x[256 + i] = static_cast<float>(static_cast<int>(i % 254) - 127) / 2.0f;
  for_each_simd_target([&] {
    for (dtype type : {dtype::q8_0, dtype::afm_q4, dtype::afm_q2}) {
      SCOPED_TRACE(dtype_name(type));
      const weight_format& f = *find_format(type);
      const bool q8 = type == dtype::q8_0;
      const size_t block = q8 ? 32 : 256, blocks = cols / block;
      const float c = type == dtype::afm_q4 ? 7.5f : 1.5f;
      std::vector<uint8_t> act(f.act_bytes(cols));
      f.prepare_act(x.data(), cols, act.data());
      std::vector<float> tail(q8 ? blocks : 2 * blocks);
      const size_t code_bytes = cols * (q8 ? 2 : 1);
      ASSERT_EQ(act.size(), code_bytes + tail.size() * sizeof(float));
      std::memcpy(tail.data(), act.data() + code_bytes, tail.size() * sizeof(float));
      for (size_t b = 0; b < blocks; ++b) {
        float amax = 0.0f;
        for (size_t i = 0; i < block; ++i) amax = std::max(amax, std::fabs(x[b * block + i]));
        ASSERT_EQ(tail[b], amax / 127.0f) << "block " << b;
        const float inv = amax != 0.0f ? 127.0f / amax : 0.0f;
        int32_t sum = 0;
        for (size_t i = 0; i < block; ++i) {
          const size_t at = b * block + i;
          const long want = std::lrintf(x[at] * inv);
          int16_t got16 = 0;
          if (q8) std::memcpy(&got16, act.data() + 2 * at, 2);
          const long got = q8 ? got16 : static_cast<int8_t>(act[at]);
          ASSERT_EQ(got, want) << "x=" << x[at] << " at " << at;
          sum += static_cast<int32_t>(want);
        }
        if (!q8) {
          ASSERT_EQ(tail[blocks + b], c * static_cast<float>(sum)) << "block " << b;
        }
      }
    }
  });
}

// q2_tiles' activation, as documented (q2_tiles.cc): per tile of 256 inputs d = amax / 31 and
// codes lrintf(x * (31 / amax)), zeros past the last column; table entry m of a unit's low
// (high) half-byte is the sum of the codes of its columns 8u + k (8u + 4 + k) whose bit k is set
// in m, twice over; then d and 1.5 * sum(codes) per tile. Computed one value at a time here.
TEST(Formats, Q2TilesActivationTablesAreTheDocumentedSums) {
  const size_t cols = 600, tiles = 3;  // the last tile partial
  auto x = randn(cols, 21);
  for (size_t i = 256; i < 512; ++i) x[i] = 0.0f;  // an all-zero tile: scale 0, codes 0
  x[7] = 9.0f;                                     // one input sets the first tile's scale
  for_each_simd_target([&] {
    const weight_format& f = *find_format(dtype::afm_q2_tiles);
    std::vector<uint8_t> act(f.act_bytes(cols));
    ASSERT_EQ(act.size(), tiles * (q2_tiles::kTableBytes + 2 * sizeof(float)));
    f.prepare_act(x.data(), cols, act.data());
    std::vector<float> tail(2 * tiles);
    std::memcpy(tail.data(), act.data() + tiles * q2_tiles::kTableBytes,
                tail.size() * sizeof(float));
    for (size_t b = 0; b < tiles; ++b) {
      SCOPED_TRACE(::testing::Message() << "tile " << b);
      float amax = 0.0f;
      for (size_t i = b * 256; i < std::min(cols, (b + 1) * 256); ++i)
        amax = std::max(amax, std::fabs(x[i]));
      ASSERT_EQ(tail[b], amax / 31.0f);
      const float inv = amax != 0.0f ? 31.0f / amax : 0.0f;
      std::vector<long> q(256, 0);
      long sum = 0;
      for (size_t i = 0; i < 256 && b * 256 + i < cols; ++i) {
        q[i] = std::lrintf(x[b * 256 + i] * inv);
        sum += q[i];
      }
      ASSERT_EQ(tail[tiles + b], 1.5f * static_cast<float>(sum));
      const auto* lo = reinterpret_cast<const int8_t*>(act.data()) + b * q2_tiles::kTableBytes;
      const int8_t* hi = lo + q2_tiles::kCodeBytes;
      for (size_t u = 0; u < 32; ++u)
        for (size_t m = 0; m < 16; ++m) {
          long want_lo = 0, want_hi = 0;
          for (size_t k = 0; k < 4; ++k)
            if ((m >> k) & 1) want_lo += q[8 * u + k], want_hi += q[8 * u + 4 + k];
          for (size_t half : {0u, 16u}) {
            ASSERT_EQ(lo[32 * u + half + m], want_lo) << "unit " << u << " entry " << m;
            ASSERT_EQ(hi[32 * u + half + m], want_hi) << "unit " << u << " entry " << m;
          }
        }
    }
  });
}

// load_model's automatic q2 layout: the lookup on targets narrower than 512 bits, rows on the
// AVX-512 ones (and on every target the host runs, by its documented rule, not by the host).
TEST(Formats, Q2LookupIsPreferredBelow512BitVectors) {
  afm::testing::for_each_simd_target([] {
    const std::string name = kernels::simd_target();
    EXPECT_EQ(q2_tiles::lookup_preferred(), name.rfind("AVX3", 0) != 0) << name;
  });
}

// load_model's re-layout of q2 rows (q2_tiles.h): every code and scale lands where the layout
// says, byte count unchanged, and the tiles decode to exactly the rows' weights.
TEST(Formats, Q2TilesAreQ2RowsRelaid) {
  thread_pool pool(2);
  const size_t rows = 48, cols = 768, row_bytes = 3 * 66;
  const encoded q = make(dtype::afm_q2, rows, cols, 31);
  std::vector<uint8_t> bytes = q.bytes;
  tensor t = make_tensor(bytes.data(), dtype::afm_q2, {768, 48}, "blk.0.attn_q.weight");
  ASSERT_TRUE(q2_tiles::can_retile(t));
  q2_tiles::retile(t);
  EXPECT_EQ(t.type, dtype::afm_q2_tiles);
  EXPECT_EQ(t.bytes(), q.bytes.size());
  for (size_t r = 0; r < rows; ++r)
    for (size_t b = 0; b < cols / 256; ++b) {
      const uint8_t* block = q.bytes.data() + r * row_bytes + b * 66;
      const uint8_t* tile = bytes.data() + (r / 16) * 16 * row_bytes + b * q2_tiles::kTileBytes;
      ASSERT_EQ(std::memcmp(tile + 2 * (r % 16), block, 2), 0) << "scale of row " << r;
      for (size_t i = 0; i < 256; ++i) {
        const int want = (block[2 + i % 64] >> (2 * (i / 64))) & 3;  // balanced_bits.h
        ASSERT_EQ(q2_tiles::code_at(tile, r % 16, i), want)
            << "row " << r << " col " << b * 256 + i;
      }
    }
  for_each_simd_target([&] {
    std::vector<float> got(rows * cols);
    decode_tensor(t, got.data(), pool);
    ASSERT_EQ(got, q.decoded);
  });

  // 40 rows are not whole strips: load_model keeps such a matrix in rows, retile refuses it.
  tensor odd = make_tensor(bytes.data(), dtype::afm_q2, {768, 40}, "blk.3.ffn_up.weight");
  EXPECT_FALSE(q2_tiles::can_retile(odd));
  try {
    q2_tiles::retile(odd);
    FAIL();
  } catch (const error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.3.ffn_up.weight"), std::string::npos);
  }
}

TEST(Formats, Q8MatvecIsExactIntegerArithmetic) {
  // With x already on the 8-bit grid the product is exact integer arithmetic per block.
  thread_pool pool(1);
  for_each_simd_target([&] {
    const size_t rows = 9, k = 96;
    encoded e = make(dtype::q8_0, rows, k, 5);
    std::vector<float> x(k);
    rng g(3);
    for (size_t b = 0; b < k / 32; ++b) {
      x[b * 32] = 127.0f * 0.25f;  // block max fixes the scale at 0.25
      for (size_t i = 1; i < 32; ++i)
        x[b * 32 + i] = 0.25f * static_cast<float>(static_cast<int>(g.next() % 255) - 127);
    }
    std::vector<float> y(rows);
    matmul(e.t, x.data(), k, 1, y.data(), rows, pool);
    for (size_t r = 0; r < rows; ++r) {
      double want = 0;
      for (size_t i = 0; i < k; ++i) want += static_cast<double>(e.decoded[r * k + i]) * x[i];
      ASSERT_NEAR(y[r], want, 1e-4 * (1 + std::fabs(want)));
    }
  });
}

TEST(Formats, MatmulMatchesDecodedProduct) {
  thread_pool pool(2);
  for_each_simd_target([&] {
    for (dtype type : kTypes) {
      SCOPED_TRACE(dtype_name(type));
      // Both paths: a few tokens run the striped matvec, more run gemm.
      for (size_t n :
           std::initializer_list<size_t>{2, 9, 13, kMatvecMaxRows, kMatvecMaxRows + 1, 40}) {
        for (size_t rows : {3u, 37u, 70u}) {
          SCOPED_TRACE(::testing::Message() << "n=" << n << " rows=" << rows);
          const size_t k = any_width(type) ? 513 : 512;
          const encoded e = make(type, rows, k, n + rows);
          const auto x = randn(n * k, 77);
          std::vector<float> y(n * rows);
          matmul(e.t, x.data(), k, n, y.data(), rows, pool);
          // The matvec path quantizes q8 activations (see MatvecMatchesDecodedProduct).
          const bool quantized = quantizes_act(type) && n <= kMatvecMaxRows;
          for (size_t t = 0; t < n; ++t)
            for (size_t r = 0; r < rows; ++r) {
              double want = 0, mag = 0;
              for (size_t i = 0; i < k; ++i) {
                want += static_cast<double>(e.decoded[r * k + i]) * x[t * k + i];
                mag += std::fabs(static_cast<double>(e.decoded[r * k + i]) * x[t * k + i]);
              }
              ASSERT_NEAR(y[t * rows + r], want,
                          quantized ? act_tol(type) * mag + 1e-6
                                    : 2e-4 * std::sqrt(static_cast<double>(k)));
            }
        }
      }
    }
  });
}

// matmul_shared (Q, K and V in one loop) gives exactly the separate products: each row's dot
// product does not depend on how the rows are split, whether the weights share a format (one
// loop) or not (one matmul each), and whether few tokens run or many.
TEST(Formats, SharedInputProductsMatchSeparateOnes) {
  thread_pool pool(2);
  for_each_simd_target([&] {
    const dtype pairs[][2] = {{dtype::f32, dtype::f32},
                              {dtype::q8_0, dtype::q8_0},
                              {dtype::afm_q4, dtype::afm_q4},
                              {dtype::afm_q2, dtype::afm_q2},
                              {dtype::afm_pal4, dtype::afm_pal4},
                              {dtype::afm_q2, dtype::afm_q4},
                              {dtype::afm_q2_tiles, dtype::afm_q2_tiles}};
    for (const auto& types : pairs) {
      SCOPED_TRACE(::testing::Message() << dtype_name(types[0]) << "+" << dtype_name(types[1]));
      const size_t k = 512, rows[3] = {37, 16, 5};
      const encoded a = make(types[0], rows[0], k, 1), b = make(types[1], rows[1], k, 2),
                    c = make(types[0], rows[2], k, 3);
      for (size_t n : std::initializer_list<size_t>{1, 3, kMatvecMaxRows + 6}) {
        SCOPED_TRACE(::testing::Message() << "n=" << n);
        const auto x = randn(n * k, 5);
        std::vector<float> want[3], got[3];
        const encoded* es[3] = {&a, &b, &c};
        for (size_t i = 0; i < 3; ++i) {
          const size_t ldy = rows[i] + 3;  // strided outputs
          want[i].assign(n * ldy, 0.0f);
          got[i].assign(n * ldy, 0.0f);
          matmul(es[i]->t, x.data(), k, n, want[i].data(), ldy, pool);
        }
        matmul_shared({{&a.t, got[0].data(), rows[0] + 3},
                       {&b.t, got[1].data(), rows[1] + 3},
                       {&c.t, got[2].data(), rows[2] + 3}},
                      x.data(), k, n, pool);
        for (size_t i = 0; i < 3; ++i) EXPECT_EQ(got[i], want[i]) << "weight " << i;
      }
    }
  });
}

// libastcenc's decompressor over an image of nbx x nby 6x6 blocks (row-major): the first
// channel of its texels, nbx * 6 to a row.
std::vector<float> libastcenc_image(const uint8_t* blocks, size_t nbx, size_t nby) {
  astcenc_config cfg;
  EXPECT_EQ(astcenc_config_init(ASTCENC_PRF_HDR, 6, 6, 1, ASTCENC_PRE_FASTEST,
                                ASTCENC_FLG_DECOMPRESS_ONLY, &cfg),
            ASTCENC_SUCCESS);
  astcenc_context* ctx = nullptr;
  EXPECT_EQ(astcenc_context_alloc(&cfg, 1, &ctx), ASTCENC_SUCCESS);
  std::vector<float> rgba(nbx * 6 * nby * 6 * 4);
  void* slice = rgba.data();
  astcenc_image img{static_cast<unsigned>(nbx * 6), static_cast<unsigned>(nby * 6), 1,
                    ASTCENC_TYPE_F32, &slice};
  const astcenc_swizzle swz{ASTCENC_SWZ_R, ASTCENC_SWZ_G, ASTCENC_SWZ_B, ASTCENC_SWZ_A};
  EXPECT_EQ(astcenc_decompress_image(ctx, blocks, nbx * nby * astc::kAstcBytes, &img, &swz, 0),
            ASTCENC_SUCCESS);
  astcenc_context_free(ctx);
  std::vector<float> r(rgba.size() / 4);
  for (size_t i = 0; i < r.size(); ++i) r[i] = rgba[4 * i];
  return r;
}

// libastcenc's texels of a row of blocks, block after block (36 each, row-major).
std::vector<float> libastcenc_texels(const std::vector<uint8_t>& blocks) {
  const size_t n = blocks.size() / astc::kAstcBytes;
  const auto image = libastcenc_image(blocks.data(), n, 1);
  std::vector<float> out(n * 36);
  for (size_t b = 0; b < n; ++b)
    for (size_t y = 0; y < 6; ++y)
      for (size_t x = 0; x < 6; ++x) out[b * 36 + y * 6 + x] = image[y * n * 6 + b * 6 + x];
  return out;
}

// The astc strips, decoded one at a time into the kernel's buffer, against libastcenc's own
// decompressor run over the whole matrix as one image: bit-exact, at a shape that pads rows
// and columns. The floors sit at or below their block's minimum, so every residual is >= 0.
TEST(Astc, StripDecodeIsBitExactWithLibastcenc) {
  thread_pool pool(2);
  const size_t rows = 45, cols = 83, nbx = (cols + 5) / 6, nby = (rows + 5) / 6;
  const auto w = randn(rows * cols, 12);
  const int64_t ne[2] = {cols, rows};
  std::vector<uint8_t> bytes(tensor_bytes(dtype::afm_astc, ne, 2));
  ASSERT_EQ(bytes.size(), nbx * nby * astc::kBlockBytes);
  encode_tensor(*find_format(dtype::afm_astc), w.data(), ne, 2, bytes.data(), pool);

  std::vector<uint8_t> image_blocks(nbx * nby * astc::kAstcBytes);
  for (size_t i = 0; i < nbx * nby; ++i)
    std::memcpy(image_blocks.data() + i * astc::kAstcBytes, bytes.data() + i * astc::kBlockBytes,
                astc::kAstcBytes);
  const auto image = libastcenc_image(image_blocks.data(), nbx, nby);

  const weight_format& f = *find_format(dtype::afm_astc);
  std::vector<float> residual(6 * cols), offsets(nbx);
  for (size_t s = 0; s < nby; ++s) {
    f.decode_strip(bytes.data() + s * nbx * astc::kBlockBytes, cols, residual.data(),
                   offsets.data());
    for (size_t y = 0; y < 6 && s * 6 + y < rows; ++y)
      for (size_t x = 0; x < cols; ++x) {
        const float want = image[(s * 6 + y) * nbx * 6 + x];
        uint32_t a, b;
        std::memcpy(&a, &residual[y * cols + x], 4);
        std::memcpy(&b, &want, 4);
        ASSERT_EQ(a, b) << "row " << s * 6 + y << " col " << x;
        ASSERT_GE(residual[y * cols + x], 0.0f);
      }
    for (size_t b = 0; b < nbx; ++b) {
      float lo = INFINITY;
      for (size_t y = s * 6; y < std::min(rows, s * 6 + 6); ++y)
        for (size_t x = b * 6; x < std::min(cols, b * 6 + 6); ++x)
          lo = std::min(lo, w[y * cols + x]);
      EXPECT_LE(offsets[b], lo);
      EXPECT_EQ(f16_to_f32(f32_to_f16(offsets[b])), offsets[b]);  // stored as f16
    }
  }
}

// Runs the own block decoder over blocks and checks every block it takes bit by bit against
// libastcenc; returns how many it took.
size_t check_own_decoder(const std::vector<uint8_t>& blocks) {
  const auto want = libastcenc_texels(blocks);
  size_t taken = 0;
  for (size_t b = 0; b < blocks.size() / astc::kAstcBytes; ++b) {
    float got[6 * astc::kRowSpan];
    if (!astc::decode_luminance_block(blocks.data() + b * astc::kAstcBytes, got, astc::kRowSpan))
      continue;
    ++taken;
    for (size_t i = 0; i < 36; ++i) {
      const float texel = got[i / 6 * astc::kRowSpan + i % 6];
      uint32_t a, e;
      std::memcpy(&a, &texel, 4);
      std::memcpy(&e, &want[b * 36 + i], 4);
      if (a != e) {
        ADD_FAILURE() << "block " << b << " texel " << i << ": " << texel << " against "
                      << want[b * 36 + i];
        return taken;
      }
    }
  }
  return taken;
}

// Random blocks of a kind: one partition with an HDR luminance endpoint mode (2 or 3); two
// sharing one; two with endpoint modes of class 0 and up, one per partition (random class
// bits); one partition in block mode 0x10C; or random bits throughout. The own decoder takes
// those of the first three whose random block-mode bits are valid and whose modes are 2 or 3,
// and all of the fourth. Block mode 0x10C (bits 7-8 = 2 with the others 0: a 6x6 grid; bits
// 2-4 = 110: six weight levels, a trit and a bit each) is the one the encoder gives nearly
// every block of weights, which the decoder reads through a table of whole trit groups.
enum class random_kind { one_partition, shared_mode, mode_per_partition, trit_bit_grid, any };

std::vector<uint8_t> random_astc_blocks(size_t n, uint64_t seed, random_kind kind) {
  rng g(seed);
  std::vector<uint8_t> blocks(n * astc::kAstcBytes);
  for (size_t b = 0; b < n; ++b) {
    uint64_t lo = g.next(), hi = g.next();
    const uint64_t endpoint_mode = (b & 1) ? 3 : 2;
    if (kind == random_kind::one_partition) {  // bits 11-12: partitions - 1; 13-16: mode
      lo = (lo & ~uint64_t{0x1F800}) | endpoint_mode << 13;
    } else if (kind == random_kind::trit_bit_grid) {
      lo = (lo & ~uint64_t{0x1FFFF}) | 0x10C | endpoint_mode << 13;
    } else if (kind != random_kind::any) {  // two partitions; bits 23-28: modes
      lo = (lo & ~uint64_t{0x1800}) | uint64_t{1} << 11;
      if (kind == random_kind::shared_mode)
        lo = (lo & ~(uint64_t{0x3F} << 23)) | endpoint_mode << 25;
      else
        lo = (lo & ~(uint64_t{3} << 23)) | uint64_t{1} << 23;
    }
    std::memcpy(blocks.data() + b * astc::kAstcBytes, &lo, 8);
    std::memcpy(blocks.data() + b * astc::kAstcBytes + 8, &hi, 8);
  }
  return blocks;
}

// The own decoder against libastcenc on every SIMD target, on blocks the encoder made of
// weights with different spreads, and on random blocks whose random mode bits reach every
// weight grid, weight range, endpoint range and partition pattern (and many modes it must
// refuse). It must take nearly all encoded blocks: the others decode at libastcenc's rate.
TEST(Astc, OwnBlockDecoderIsBitExactWithLibastcenc) {
  const size_t rows = 36, cols = 216, nb = rows / 6 * (cols / 6);
  std::vector<uint8_t> encoded;
  for (uint64_t seed = 0; seed < 4; ++seed) {
    auto w = randn(rows * cols, 40 + seed);
    const float scale[] = {0.02f, 1.0f, 30.0f, 0.001f};
    for (size_t i = 0; i < w.size(); ++i) {
      w[i] *= scale[seed];
      if (seed == 2 && i % 97 == 0) w[i] *= 20.0f;  // outliers
    }
    std::vector<uint8_t> bytes(nb * astc::kBlockBytes);
    astc::encode(w.data(), rows, cols, bytes.data(), astc::kFloorRanges);
    for (size_t i = 0; i < nb; ++i)
      encoded.insert(encoded.end(), bytes.begin() + static_cast<ptrdiff_t>(i * astc::kBlockBytes),
                     bytes.begin() + static_cast<ptrdiff_t>(i * astc::kBlockBytes + 16));
  }
  const random_kind kinds[] = {random_kind::one_partition, random_kind::shared_mode,
                               random_kind::mode_per_partition, random_kind::trit_bit_grid};
  std::vector<std::vector<uint8_t>> random;
  for (const random_kind k : kinds)
    random.push_back(random_astc_blocks(32768, 7 + static_cast<uint64_t>(k), k));
  for_each_simd_target([&] {
    const size_t taken = check_own_decoder(encoded), total = encoded.size() / astc::kAstcBytes;
    EXPECT_GE(taken, total * 99 / 100) << taken << " of " << total << " encoded blocks";
    for (size_t k = 0; k < random.size(); ++k) {
      const size_t random_taken = check_own_decoder(random[k]);
      const size_t want =
          kinds[k] == random_kind::trit_bit_grid ? random[k].size() / astc::kAstcBytes : 100;
      EXPECT_GE(random_taken, want) << random_taken << " random blocks of kind " << k;
    }
  });
}

// Two partitions with a mode each, whose 2 mode bits below the weights straddle the block's two
// 64-bit halves: block mode 323 (a 6x4 grid of 1-bit trits, 63 bits of weights) puts them at
// bits 63 and 64; mode bits 23-28 = 110001 (class 0, modes 3 and the extra bits').
TEST(Astc, OwnBlockDecoderReadsModeBitsAcrossHalves) {
  rng g(13);
  std::vector<uint8_t> blocks(100 * astc::kAstcBytes);
  for (size_t b = 0; b < 100; ++b) {
    uint64_t lo = g.next(), hi = g.next();
    lo = (lo & ~uint64_t{0x1FFF}) | 323 | uint64_t{1} << 11;
    lo = (lo & ~(uint64_t{0x3F} << 23)) | uint64_t{0x31} << 23;
    lo &= ~(uint64_t{1} << 63);  // extra bits 0b10: mode 2 for the second partition
    hi |= 1;
    std::memcpy(blocks.data() + b * astc::kAstcBytes, &lo, 8);
    std::memcpy(blocks.data() + b * astc::kAstcBytes + 8, &hi, 8);
  }
  for_each_simd_target([&] { EXPECT_EQ(check_own_decoder(blocks), size_t{100}); });
}

// A strip whose blocks the own decoder partly refuses (random bits): decode_strip sends those
// to libastcenc and places every block's texels where whole-image decompression puts them.
TEST(Astc, StripDecodeMixesOwnAndLibastcencBlocks) {
  const size_t cols = 6 * 400 - 2, nbx = 400;  // the last block cut at 4 columns
  auto blocks = random_astc_blocks(nbx, 11, random_kind::one_partition);
  const auto any = random_astc_blocks(nbx, 12, random_kind::any);
  for (size_t b = 0; b < nbx; b += 3)  // every third block random throughout
    std::memcpy(blocks.data() + b * 16, any.data() + b * 16, 16);
  size_t own = 0;
  float texels[6 * astc::kRowSpan];
  for (size_t b = 0; b < nbx; ++b)
    own += astc::decode_luminance_block(blocks.data() + b * 16, texels, astc::kRowSpan);
  ASSERT_GT(own, size_t{0});
  ASSERT_LT(own, nbx);
  std::vector<uint8_t> strip(nbx * astc::kBlockBytes);
  for (size_t b = 0; b < nbx; ++b) {
    std::memcpy(strip.data() + b * astc::kBlockBytes, blocks.data() + b * 16, 16);
    const uint16_t floor = f32_to_f16(-0.25f * static_cast<float>(b % 7));
    std::memcpy(strip.data() + b * astc::kBlockBytes + 16, &floor, 2);
  }
  const auto want = libastcenc_texels(blocks);
  std::vector<float> residual(6 * cols), offsets(nbx);
  find_format(dtype::afm_astc)->decode_strip(strip.data(), cols, residual.data(), offsets.data());
  for (size_t b = 0; b < nbx; ++b) {
    EXPECT_EQ(offsets[b], -0.25f * static_cast<float>(b % 7));
    for (size_t y = 0; y < 6; ++y)
      for (size_t x = 0; x < 6 && b * 6 + x < cols; ++x) {
        uint32_t got, expected;
        std::memcpy(&got, &residual[y * cols + b * 6 + x], 4);
        std::memcpy(&expected, &want[b * 36 + y * 6 + x], 4);
        ASSERT_EQ(got, expected) << "block " << b << " texel " << y * 6 + x;
      }
  }
}

// The floor one block range below the minimum, against the minimum itself, on Gaussian
// weights: HDR's logarithmic endpoints favour residuals away from 0 (formats/astc.cc).
TEST(Astc, FloorBelowMinimumHalvesTheError) {
  const size_t rows = 120, cols = 120;
  const auto w = randn(rows * cols, 5);
  auto rel_error = [&](float floor_ranges) {
    std::vector<uint8_t> bytes(rows / 6 * cols / 6 * astc::kBlockBytes);
    astc::encode(w.data(), rows, cols, bytes.data(), floor_ranges);
    tensor t = make_tensor(bytes.data(), dtype::afm_astc, {cols, rows}, "w");
    thread_pool pool(1);
    std::vector<float> back(rows * cols);
    decode_tensor(t, back.data(), pool);
    double e = 0, n = 0;
    for (size_t i = 0; i < rows * cols; ++i) {
      e += (back[i] - w[i]) * static_cast<double>(back[i] - w[i]);
      n += w[i] * static_cast<double>(w[i]);
    }
    return std::sqrt(e / n);
  };
  const double at_min = rel_error(0.0f), below = rel_error(astc::kFloorRanges);
  std::printf("astc relative RMS error: floor at the minimum %.4f, one range below %.4f\n", at_min,
              below);
  EXPECT_LT(below, 0.3);
  EXPECT_LT(below, 0.7 * at_min);
}

TEST(Astc, RowLookupDecodesItsStrip) {
  thread_pool pool(1);
  const encoded e = make(dtype::afm_astc, 12, 12, 1);
  std::vector<float> row(12), all(144);
  decode_row(e.t, 7, row.data());  // a row inside the second strip
  for (size_t c = 0; c < 12; ++c) EXPECT_EQ(row[c], e.decoded[7 * 12 + c]);
  decode_tensor(e.t, all.data(), pool);
  EXPECT_EQ(all, e.decoded);
}

// k-means palettes: weights drawn from 2^B exact f16 values come back exactly; Gaussian weights
// land near the Lloyd-Max optimum for the palette's size; shapes that pad rows and columns.
TEST(Palette, KmeansFindsThePalette) {
  thread_pool pool(2);
  for (dtype type : {dtype::afm_pal2, dtype::afm_pal4}) {
    SCOPED_TRACE(dtype_name(type));
    const size_t bits = type == dtype::afm_pal2 ? 2 : 4, rows = 21, cols = 300;
    const float levels[16] = {-0.75f,    -0.5f, -0.375f,  -0.25f,  -0.125f, -0.0625f,
                              -0.03125f, 0.0f,  0.03125f, 0.0625f, 0.125f,  0.25f,
                              0.375f,    0.5f,  0.75f,    1.0f};
    rng g(4);
    std::vector<float> w(rows * cols);
    for (float& x : w) x = levels[(g.next() % (size_t{1} << bits)) * (16 >> bits)];
    const int64_t ne[2] = {cols, rows};
    std::vector<uint8_t> bytes(tensor_bytes(type, ne, 2));
    encode_tensor(*find_format(type), w.data(), ne, 2, bytes.data(), pool);
    std::vector<float> back(rows * cols);
    decode_tensor(make_tensor(bytes.data(), type, {ne[0], ne[1]}), back.data(), pool);
    EXPECT_EQ(back, w);

    // Gaussian: Lloyd-Max's optimal 4- and 16-level quantizers have relative RMS errors 0.343
    // and 0.0951; a palette per tile fitted by k-means gets within 10% of them.
    const auto n = randn(64 * 512, 9);
    const int64_t ne2[2] = {512, 64};
    bytes.assign(tensor_bytes(type, ne2, 2), 0);
    encode_tensor(*find_format(type), n.data(), ne2, 2, bytes.data(), pool);
    back.resize(n.size());
    decode_tensor(make_tensor(bytes.data(), type, {512, 64}), back.data(), pool);
    double e = 0, m = 0;
    for (size_t i = 0; i < n.size(); ++i)
      e += (back[i] - n[i]) * (back[i] - n[i]), m += n[i] * n[i];
    EXPECT_LT(std::sqrt(e / m), (bits == 2 ? 0.343 : 0.0951) * 1.1);
  }
}

}  // namespace
}  // namespace afm::formats
