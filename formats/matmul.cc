// Dispatch of weight products to the format kernels (formats/format.h) and core's gemm.
#include "formats/matmul.h"

#include <vector>

#include "core/kernels.h"
#include "formats/format.h"

namespace afm::formats {

void matmul(const tensor& w, const float* x, size_t ldx, size_t n, float* y, size_t ldy,
            thread_pool& pool) {
  const weight_format& f = format_of(w);
  const size_t rows = static_cast<size_t>(w.rows()), cols = static_cast<size_t>(w.cols());
  if (n == 1) {
    const void* act = x;
    static thread_local std::vector<uint8_t> act_buf;
    if (f.act_bytes) {
      act_buf.resize(f.act_bytes(cols));
      f.prepare_act(x, cols, act_buf.data());
      act = act_buf.data();
    }
    pool.parallel_for(rows, 16, [&](size_t r0, size_t r1) {
      f.matvec(w.data, w.row_bytes(), cols, act, y + r0, r0, r1);
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
