// Dispatch of weight products to the format kernels (formats/format.h) and core's gemm.
#include "formats/matmul.h"

#include <algorithm>
#include <vector>

#include "core/kernels.h"
#include "formats/format.h"

namespace afm::formats {

void matmul(const tensor& w, const float* x, size_t ldx, size_t n, float* y, size_t ldy,
            thread_pool& pool) {
  const weight_format& f = format_of(w);
  const size_t rows = static_cast<size_t>(w.rows()), cols = static_cast<size_t>(w.cols());
  if (n <= kMatvecMaxRows) {
    // A few tokens: the format's fused matvec per token, over stripes of rows small enough to
    // stay in cache while every token reads them, so the weights stream from memory once and
    // nothing is packed (gemm's panels cost as much for 2 tokens as for 200).
    static thread_local std::vector<uint8_t> act_buf;
    const size_t ab = f.act_bytes ? f.act_bytes(cols) : 0;
    static thread_local std::vector<const void*> act_list;
    act_list.resize(n);
    // Workers see their own thread_local objects: they read this thread's list by pointer.
    const void** acts = act_list.data();
    if (ab) act_buf.resize(n * ab);
    for (size_t t = 0; t < n; ++t) {
      if (ab) {
        f.prepare_act(x + t * ldx, cols, act_buf.data() + t * ab);
        acts[t] = act_buf.data() + t * ab;
      } else {
        acts[t] = x + t * ldx;
      }
    }
    const size_t stripe = n == 1 ? rows : std::max<size_t>(4, (32u << 10) / w.row_bytes());
    pool.parallel_for(rows, 16, [&](size_t r0, size_t r1) {
      for (size_t s = r0; s < r1; s += stripe) {
        const size_t e = std::min(r1, s + stripe);
        for (size_t t = 0; t < n; ++t)
          f.matvec(w.data, w.row_bytes(), cols, acts[t], y + t * ldy + s, s, e);
      }
    });
    return;
  }
  const kernels::gemm_weights gw{w.data,
                                 w.row_bytes(),
                                 rows,
                                 cols,
                                 f.block_elems,
                                 f.block_bytes,
                                 w.type == dtype::f32 ? nullptr : f.decode};
  pool.parallel_for(rows, 32,
                    [&](size_t r0, size_t r1) { kernels::gemm(x, ldx, n, gw, y, ldy, r0, r1); });
}

void decode_row(const tensor& w, int64_t r, float* dst) {
  format_of(w).decode(w.row(r), static_cast<size_t>(w.cols()), dst);
}

}  // namespace afm::formats
