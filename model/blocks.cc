// Implementation of the shared blocks in model/blocks.h over core kernels and formats.
#include "model/blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "afm/error.h"
#include "core/kernels.h"
#include "formats/format.h"
#include "formats/matmul.h"

namespace afm::blocks {

void embed(const tensor& tok_embd, const int32_t* tokens, size_t n, float* x, thread_pool& pool) {
  const int64_t vocab = tok_embd.rows();
  const size_t d = static_cast<size_t>(tok_embd.cols());
  for (size_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      fail("token id ", tokens[i], " at position ", i, " is outside the vocabulary [0, ", vocab,
           ")");
  pool.parallel_for(n, 1, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) formats::decode_row(tok_embd, tokens[i], x + i * d);
  });
}

void rms_norm_rows(const float* x, const tensor& w, float* y, size_t n, size_t d, float eps,
                   thread_pool& pool) {
  const float* wv = static_cast<const float*>(w.data);
  pool.parallel_for(n, 8, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) kernels::rms_norm(x + i * d, wv, y + i * d, d, eps);
  });
}

void rope_rows(const model& m, float* x, size_t n, size_t n_heads, size_t pos0, thread_pool& pool) {
  const size_t hd = static_cast<size_t>(m.cfg.head_dim), half = hd / 2;
  const auto style = static_cast<kernels::rope_style>(m.cfg.rope);
  pool.parallel_for(n, 16, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const size_t p = pos0 + i;
      kernels::rope(x + i * n_heads * hd, n_heads, hd, m.rope_cos.data() + p * half,
                    m.rope_sin.data() + p * half, style);
    }
  });
}

void store_kv(const kv_view& kv, const float* k, const float* v, size_t n, size_t pos0,
              size_t n_kv_heads, size_t head_dim) {
  const bool fits = pos0 + n <= kv.capacity;  // no slot is reused
  if (!fits && kv.window == 0)
    fail("context overflow: positions up to ", pos0 + n, " exceed the KV cache of ", kv.capacity);
  // A ring may reuse slots, but not ones the batch's first query still reads.
  if (!fits && n + kv.window - 1 > kv.capacity)
    fail("a batch of ", n, " positions overflows a sliding-window ring buffer of ", kv.capacity,
         " slots for a window of ", kv.window);
  const size_t row = n_kv_heads * head_dim;
  for (size_t i = 0; i < n; ++i)
    for (size_t h = 0; h < n_kv_heads; ++h) {
      const size_t slot = h * kv.capacity + (pos0 + i) % kv.capacity, dst = slot * head_dim;
      const float* ks = k + i * row + h * head_dim;
      const float* vs = v + i * row + h * head_dim;
      if (kv.k8) {
        kv.k_scale[slot] = kernels::quantize_i8(ks, head_dim, kv.k8 + dst);
        kv.v_scale[slot] = kernels::quantize_i8(vs, head_dim, kv.v8 + dst);
      } else {
        std::memcpy(kv.k + dst, ks, head_dim * sizeof(float));
        std::memcpy(kv.v + dst, vs, head_dim * sizeof(float));
      }
    }
}

void attend(const model_config& c, const kv_view& kv, const float* q, size_t n, size_t pos0,
            float* out, thread_pool& pool) {
  attend_heads(c, kv, 0, static_cast<size_t>(c.n_kv_heads), q, n, pos0, out, pool);
}

void attend_heads(const model_config& c, const kv_view& kv, size_t kv_first, size_t kv_count,
                  const float* q, size_t n, size_t pos0, float* out, thread_pool& pool) {
  const size_t hd = static_cast<size_t>(c.head_dim);
  const size_t heads = kv_count * static_cast<size_t>(c.n_heads / c.n_kv_heads);
  const kv_view v = kv_heads_from(kv, kv_first, hd);
  kernels::attention_args a{q,
                            heads * hd,
                            v.k,
                            v.v,
                            kv.capacity * hd,
                            out,
                            heads * hd,
                            heads,
                            kv_count,
                            hd,
                            n,
                            pos0,
                            1.0f / std::sqrt(static_cast<float>(hd)),
                            kv.window,
                            kv.capacity};
  a.k8 = v.k8;
  a.v8 = v.v8;
  a.k_scale = v.k_scale;
  a.v_scale = v.v_scale;
  const size_t max_keys = kv.window ? std::min(kv.window, pos0 + n) : pos0 + n;
  pool.parallel_for(n * a.n_heads, 1, [&](size_t b, size_t e) {
    static thread_local std::vector<float> scores;
    if (scores.size() < max_keys) scores.resize(max_keys);
    kernels::attention(a, b, e, scores.data());
  });
}

