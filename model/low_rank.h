// The SVD split of a matrix (PiSSA-style, report section 6 / docs/compression.md): its best
// rank-r part moves into a LoRA-shaped pair (A, B) kept in f16 beside the compressed rest, so
// the format only has to encode W_res = W - B A, whose largest directions are gone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace afm {

struct low_rank_split {
  size_t rank = 0;
  std::vector<float> a;  // rank x cols: sqrt(S) V^T, f16 values
  std::vector<float> b;  // rows x rank: U sqrt(S), f16 values
  std::vector<double> singular_values;
};

// Replaces the row-major rows x cols matrix w by W_res = W - B A, where B A is the product of
// W's top `rank` singular triplets (B = U sqrt(S), A = sqrt(S) V^T) with A and B rounded to f16;
// the subtraction uses the rounded factors, so W_res + B A gives W back up to f32 rounding.
// Singular triplets come from randomized subspace iteration (the range of W's top singular
// vectors, refined by power steps) and a Jacobi eigensolver on the small projected problem.
// Throws afm::error when rank exceeds min(rows, cols).
low_rank_split split_low_rank(float* w, size_t rows, size_t cols, size_t rank, uint64_t seed = 1);

}  // namespace afm
