// Element types of tensors. The numeric values are GGML's type ids, so a GGUF tensor's type
// field maps to this enum directly; types afm cannot run are still known by name and size so
// that a file using them is rejected with a clear message instead of being misread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace afm {

enum class dtype : uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  bf16 = 30,
  // afm's own formats, outside GGML's id range (docs/model-format.md).
  afm_q2 = 1000,    // 2-bit balanced bit planes, formats/q2.cc
  afm_q4 = 1001,    // 4-bit balanced bit planes, formats/q4.cc
  afm_astc = 1002,  // ASTC 6x6 HDR blocks with f16 block floors, formats/astc.cc
  afm_pal2 = 1003,  // 2-bit palettes per 16 x 256 tile, formats/pal2.cc
  afm_pal4 = 1004,  // 4-bit palettes per 16 x 256 tile, formats/pal4.cc
  // Runtime-only: q2 codes re-laid in place at load into 16-row tiles for the lookup kernel
  // (formats/q2_tiles.cc). No file holds it; readers and writers refuse it.
  afm_q2_tiles = 1100,
};

// Storage layout of a type: `block_elems` elements of a row take `block_bytes` bytes.
//
// A tiled type (tile_rows > 1: afm_astc, afm_pal2, afm_pal4) stores each matrix as strips of
// tile_rows rows whose blocks span all of them; block_elems is then a block's width and block_bytes
// its share per row (a 6x6 ASTC block with its floor is 18 bytes: 3 per row), so rows stay `nb[1]`
// apart in address arithmetic as long as one starts a strip. Rows and columns are padded up to
// whole blocks, per matrix (tensor_bytes).
struct dtype_layout {
  const char* name;
  uint32_t block_elems;
  uint32_t block_bytes;
  uint32_t tile_rows = 1;
  bool runtime_only = false;  // a memory layout only: never read from or written to a file
};

// Returns nullptr for an id that is not a known GGML type.
const dtype_layout* find_dtype_layout(uint32_t id);
// Name of a type, or "type#N" for an unknown id.
std::string dtype_name(dtype t);
// Parses "f32", "bf16", "f16", "q8" / "q8_0", "q4", "q2", "astc", "pal2", "pal4"; throws afm::error
// otherwise.
dtype parse_dtype(const std::string& name);
// Bytes taken by `n` elements (n must be a multiple of the block size; throws otherwise). For a
// tiled type, n is one row's columns, padded up to whole blocks: the row's share of its strip.
size_t dtype_bytes(dtype t, uint64_t n);
// Rows per strip of a tiled type (1 for every other type).
uint32_t dtype_tile_rows(dtype t);
// Bytes of a whole tensor of dims ne (GGML order), with a tiled type's padding.
size_t tensor_bytes(dtype t, const int64_t* ne, int n_dims);

// IEEE half and bfloat16 scalar conversions (round to nearest even).
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
inline float bf16_to_f32(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t f32_to_bf16(float f);

}  // namespace afm
