// The astc format's own block decoder (formats/astc_block.cc): the blocks libastcenc's encoder
// makes of one-channel weights, decoded about 30x faster than libastcenc's general decompressor,
// to the same values. formats/astc.cc sends every other block to libastcenc.
#pragma once

#include <cstddef>
#include <cstdint>

namespace afm::formats::astc {

// A 6x6 block's 36 texels. The decoder writes whole 8-lane vectors: kRowSpan floats a texel row,
// the block's 6 and 2 past them, which it leaves undefined (the caller's next block overwrites
// them); its per-texel byte arrays (weights, partitions) are laid out the same way, a row every
// kRowSpan bytes.
constexpr unsigned kTexels = 36;
constexpr size_t kRowSpan = 8;
constexpr size_t kPaddedTexels = 6 * kRowSpan;

// Decodes one 16-byte ASTC block of the HDR profile with a 6x6 footprint into its 36 texels'
// first channel (texel x of row y at texels[y * stride + x], with kRowSpan floats of room at
// each row), bit-exact with libastcenc's decompressor, if the block is one this decoder takes: one
// or two partitions, one plane of weights, HDR luminance endpoint modes (2, large range, or 3,
// small range; two partitions may have one each). Returns false, writing nothing, for any other
// block (three or four partitions, other endpoint modes, two planes, void-extent and invalid
// blocks).
bool decode_luminance_block(const uint8_t block[16], float* texels, size_t stride);

}  // namespace afm::formats::astc
