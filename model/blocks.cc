// Implementation of the shared blocks in model/blocks.h over core kernels and formats.
#include "model/blocks.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "afm/error.h"
#include "core/kernels.h"
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
  if (pos0 + n > kv.capacity)
    fail("context overflow: positions up to ", pos0 + n, " exceed the KV cache of ", kv.capacity);
  const size_t row = n_kv_heads * head_dim;
  for (size_t i = 0; i < n; ++i)
    for (size_t h = 0; h < n_kv_heads; ++h) {
      const size_t dst = (h * kv.capacity + pos0 + i) * head_dim;
      std::memcpy(kv.k + dst, k + i * row + h * head_dim, head_dim * sizeof(float));
      std::memcpy(kv.v + dst, v + i * row + h * head_dim, head_dim * sizeof(float));
    }
}

void attend(const model_config& c, const kv_view& kv, const float* q, size_t n, size_t pos0,
            float* out, thread_pool& pool) {
  const size_t hd = static_cast<size_t>(c.head_dim);
  const size_t width = static_cast<size_t>(c.n_heads) * hd;
  kernels::attention_args a{q,
                            width,
                            kv.k,
                            kv.v,
                            kv.capacity * hd,
                            out,
                            width,
                            static_cast<size_t>(c.n_heads),
                            static_cast<size_t>(c.n_kv_heads),
                            hd,
                            n,
                            pos0,
                            1.0f / std::sqrt(static_cast<float>(hd))};
  pool.parallel_for(n * a.n_heads, 1, [&](size_t b, size_t e) {
    static thread_local std::vector<float> scores;
    if (scores.size() < pos0 + n) scores.resize(pos0 + n);
    kernels::attention(a, b, e, scores.data());
  });
}

void ffn_swiglu(const tensor& w_gate, const tensor& w_up, const tensor& w_down, const float* xn,
                size_t n, float* gate, float* up, float* x, thread_pool& pool) {
  const size_t d = static_cast<size_t>(w_gate.cols()), ff = static_cast<size_t>(w_gate.rows());
  formats::matmul(w_gate, xn, d, n, gate, ff, pool);
  formats::matmul(w_up, xn, d, n, up, ff, pool);
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

}  // namespace afm::blocks
