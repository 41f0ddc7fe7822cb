// astc: ASTC 6x6 HDR blocks (report section 6), the server model's format, through libastcenc.
//
// A matrix is an HDR image of one channel: every 6x6 tile of weights is one 128-bit ASTC block
// (3.56 bits per weight) plus an f16 floor beside it (0.44 more: 4.0 in all). HDR cannot hold
// negatives, so each block's floor is subtracted before encoding and products add it back as
// floor * (sum of the block's 6 inputs) on each of its 6 rows (formats/matmul.cc), never as a
// reconstructed matrix.
//
// The floor is the block's minimum lowered by one block range (kFloorRanges): HDR endpoints and
// the encoder's error measure are logarithmic, so a block whose smallest residual is 0 spends its
// precision near 0; with the residuals in [range, 2 range] the relative RMS error of Gaussian
// weights drops from 0.53 to 0.22 (docs/compression.md, formats_test Astc.FloorBelowMinimum).
//
// Layout: strips of 6 rows, each ceil(cols / 6) blocks of [16 ASTC bytes][f16 floor]; rows and
// columns pad up to whole blocks. Decoding runs one strip at a time into the caller's
// cache-resident buffer: afm's own block decoder (formats/astc_block.cc, bit-exact with
// libastcenc's decompressor and 7x faster) takes nearly every block, and libastcenc decodes the
// rest; the tests check both against libastcenc's whole-image decompression.
#include <astcenc.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "formats/astc.h"
#include "formats/astc_block.h"

#include "afm/error.h"
#include "formats/format.h"

