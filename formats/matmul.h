// Products of a weight tensor, in whatever format it is stored, with f32 activations, split
// across the thread pool. One token runs the format's fused matvec straight from the
// compressed bytes; several tokens run core's gemm, which decodes panels as it goes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "afm/tensor.h"
#include "afm/thread_pool.h"
#include "formats/format.h"

namespace afm::formats {

// Up to this many tokens take the matvec path (measured crossover with gemm: docs/performance.md).
inline constexpr size_t kMatvecMaxRows = 24;

// y[t][r] = dot(row r of w, x[t]) for t < n. x rows are ldx floats apart, y rows ldy.
void matmul(const tensor& w, const float* x, size_t ldx, size_t n, float* y, size_t ldy,
            thread_pool& pool);

// One of several products that share their input (matmul_shared): y = w x, rows ldy floats apart.
struct product {
  const tensor* w;
  float* y;
  size_t ldy;
};

// The products of several weights with the same x (Q, K and V; gate and up). When they are all
// of one row-wise format and few tokens run, x is prepared once and one parallel loop covers the
// rows of every weight, so a decode step pays one synchronisation for them all instead of one
// each; otherwise each runs as matmul. ps is not empty.
void matmul_shared(std::initializer_list<product> ps, const float* x, size_t ldx, size_t n,
                   thread_pool& pool);

// Decodes row r of w (w.cols() values) into dst: the embedding lookup.
void decode_row(const tensor& w, int64_t r, float* dst);

// Decodes all of w (w.elements() floats, row after row; a tiled format's offsets added back).
void decode_tensor(const tensor& w, float* dst, thread_pool& pool);
// Encodes src (the elements of a tensor of dims ne, row after row) in format f into dst, which
// holds tensor_bytes(f.type, ne, n_dims) bytes.
void encode_tensor(const weight_format& f, const float* src, const int64_t* ne, int n_dims,
                   void* dst, thread_pool& pool);

}  // namespace afm::formats
