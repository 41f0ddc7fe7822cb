// The weight-format contract. Every format is one file in formats/ that fills one
// weight_format: how to encode from f32, decode to f32, and the fused matrix-vector product the
// decode step runs from the compressed bytes. Matrix-matrix products (prefill) decode panels
// through `decode` inside core's gemm, so a new format gets them for free and may later add its
// own. The registry (registry.cc) maps a tensor's dtype to its format.
#pragma once

#include <cstddef>
#include <cstdint>

#include "afm/dtype.h"
#include "afm/tensor.h"

namespace afm::formats {

struct weight_format {
  dtype type;
  const char* name;
  uint32_t block_elems;
  uint32_t block_bytes;

  // Encodes / decodes n elements (a multiple of block_elems) starting at a block boundary.
  void (*encode)(const float* src, size_t n, void* dst);
  void (*decode)(const void* src, size_t n, float* dst);

  // Activation layout matvec reads. When act_bytes is null it reads f32 x directly; otherwise
  // prepare_act converts x (cols floats) into act_bytes(cols) bytes once per product.
  size_t (*act_bytes)(size_t cols);
  void (*prepare_act)(const float* x, size_t cols, void* act);

  // y[r - r0] = dot(row r of W, x) for r in [r0, r1). W rows are row_bytes apart.
  void (*matvec)(const void* w, size_t row_bytes, size_t cols, const void* act, float* y, size_t r0,
                 size_t r1);

  // A tiled format (tile_rows > 1: astc, pal) instead has blocks spanning strips of tile_rows
  // rows, so it cannot encode, decode or multiply one row alone (encode, decode and matvec are
  // null). encode_matrix encodes a rows x cols matrix into strips (rows and cols padded up to
  // whole blocks); a strip holds its blocks left to right, block_bytes * tile_rows bytes each.
  // decode_strip decodes the blocks at `strip` covering cols columns into tile_rows x cols
  // floats, the block residuals, and each block's offset into offsets[cols / block_elems, rounded
  // up]: a weight is residual + its block's offset. Given a pointer to a later block it decodes
  // from there, so products decode a strip a chunk of blocks at a time. Products never add the
  // offsets back: formats/matmul.cc decodes into a cache-resident buffer and adds
  // offset * (sum of the block's inputs) to each row.
  uint32_t tile_rows = 1;
  void (*encode_matrix)(const float* src, size_t rows, size_t cols, void* dst) = nullptr;
  void (*decode_strip)(const void* strip, size_t cols, float* residual, float* offsets) = nullptr;
  // Optional fused product of a tiled format: y[r] = dot(row r of the strip, x) for its tile_rows
  // rows, offsets included, reading the blocks at `strip` covering cols columns without writing
  // decoded weights anywhere. `act` is x (cols floats) when act_bytes is null, else the layout
  // prepare_act made of x, once per product. Products of up to fused_tokens tokens use it (one
  // call per token and strip); more tokens decode strips into a cache-resident buffer.
  void (*matvec_strip)(const void* strip, size_t cols, const void* act, float* y) = nullptr;
  uint32_t fused_tokens = 0;
};

// The format of a dtype, or nullptr if afm has none.
const weight_format* find_format(dtype t);
// The format of a tensor; throws afm::error naming the tensor if it has none.
const weight_format& format_of(const tensor& t);

}  // namespace afm::formats
