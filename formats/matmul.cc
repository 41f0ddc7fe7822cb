// Dispatch of weight products to the format kernels (formats/format.h) and core's gemm.
#include "formats/matmul.h"

#include <algorithm>
#include <vector>

#include "core/kernels.h"
#include "formats/format.h"

namespace afm::formats {
namespace {

size_t blocks_across(const weight_format& f, size_t cols) {
  return (cols + f.block_elems - 1) / f.block_elems;
}

// Bytes of decoded weights a few tokens' products keep at once: half of a 32 KiB L1.
constexpr size_t kTiledChunkBytes = 16u << 10;

// Rows a thread takes at least at a time in a fused matvec: four stripes of four rows.
constexpr size_t kMatvecRowGrain = 16;

// Activations of n tokens in the layout f's matvec reads, in this thread's buffers (workers read
// them by pointer: they see their own thread_local objects).
const void* const* prepare_acts(const weight_format& f, const float* x, size_t ldx, size_t n,
                                size_t cols) {
  static thread_local std::vector<uint8_t> act_buf;
  static thread_local std::vector<const void*> act_list;
  const size_t ab = f.act_bytes ? f.act_bytes(cols) : 0;
  act_list.resize(n);
  if (ab) act_buf.resize(n * ab);
  for (size_t t = 0; t < n; ++t) {
    if (ab) {
      f.prepare_act(x + t * ldx, cols, act_buf.data() + t * ab);
      act_list[t] = act_buf.data() + t * ab;
    } else {
      act_list[t] = x + t * ldx;
    }
  }
  return act_list.data();
}

// Whether n tokens' products with tiled format f run its fused strip product.
bool fused_strips(const weight_format& f, size_t n) {
  return f.matvec_strip != nullptr && n <= f.fused_tokens;
}

// Strips [s0, s1) of tiled w (rows rows) times each of n prepared activations: every token reads
// a strip while it is in cache.
void strip_products(const weight_format& f, const uint8_t* w, size_t strip_bytes, size_t rows,
                    size_t cols, const void* const* acts, size_t n, float* y, size_t ldy, size_t s0,
                    size_t s1) {
  const size_t tile = f.tile_rows;
  thread_local std::vector<float> part;
  part.resize(tile);
  for (size_t s = s0; s < s1; ++s)
    for (size_t t = 0; t < n; ++t) {
      f.matvec_strip(w + s * strip_bytes, cols, acts[t], part.data());
      for (size_t r = s * tile; r < std::min(rows, (s + 1) * tile); ++r)
        y[t * ldy + r] = part[r - s * tile];
    }
}

// A tiled format (astc, pal): strips decode into the thread's buffer, which stays in cache while
// every token reads it, then each block's offset enters every row of its strip as
// offset * (sum of the token's inputs over the block's columns). A strip holds its blocks left
// to right, block_bytes * tile_rows bytes each (formats/format.h), so a few tokens decode it a
// chunk of blocks at a time into an L1-sized buffer; more tokens decode whole strips for gemm.
// A format with a fused strip product runs that instead for up to its fused_tokens tokens.
void matmul_tiled(const weight_format& f, const tensor& w, const float* x, size_t ldx, size_t n,
                  float* y, size_t ldy, thread_pool& pool) {
  const size_t rows = static_cast<size_t>(w.rows()), cols = static_cast<size_t>(w.cols());
  const size_t tile = f.tile_rows, nbx = blocks_across(f, cols);
  const size_t strips = (rows + tile - 1) / tile, strip_bytes = w.row_bytes() * tile;
  const bool few = n <= kMatvecMaxRows;
  // A fused strip product reads the codes once per token and adds its own offsets.
  if (fused_strips(f, n)) {
    const void* const* acts = prepare_acts(f, x, ldx, n, cols);
    pool.parallel_for_dynamic(strips, 1, [&](size_t s0, size_t s1) {
      strip_products(f, static_cast<const uint8_t*>(w.data), strip_bytes, rows, cols, acts, n, y,
                     ldy, s0, s1);
    });
    return;
  }
  static thread_local std::vector<float> sums_buf;
  sums_buf.assign(n * nbx, 0.0f);
  float* sums = sums_buf.data();  // workers read this thread's buffer by pointer
  for (size_t t = 0; t < n; ++t)
    for (size_t c = 0; c < cols; ++c) sums[t * nbx + c / f.block_elems] += x[t * ldx + c];
  static const weight_format& f32 = *find_format(dtype::f32);
  const size_t chunk_blocks =
      std::max<size_t>(1, kTiledChunkBytes / (tile * f.block_elems * sizeof(float)));
  const size_t chunk = few ? std::min(cols, chunk_blocks * f.block_elems) : cols;
  // Several tokens decode several strips at once, so gemm gets panels of some height.
  const size_t group = few ? 1 : 8;
  pool.parallel_for_dynamic(strips, group, [&](size_t s0, size_t s1) {
    thread_local std::vector<float> residual, offsets, part;
    part.resize(tile);
    for (size_t s = s0; s < s1; s += group) {
      const size_t g = std::min(group, s1 - s), r0 = s * tile, r1 = std::min(rows, (s + g) * tile);
      residual.resize(g * tile * chunk);
      offsets.resize(g * nbx);
      if (few) {
        const uint8_t* strip = static_cast<const uint8_t*>(w.data) + s * strip_bytes;
        for (size_t c0 = 0; c0 < cols; c0 += chunk) {
          const size_t width = std::min(chunk, cols - c0), b0 = c0 / f.block_elems;
          f.decode_strip(strip + b0 * f.block_bytes * tile, width, residual.data(),
                         offsets.data() + b0);
          for (size_t t = 0; t < n; ++t) {  // the f32 format's matvec: four rows at a time
            f32.matvec(residual.data(), width * sizeof(float), width, x + t * ldx + c0, part.data(),
                       0, r1 - r0);
            for (size_t r = r0; r < r1; ++r)
              y[t * ldy + r] = c0 == 0 ? part[r - r0] : y[t * ldy + r] + part[r - r0];
          }
        }
      } else {
        for (size_t i = 0; i < g; ++i)
          f.decode_strip(static_cast<const uint8_t*>(w.data) + (s + i) * strip_bytes, cols,
                         residual.data() + i * tile * cols, offsets.data() + i * nbx);
        const kernels::gemm_weights gw{
            residual.data(), cols * sizeof(float), r1 - r0, cols, 1, sizeof(float), nullptr};
        kernels::gemm(x, ldx, n, gw, y + r0, ldy, 0, r1 - r0);
      }
      for (size_t t = 0; t < n; ++t)
        for (size_t i = 0; i < g; ++i) {
          const float o = kernels::dot(offsets.data() + i * nbx, sums + t * nbx, nbx);
          for (size_t r = (s + i) * tile; r < std::min(r1, (s + i + 1) * tile); ++r)
            y[t * ldy + r] += o;
        }
    }
  });
}

// Rows [r0, r1) of one matrix of a tiled format, offsets added back (r0 starts a strip).
void decode_strips(const weight_format& f, const uint8_t* m, size_t row_bytes, size_t cols,
                   size_t rows, size_t r0, size_t r1, float* dst) {
  const size_t tile = f.tile_rows, nbx = blocks_across(f, cols);
  std::vector<float> residual(tile * cols), offsets(nbx);
  for (size_t s = r0 / tile; s * tile < r1; ++s) {
    f.decode_strip(m + s * tile * row_bytes, cols, residual.data(), offsets.data());
    for (size_t r = std::max(r0, s * tile); r < std::min({r1, rows, (s + 1) * tile}); ++r)
      for (size_t c = 0; c < cols; ++c)
        dst[(r - r0) * cols + c] = residual[(r - s * tile) * cols + c] + offsets[c / f.block_elems];
  }
}

// Rows [r0, r1) of w times each of n prepared activations, over stripes of rows small enough to
// stay in cache while every token reads them, so the weights stream from memory once and nothing
// is packed (gemm's panels cost as much for 2 tokens as for 200).
void matvec_rows(const weight_format& f, const tensor& w, const void* const* acts, size_t n,
                 float* y, size_t ldy, size_t r0, size_t r1) {
  const size_t cols = static_cast<size_t>(w.cols());
  const size_t stripe = n == 1 ? r1 - r0 : std::max<size_t>(4, (32u << 10) / w.row_bytes());
  for (size_t s = r0; s < r1; s += stripe) {
    const size_t e = std::min(r1, s + stripe);
    for (size_t t = 0; t < n; ++t)
      f.matvec(w.data, w.row_bytes(), cols, acts[t], y + t * ldy + s, s, e);
  }
}

}  // namespace

// The product of w alone, without its low-rank part.
static void matmul_base(const tensor& w, const float* x, size_t ldx, size_t n, float* y, size_t ldy,
                        thread_pool& pool) {
  const weight_format& f = format_of(w);
  if (f.tile_rows > 1) return matmul_tiled(f, w, x, ldx, n, y, ldy, pool);
  const size_t rows = static_cast<size_t>(w.rows()), cols = static_cast<size_t>(w.cols());
  if (n <= kMatvecMaxRows) {  // a few tokens: the format's fused matvec per token
    const void* const* acts = prepare_acts(f, x, ldx, n, cols);
    pool.parallel_for_dynamic(rows, kMatvecRowGrain, [&](size_t r0, size_t r1) {
      matvec_rows(f, w, acts, n, y, ldy, r0, r1);
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
  pool.parallel_for_dynamic(
      rows, 32, [&](size_t r0, size_t r1) { kernels::gemm(x, ldx, n, gw, y, ldy, r0, r1); });
}

void matmul(const tensor& w, const float* x, size_t ldx, size_t n, float* y, size_t ldy,
            thread_pool& pool) {
  matmul_base(w, x, ldx, n, y, ldy, pool);
  if (!w.lora_a) return;
  // y += B (A x): rank-sized intermediates, so the low-rank part costs (rows + cols) rank.
  const size_t rank = static_cast<size_t>(w.lora_a->rows()), rows = static_cast<size_t>(w.rows());
  static thread_local std::vector<float> ax, bax;
  ax.resize(n * rank);
  bax.resize(n * rows);
  matmul_base(*w.lora_a, x, ldx, n, ax.data(), rank, pool);
  matmul_base(*w.lora_b, ax.data(), rank, n, bax.data(), rows, pool);
  for (size_t t = 0; t < n; ++t) kernels::add(y + t * ldy, bax.data() + t * rows, rows);
}

void matmul_shared(std::initializer_list<product> ps, const float* x, size_t ldx, size_t n,
                   thread_pool& pool) {
  const tensor& w0 = *ps.begin()->w;
  const weight_format& f = format_of(w0);
  const bool tiled = f.tile_rows > 1;
  bool one_loop = n <= kMatvecMaxRows && (!tiled || fused_strips(f, n));
  for (const product& p : ps)
    one_loop = one_loop && p.w->type == w0.type && p.w->cols() == w0.cols() && !p.w->lora_a;
  if (!one_loop) {
    for (const product& p : ps) matmul(*p.w, x, ldx, n, p.y, p.ldy, pool);
    return;
  }
  const size_t cols = static_cast<size_t>(w0.cols());
  const void* const* acts = prepare_acts(f, x, ldx, n, cols);
  // The products' rows end to end, a unit (kMatvecRowGrain rows, or a tiled format's strip) at a
  // time: threads take chunks of them as they finish (a chunk may end in the next product), so no
  // thread waits on one that another tenant slowed.
  const size_t unit_rows = tiled ? f.tile_rows : kMatvecRowGrain;
  auto units_of = [unit_rows](const product& p) {
    return (static_cast<size_t>(p.w->rows()) + unit_rows - 1) / unit_rows;
  };
  size_t units = 0;
  for (const product& p : ps) units += units_of(p);
  pool.parallel_for_dynamic(units, 1, [&](size_t u0, size_t u1) {
    size_t b = 0;  // the first unit of p
    for (const product& p : ps) {
      const size_t e = b + units_of(p), lo = std::max(u0, b), hi = std::min(u1, e);
      const size_t rows = static_cast<size_t>(p.w->rows());
      if (lo < hi && tiled)
        strip_products(f, static_cast<const uint8_t*>(p.w->data), p.w->row_bytes() * unit_rows,
                       rows, cols, acts, n, p.y, p.ldy, lo - b, hi - b);
      else if (lo < hi)
        matvec_rows(f, *p.w, acts, n, p.y, p.ldy, (lo - b) * unit_rows,
                    std::min(rows, (hi - b) * unit_rows));
      b = e;
    }
  });
}

void decode_row(const tensor& w, int64_t r, float* dst) {
  const weight_format& f = format_of(w);
  const size_t cols = static_cast<size_t>(w.cols()), row = static_cast<size_t>(r);
  if (f.tile_rows == 1) return f.decode(w.row(r), cols, dst);
  const size_t per = static_cast<size_t>(w.ne[1]), start = row / per * per;  // its matrix
  const size_t first = (row - start) / f.tile_rows * f.tile_rows;
  std::vector<float> strip(f.tile_rows * cols);
  decode_strips(f, static_cast<const uint8_t*>(w.data) + row / per * w.nb[2], w.row_bytes(), cols,
                per, first, std::min(per, first + f.tile_rows), strip.data());
  std::copy_n(strip.data() + (row - start - first) * cols, cols, dst);
}

void decode_tensor(const tensor& w, float* dst, thread_pool& pool) {
  const weight_format& f = format_of(w);
  const size_t cols = static_cast<size_t>(w.cols()), per = static_cast<size_t>(w.ne[1]);
  const size_t matrices = static_cast<size_t>(w.ne[2] * w.ne[3]), tile = f.tile_rows;
  for (size_t m = 0; m < matrices; ++m) {
    const uint8_t* src = static_cast<const uint8_t*>(w.data) + m * w.nb[2];
    float* out = dst + m * per * cols;
    pool.parallel_for((per + tile - 1) / tile, 4, [&](size_t s0, size_t s1) {
      if (tile > 1)
        return decode_strips(f, src, w.row_bytes(), cols, per, s0 * tile, s1 * tile,
                             out + s0 * tile * cols);
      for (size_t r = s0; r < s1; ++r) f.decode(src + r * w.row_bytes(), cols, out + r * cols);
    });
  }
}

void encode_tensor(const weight_format& f, const float* src, const int64_t* ne, int n_dims,
                   void* dst, thread_pool& pool) {
  const size_t cols = static_cast<size_t>(ne[0]), row_bytes = dtype_bytes(f.type, cols);
  size_t per = n_dims > 1 ? static_cast<size_t>(ne[1]) : 1, matrices = 1;
  for (int d = 2; d < n_dims; ++d) matrices *= static_cast<size_t>(ne[d]);
  const size_t tile = f.tile_rows, padded = (per + tile - 1) / tile * tile;
  for (size_t m = 0; m < matrices; ++m) {
    const float* in = src + m * per * cols;
    uint8_t* out = static_cast<uint8_t*>(dst) + m * padded * row_bytes;
    pool.parallel_for(padded / tile, tile > 1 ? 1 : 16, [&](size_t s0, size_t s1) {
      if (tile > 1)
        return f.encode_matrix(in + s0 * tile * cols, std::min(per, s1 * tile) - s0 * tile, cols,
                               out + s0 * tile * row_bytes);
      for (size_t r = s0; r < s1; ++r) f.encode(in + r * cols, cols, out + r * row_bytes);
    });
  }
}

}  // namespace afm::formats
