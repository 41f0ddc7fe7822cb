// The astc format's encoder with its floor placement exposed, for tests and measurements
// (formats/astc.cc; the registry's weight_format uses kFloorRanges).
#pragma once

#include <cstddef>

namespace afm::formats::astc {

constexpr unsigned kTile = 6;                   // 6x6 blocks
constexpr size_t kAstcBytes = 16;               // one 128-bit ASTC block
constexpr size_t kBlockBytes = kAstcBytes + 2;  // and its f16 floor
constexpr float kFloorRanges = 1.0f;

// Encodes `rows` rows of `cols` weights into ceil(rows / 6) strips at dst, each block's floor
// placed floor_ranges block ranges below its minimum (0: the minimum itself).
void encode(const float* src, size_t rows, size_t cols, void* dst, float floor_ranges);

}  // namespace afm::formats::astc