namespace afm::formats {
namespace astc {

// libastcenc's fastest preset: at 6x6 HDR it measured within 0.2% of the medium preset's error
// on Gaussian weights, at about half the encoding time.
const float kQuality = ASTCENC_PRE_FASTEST;

struct context_free {
  void operator()(astcenc_context* c) const { astcenc_context_free(c); }
};
using context_ptr = std::unique_ptr<astcenc_context, context_free>;

void check(astcenc_error e, const char* what) {
  if (e != ASTCENC_SUCCESS) fail("libastcenc ", what, ": ", astcenc_get_error_string(e));
}

context_ptr make_context(unsigned flags) {
  astcenc_config cfg;
  check(astcenc_config_init(ASTCENC_PRF_HDR, kTile, kTile, 1, kQuality, flags, &cfg), "config");
  cfg.cw_a_weight = 0.0f;  // alpha is a constant 1, swizzled in
  astcenc_context* c = nullptr;
  check(astcenc_context_alloc(&cfg, 1, &c), "context");
  return context_ptr(c);
}

// Weights ride in R (and G, B for the encoder's luminance modes); the decoder reads R.
constexpr astcenc_swizzle kSwizzle{ASTCENC_SWZ_R, ASTCENC_SWZ_R, ASTCENC_SWZ_R, ASTCENC_SWZ_1};

size_t blocks_across(size_t cols) {
  return (cols + kTile - 1) / kTile;
}

// The largest f16 value not above v: residuals w - floor stay >= 0 after the floor's rounding.
uint16_t f16_at_most(float v) {
  uint16_t h = f32_to_f16(v);
  while (f16_to_f32(h) > v) h = (h & 0x8000) ? h + 1 : (h == 0 ? 0x8001 : h - 1);
  return h;
}

void encode(const float* src, size_t rows, size_t cols, void* dst, float floor_ranges) {
  thread_local context_ptr ctx = make_context(0);
  const size_t nbx = blocks_across(cols), width = nbx * kTile;
  constexpr size_t kStrips = 16;  // per libastcenc call, bounding the RGBA image's size
  std::vector<float> image, floors;
  std::vector<uint8_t> astc;
  for (size_t s0 = 0; s0 * kTile < rows; s0 += kStrips) {
    const size_t r0 = s0 * kTile, r1 = std::min(rows, r0 + kStrips * kTile);
    const size_t strips = (r1 - r0 + kTile - 1) / kTile, height = strips * kTile;
    image.assign(height * width * 4, 1.0f);
    floors.resize(strips * nbx);
    for (size_t s = 0; s < strips; ++s)
      for (size_t b = 0; b < nbx; ++b) {
        const size_t y0 = r0 + s * kTile, y1 = std::min(r1, y0 + kTile);
        const size_t x0 = b * kTile, x1 = std::min(cols, x0 + kTile);
        float lo = src[y0 * cols + x0], hi = lo;
        for (size_t y = y0; y < y1; ++y)
          for (size_t x = x0; x < x1; ++x) {
            lo = std::min(lo, src[y * cols + x]);
            hi = std::max(hi, src[y * cols + x]);
          }
        const uint16_t fh = f16_at_most(lo - floor_ranges * (hi - lo));
        const float fl = f16_to_f32(fh);
        floors[s * nbx + b] = fl;
        for (size_t y = 0; y < kTile; ++y)
          for (size_t x = 0; x < kTile; ++x) {
            // Padding repeats the block's minimum, the cheapest value to encode.
            const bool real = y0 + y < y1 && x0 + x < x1;
            const float v = real ? src[(y0 + y) * cols + x0 + x] - fl : lo - fl;
            image[((s * kTile + y) * width + x0 + x) * 4] = v;
          }
      }
    void* slice = image.data();
    astcenc_image img{static_cast<unsigned>(width), static_cast<unsigned>(height), 1,
                      ASTCENC_TYPE_F32, &slice};
    astc.resize(strips * nbx * kAstcBytes);
    check(astcenc_compress_image(ctx.get(), &img, &kSwizzle, astc.data(), astc.size(), 0),
          "compression");
    check(astcenc_compress_reset(ctx.get()), "reset");
    auto* out = static_cast<uint8_t*>(dst) + s0 * nbx * kBlockBytes;
    for (size_t i = 0; i < strips * nbx; ++i) {
      std::memcpy(out + i * kBlockBytes, astc.data() + i * kAstcBytes, kAstcBytes);
      const uint16_t fh = f32_to_f16(floors[i]);  // exact: floors are f16 values
      std::memcpy(out + i * kBlockBytes + kAstcBytes, &fh, 2);
    }
  }
}

void encode_matrix(const float* src, size_t rows, size_t cols, void* dst) {
  encode(src, rows, cols, dst, kFloorRanges);
}

void decode_strip(const void* strip, size_t cols, float* residual, float* offsets) {
  thread_local context_ptr ctx = make_context(ASTCENC_FLG_DECOMPRESS_ONLY);
  thread_local std::vector<uint8_t> others;  // blocks the own decoder does not take
  thread_local std::vector<size_t> other_index;
  thread_local std::vector<float> rgba;
  const size_t nbx = blocks_across(cols);
  const auto* in = static_cast<const uint8_t*>(strip);
  // A block's 6x6 texels (rows `stride` apart) into the strip's rows, cut at the last column.
  auto place = [&](size_t b, const float* texels, size_t stride) {
    const size_t x0 = b * kTile, w = std::min<size_t>(kTile, cols - x0);
    for (size_t y = 0; y < kTile; ++y)
      for (size_t x = 0; x < w; ++x) residual[y * cols + x0 + x] = texels[y * stride + x];
  };
  others.clear();
  other_index.clear();
  for (size_t b = 0; b < nbx; ++b) {
    const uint8_t* block = in + b * kBlockBytes;
    uint16_t fh;
    std::memcpy(&fh, block + kAstcBytes, 2);
    offsets[b] = f16_to_f32(fh);
    float texels[kTile * kRowSpan];
    // Blocks straight into the rows where the decoder's kRowSpan floats a row stay inside them
    // (what it writes past the block, the next block overwrites); the last one or two, the last
    // of which may be cut, through texels.
    const bool direct = b * kTile + kRowSpan <= cols;
    if (direct ? decode_luminance_block(block, residual + b * kTile, cols)
               : decode_luminance_block(block, texels, kRowSpan)) {
      if (!direct) place(b, texels, kRowSpan);
    } else {
      others.insert(others.end(), block, block + kAstcBytes);
      other_index.push_back(b);
    }
  }
  if (other_index.empty()) return;
  // The rest through libastcenc, as one image a block high.
  const size_t width = other_index.size() * kTile;
  rgba.resize(kTile * width * 4);
  void* slice = rgba.data();
  astcenc_image img{static_cast<unsigned>(width), kTile, 1, ASTCENC_TYPE_F32, &slice};
  const astcenc_swizzle identity{ASTCENC_SWZ_R, ASTCENC_SWZ_G, ASTCENC_SWZ_B, ASTCENC_SWZ_A};
  check(astcenc_decompress_image(ctx.get(), others.data(), others.size(), &img, &identity, 0),
        "decompression");
  check(astcenc_decompress_reset(ctx.get()), "reset");
  float texels[kTile * kTile];
  for (size_t i = 0; i < other_index.size(); ++i) {
    for (size_t y = 0; y < kTile; ++y)
      for (size_t x = 0; x < kTile; ++x)
        texels[y * kTile + x] = rgba[(y * width + i * kTile + x) * 4];
    place(other_index[i], texels, kTile);
  }
}

}  // namespace astc

extern const weight_format kAstcFormat{dtype::afm_astc,
                                       "astc",
                                       astc::kTile,
                                       astc::kBlockBytes / astc::kTile,
                                       nullptr,
                                       nullptr,
                                       nullptr,
                                       nullptr,
                                       nullptr,
                                       astc::kTile,
                                       astc::encode_matrix,
                                       astc::decode_strip};

}  // namespace afm::formats
