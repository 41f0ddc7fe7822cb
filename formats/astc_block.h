// The astc format's own block decoder (formats/astc_block.cc): the blocks libastcenc's encoder
// makes of one-channel weights, decoded about an order of magnitude faster than libastcenc's
// general decompressor, to the same values. formats/astc.cc sends every other block to
// libastcenc.
#pragma once

#include <cstddef>
#include <cstdint>

namespace afm::formats::astc {

// Decodes one 16-byte ASTC block of the HDR profile with a 6x6 footprint into its 36 texels'
// first channel (texel x of row y at texels[y * stride + x]), bit-exact with libastcenc's
// decompressor, if the block
// is one this decoder takes: one partition, one plane of weights, endpoint mode 2 or 3 (HDR
// luminance, large or small range). Returns false, writing nothing, for any other block
// (several partitions, other endpoint modes, two planes, void-extent and invalid blocks).
bool decode_luminance_block(const uint8_t block[16], float* texels, size_t stride);

}  // namespace afm::formats::astc