kv_view kv_heads_from(const kv_view& kv, size_t first, size_t head_dim) {
  kv_view v = kv;
  if (kv.k8) {
    v.k8 += first * kv.capacity * head_dim;
    v.v8 += first * kv.capacity * head_dim;
    v.k_scale += first * kv.capacity;
    v.v_scale += first * kv.capacity;
  } else {
    v.k += first * kv.capacity * head_dim;
    v.v += first * kv.capacity * head_dim;
  }
  return v;
}

void ffn_swiglu(const tensor& w_gate, const tensor& w_up, const tensor& w_down, const float* xn,
                size_t n, float* gate, float* up, float* x, thread_pool& pool) {
  const size_t d = static_cast<size_t>(w_gate.cols()), ff = static_cast<size_t>(w_gate.rows());
  formats::matmul_shared({{&w_gate, gate, ff}, {&w_up, up, ff}}, xn, d, n, pool);
  pool.parallel_for(n * ff, 4096, [&](size_t b, size_t e) {
    kernels::swiglu(gate + b, up + b, gate + b, e - b);
  });
  project_add(w_down, gate, n, up, x, pool);
}

void project_add(const tensor& w, const float* in, size_t n, float* tmp, float* x,
                 thread_pool& pool) {
  const size_t k = static_cast<size_t>(w.cols()), m = static_cast<size_t>(w.rows());
  formats::matmul(w, in, k, n, tmp, m, pool);
  kernels::add(x, tmp, n * m);
}

tensor matrix_of(const tensor& stack, int64_t e) {
  tensor m = stack;
  m.n_dims = 2;
  m.ne = {stack.ne[0], stack.ne[1], 1, 1};
  m.data = static_cast<uint8_t*>(stack.data) + static_cast<size_t>(e) * stack.nb[2];
  set_contiguous_strides(m);
  return m;
}

tensor rows_of(const tensor& w, int64_t first, int64_t count) {
  if (w.lora_a) fail("tensor '", w.name, "' has a low-rank part: it cannot be split by rows");
  const int64_t tile = dtype_tile_rows(w.type);
  if (first % tile != 0 || (count % tile != 0 && first + count != w.rows()))
    fail("tensor '", w.name, "': rows [", first, ", ", first + count, ") do not fall on its ",
         dtype_name(w.type), " strips of ", tile, " rows");
  tensor m = w;
  m.ne = {w.ne[0], count, 1, 1};
  m.n_dims = 2;
  m.data = const_cast<uint8_t*>(w.row(first));
  return m;
}

tensor cols_of(const tensor& w, int64_t first, int64_t count) {
  const auto* f = formats::find_format(w.type);
  const int64_t block = f ? static_cast<int64_t>(f->block_elems) : 1;
  if (w.lora_a) fail("tensor '", w.name, "' has a low-rank part: it cannot be split by columns");
  if (dtype_tile_rows(w.type) > 1)  // a strip's blocks span all its rows: no column view
    fail("tensor '", w.name, "': ", dtype_name(w.type), " cannot be split by columns");
  if (!f || first % block != 0 || count % block != 0)
    fail("tensor '", w.name, "': columns [", first, ", ", first + count,
         ") do not fall on its format's blocks of ", block);
  tensor m = w;
  m.ne = {count, w.ne[1] * w.ne[2] * w.ne[3], 1, 1};
  m.n_dims = 2;
  m.data = static_cast<uint8_t*>(w.data) + first / block * f->block_bytes;
  return m;  // nb[1] stays the full row's stride
}

size_t moe_scratch_floats(const model_config& c, size_t n) {
  const size_t E = static_cast<size_t>(c.n_experts), k = static_cast<size_t>(c.n_experts_used);
  const size_t d = static_cast<size_t>(c.d_model), ff = static_cast<size_t>(c.expert_ff);
  // int32 arrays take one float slot per entry; each array is rounded up to 16 floats.
  return n * E + 4 * n * k + n * k * (2 * d + 2 * ff) + 9 * 16;
}

moe_scratch carve_moe_scratch(const model_config& c, size_t n, float* p) {
  const size_t E = static_cast<size_t>(c.n_experts), k = static_cast<size_t>(c.n_experts_used);
  const size_t d = static_cast<size_t>(c.d_model), ff = static_cast<size_t>(c.expert_ff);
  auto take = [&](size_t count) {
    float* r = p;
    p += (count + 15) / 16 * 16;
    return r;
  };
  static_assert(sizeof(int32_t) == sizeof(float));
  moe_scratch s{};
  s.probs = take(n * E);
  s.choice = reinterpret_cast<int32_t*>(take(n * k));
  s.weight = take(n * k);
  s.slot = reinterpret_cast<int32_t*>(take(n * k));
  s.row_of = reinterpret_cast<int32_t*>(take(n * k));
  s.xe = take(n * k * d);
  s.gate = take(n * k * ff);
  s.up = take(n * k * ff);
  s.ye = take(n * k * d);
  return s;
}

