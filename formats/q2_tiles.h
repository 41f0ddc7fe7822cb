// q2_tiles: q2's codes (formats/q2.cc) re-laid for a table-lookup kernel in the style of T-MAC.
// A memory layout only: load_model re-lays every q2 matrix whose rows come in whole 16-row
// strips in place, byte count unchanged, and no file ever holds it (dtype::afm_q2_tiles is
// runtime-only), so q2 files keep their row layout for every other reader.
//
// A strip of 16 rows holds one tile per 256 columns, left to right, 1056 bytes each (66 per row,
// as in q2): [16 f16 scales, rows 0..15][1024 code bytes]. The code bytes are 32 units of 32;
// unit u covers the tile's columns 8u .. 8u + 7: byte 16h + 2i holds the high code bits (plane 1)
// of row 8h + i and byte 16h + 2i + 1 its low bits (plane 0), bit k for column 8u + k. A weight
// is s * (2 * plane1 + plane0 - 1.5): the levels and scales of q2, bit for bit.
//
// Why: the product looks each half-byte up (pshufb) in a table of the 16 sums of 4 activations
// (low half-byte: columns 8u .. 8u + 3, high: 8u + 4 .. 8u + 7), one table serving 16 rows, and
// adds 2 * plane1 + plane0 with one multiply-add of byte pairs: 9 vector operations per 128
// weights where q2's int8 dot product takes 15 (docs/design.md, "A T-MAC lookup for q2").
#pragma once

#include <cstddef>
#include <cstdint>

#include "afm/tensor.h"

namespace afm::formats::q2_tiles {

constexpr size_t kRows = 16, kCols = 256;
constexpr size_t kScaleBytes = 2 * kRows, kCodeBytes = kRows * kCols / 4;
constexpr size_t kTileBytes = kScaleBytes + kCodeBytes;  // 1056 = 16 rows x 66 bytes
// Activation tables per tile: 1024 bytes for the low half-bytes, 1024 for the high ones.
constexpr size_t kTableBytes = 2 * kCodeBytes;

// The code (0..3) of row r, column c of a tile, by the layout's definition.
inline int code_at(const uint8_t* tile, size_t r, size_t c) {
  const uint8_t* unit = tile + kScaleBytes + 32 * (c / 8) + 16 * (r / 8) + 2 * (r % 8);
  const int bit = static_cast<int>(c % 8);
  return 2 * ((unit[0] >> bit) & 1) + ((unit[1] >> bit) & 1);
}

// Re-lays the 16 q2 rows at `rows` (row_bytes apart, cols a multiple of 256) as one strip of
// tiles at `strip`; the two must not overlap.
void tile_rows(const uint8_t* rows, size_t row_bytes, size_t cols, uint8_t* strip);

// Whether the lookup product is q2's faster decode kernel on this CPU: where the SIMD target
// the dispatcher chose has vectors narrower than 512 bits. Measured (docs/performance.md): on an
// AVX2 host that splits 256-bit integer ops the row kernel is compute-bound and the lookup
// decodes 1.3-1.4x faster; on an AVX-512 host the row kernel streams at the read ceiling and
// the lookup, reading its tables beside the codes, decodes about 0.85x as fast.
bool lookup_preferred();

// Whether tensor t is q2 and every matrix of it has rows in whole 16-row strips.
bool can_retile(const tensor& t);
// Re-lays q2 tensor t in place as afm_q2_tiles (same bytes in all) and sets its type and
// strides; t's data must be writable and can_retile(t) true.
void retile(tensor& t);

}  // namespace afm::formats::q2_tiles
