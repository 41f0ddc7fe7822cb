// afm::tensor — a view of an n-dimensional array over memory owned elsewhere (an mmap'd model
// file, an arena). Dimensions follow GGML's order: ne[0] is the innermost (contiguous) one, so a
// weight matrix with `rows` outputs and `cols` inputs has ne = {cols, rows}.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "afm/dtype.h"

namespace afm {

struct tensor {
  void* data = nullptr;
  dtype type = dtype::f32;
  int n_dims = 0;
  std::array<int64_t, 4> ne{1, 1, 1, 1};  // elements per dimension
  std::array<size_t, 4> nb{0, 0, 0, 0};   // bytes between consecutive indices of each dimension
  std::string name;
  // An additive low-rank part, when the file has one (an astc SVD split or a recovery adapter,
  // docs/compression.md): the matrix is W + B A, A of rank x cols and B of rows x rank, and
  // products compute W x + B (A x). Both point into storage the model owns.
  const tensor* lora_a = nullptr;
  const tensor* lora_b = nullptr;

  bool empty() const { return data == nullptr; }
  int64_t cols() const { return ne[0]; }
  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
  int64_t elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  size_t row_bytes() const { return nb[1]; }
  size_t bytes() const { return tensor_bytes(type, ne.data(), 4); }
  const uint8_t* row(int64_t r) const { return static_cast<const uint8_t*>(data) + r * nb[1]; }
};

// Sets nb[] for a contiguous layout of t.type and t.ne (GGML's convention: nb[0] is one block).
void set_contiguous_strides(tensor& t);

// A contiguous tensor view with the given dims (GGML order) over `data`.
tensor make_tensor(void* data, dtype type, std::initializer_list<int64_t> dims,
                   std::string name = {});

}  // namespace afm