void moe_swiglu(const model_config& c, const layer_weights& L, const float* xn, size_t n,
                const moe_scratch& s, float* x, uint64_t* load, thread_pool& pool, size_t e_first,
                size_t e_end) {
  const size_t E = static_cast<size_t>(c.n_experts), k = static_cast<size_t>(c.n_experts_used);
  const size_t d = static_cast<size_t>(c.d_model), ff = static_cast<size_t>(c.expert_ff);
  // Route: softmax over E router logits, keep the k largest.
  formats::matmul(L.router, xn, d, n, s.probs, E, pool);
  pool.parallel_for(n, 16, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      float* p = s.probs + i * E;
      kernels::softmax(p, E);
      int32_t* ch = s.choice + i * k;
      float* w = s.weight + i * k;
      float sum = 0.0f;
      for (size_t j = 0; j < k; ++j) {
        size_t best = E;
        for (size_t x_e = 0; x_e < E; ++x_e) {
          bool taken = false;
          for (size_t q = 0; q < j; ++q) taken = taken || ch[q] == static_cast<int32_t>(x_e);
          if (!taken && (best == E || p[x_e] > p[best])) best = x_e;
        }
        ch[j] = static_cast<int32_t>(best);
        w[j] = p[best];
        sum += w[j];
      }
      if (c.moe_renorm)
        for (size_t j = 0; j < k; ++j) w[j] /= sum;
    }
  });
  // Group: a stable counting sort of the n * k (row, choice) pairs by expert.
  std::vector<size_t> start(E + 1, 0);
  for (size_t a = 0; a < n * k; ++a) ++start[static_cast<size_t>(s.choice[a]) + 1];
  e_end = std::min(e_end, E);
  for (size_t e = 0; e < E; ++e) {
    if (load && e >= e_first && e < e_end) load[e] += start[e + 1];
    start[e + 1] += start[e];
  }
  std::vector<size_t> next(start.begin(), start.end() - 1);
  for (size_t a = 0; a < n * k; ++a) {
    const size_t slot = next[static_cast<size_t>(s.choice[a])]++;
    s.slot[a] = static_cast<int32_t>(slot);
    s.row_of[slot] = static_cast<int32_t>(a / k);
  }
  // Only the slice's rows: sorted slots [start[e_first], start[e_end]).
  const size_t lo = start[e_first], hi = start[e_end];
  pool.parallel_for(hi - lo, 8, [&](size_t b, size_t e) {
    for (size_t r = lo + b; r < lo + e; ++r)
      std::memcpy(s.xe + r * d, xn + static_cast<size_t>(s.row_of[r]) * d, d * sizeof(float));
  });
  // One SwiGLU product per expert over exactly the rows routed to it: nothing is dropped.
  for (size_t e = e_first; e < e_end; ++e) {
    const size_t r0 = start[e], rows = start[e + 1] - r0;
    if (rows == 0) continue;
    const int64_t ie = static_cast<int64_t>(e);
    const tensor gate = matrix_of(L.gate_exps, ie), up = matrix_of(L.up_exps, ie);
    formats::matmul_shared({{&gate, s.gate + r0 * ff, ff}, {&up, s.up + r0 * ff, ff}},
                           s.xe + r0 * d, d, rows, pool);
  }
  pool.parallel_for((hi - lo) * ff, 4096, [&](size_t b, size_t e) {
    kernels::swiglu(s.gate + lo * ff + b, s.up + lo * ff + b, s.gate + lo * ff + b, e - b);
  });
  for (size_t e = e_first; e < e_end; ++e) {
    const size_t r0 = start[e], rows = start[e + 1] - r0;
    if (rows == 0) continue;
    formats::matmul(matrix_of(L.down_exps, static_cast<int64_t>(e)), s.gate + r0 * ff, ff, rows,
                    s.ye + r0 * d, d, pool);
  }
  // Scatter back: each row adds its k weighted expert outputs, best choice first.
  pool.parallel_for(n, 4, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i)
      for (size_t j = 0; j < k; ++j) {
        const size_t slot = static_cast<size_t>(s.slot[i * k + j]);
        if (slot >= lo && slot < hi)
          kernels::axpy(s.weight[i * k + j], s.ye + slot * d, x + i * d, d);
      }
  });
}

}  // namespace afm::blocks
