// Core compute kernels on f32 data: norms, RoPE, softmax, SwiGLU, grouped-query attention and
// the packed-panel matrix-matrix product. Each runs single-threaded over the range it is given;
// callers split work across the thread pool. SIMD code lives in kernels.cc and is compiled once
// per Highway target, with the best one chosen at run time.
//
// Weight formats (formats/) provide the matrix-vector products and the row decoders that
// gemm() packs from; this file knows nothing of any model.
#pragma once

#include <cstddef>
#include <cstdint>

namespace afm::kernels {

// RoPE pairs: `interleaved` rotates (x[2i], x[2i+1]) — GGML's "normal" mode, used by llama-family
// GGUF files; `half` rotates (x[i], x[i + d/2]) — the NeoX layout.
enum class rope_style : uint32_t { interleaved = 0, half = 1 };

float dot(const float* a, const float* b, size_t n);
// y[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]
void rms_norm(const float* x, const float* w, float* y, size_t n, float eps);
// Rotates each of n_heads vectors of head_dim in place; cos/sin hold head_dim/2 values.
void rope(float* x, size_t n_heads, size_t head_dim, const float* cos, const float* sin,
          rope_style style);
// In-place softmax over n values.
void softmax(float* x, size_t n);
// out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)).
void swiglu(const float* gate, const float* up, float* out, size_t n);
// y[i] += x[i]
void add(float* y, const float* x, size_t n);
// y[i] += a * x[i]
void axpy(float a, const float* x, float* y, size_t n);

// Decodes n elements (n a multiple of the format's block) starting at a block boundary.
using decode_fn = void (*)(const void* src, size_t n, float* dst);

// A weight matrix W of `rows` x `cols` in some format, as gemm() reads it.
struct gemm_weights {
  const void* data;
  size_t row_bytes;
  size_t rows;
  size_t cols;
  size_t block_elems;  // decode granularity (1 for f32/f16/bf16, 32 for q8_0)
  size_t block_bytes;
  decode_fn decode;  // nullptr when the data are already f32
};

// y[t][o] = sum_k x[t][k] * W[o][k] for tokens t < n and output rows o in [o_begin, o_end).
// W panels are decoded to f32 once per block of the sequence and reused for all n tokens.
void gemm(const float* x, size_t ldx, size_t n, const gemm_weights& w, float* y, size_t ldy,
          size_t o_begin, size_t o_end);

// Causal grouped-query attention over a KV cache laid out [kv_head][slot][head_dim].
// Query i sits at position p = pos0 + i and attends to positions [0, p], or with a sliding
// window to the last `window` of them, [p - window + 1, p]. Position j lives in slot
// j % ring: a full cache has ring >= every position (slot = position); a sliding-window ring
// buffer reuses slots, and the caller keeps the window's positions unoverwritten.
struct attention_args {
  const float* q;  // [n_q][n_heads * head_dim], row stride q_stride floats
  size_t q_stride;
  const float* k;  // cache: [n_kv_heads][capacity][head_dim]
  const float* v;
  size_t kv_head_stride;  // elements between kv heads (capacity * head_dim)
  float* out;             // [n_q][n_heads * head_dim], row stride out_stride floats
  size_t out_stride;
  size_t n_heads, n_kv_heads, head_dim;
  size_t n_q;
  size_t pos0;
  float scale;
  size_t window = 0;       // 0: no window
  size_t ring = SIZE_MAX;  // slots per kv head
  // An 8-bit cache instead (k and v null): int8 vectors in the same layout, each with an f32
  // scale, [n_kv_heads][capacity]; read directly, never widened into a whole f32 copy.
  const int8_t* k8 = nullptr;
  const int8_t* v8 = nullptr;
  const float* k_scale = nullptr;
  const float* v_scale = nullptr;
};
// Runs the (query, head) tasks [task_begin, task_end) of n_q * n_heads; `scores` must hold
// pos0 + n_q floats (or `window`, when that is fewer).
void attention(const attention_args& a, size_t task_begin, size_t task_end, float* scores);

// Quantizes n floats to int8 with one scale (max|x| / 127, returned): the 8-bit KV cache.
float quantize_i8(const float* x, size_t n, int8_t* q);

// Name of the SIMD target the dispatcher chose ("AVX3", "AVX2", ...).
const char* simd_target();

}  // namespace afm::kernels
