// Shared transformer building blocks that the architecture files assemble: embedding lookup,
// RMSNorm over rows, RoPE, KV-cache writes, grouped-query attention and the SwiGLU FFN. Each
// splits its work over the thread pool; none knows which architecture calls it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "afm/model.h"
#include "afm/thread_pool.h"
#include "model/architecture.h"

namespace afm::blocks {

// x[i] = row tokens[i] of the embedding table; throws for an id outside the vocabulary.
void embed(const tensor& tok_embd, const int32_t* tokens, size_t n, float* x, thread_pool& pool);

// y = RMSNorm(x) * w over n rows of width d.
void rms_norm_rows(const float* x, const tensor& w, float* y, size_t n, size_t d, float eps,
                   thread_pool& pool);

// Rotates n rows of n_heads head vectors; row i is at position pos0 + i.
void rope_rows(const model& m, float* x, size_t n, size_t n_heads, size_t pos0, thread_pool& pool);

// Copies n rows of K and V ([n][n_kv_heads * head_dim]) into the cache at positions pos0...
// (slot = position % capacity). Throws if the positions overflow a full cache, or if a ring
// buffer has too few spare slots for a batch of n.
void store_kv(const kv_view& kv, const float* k, const float* v, size_t n, size_t pos0,
              size_t n_kv_heads, size_t head_dim);

// out[i] = attention of q row i (position pos0 + i) over cache positions [0, pos0 + i], or the
// last kv.window of them.
void attend(const model_config& c, const kv_view& kv, const float* q, size_t n, size_t pos0,
            float* out, thread_pool& pool);
// The same for a slice of the heads: KV heads [kv_first, kv_first + kv_count) and the query
// heads that read them; q and out rows hold just those query heads.
void attend_heads(const model_config& c, const kv_view& kv, size_t kv_first, size_t kv_count,
                  const float* q, size_t n, size_t pos0, float* out, thread_pool& pool);
// The view of KV heads [first, ...) of a cache.
kv_view kv_heads_from(const kv_view& kv, size_t first, size_t head_dim);

// x += W_down (silu(W_gate xn) * W_up xn) over n rows; gate and up are [n][d_ff] scratch.
void ffn_swiglu(const tensor& w_gate, const tensor& w_up, const tensor& w_down, const float* xn,
                size_t n, float* gate, float* up, float* x, thread_pool& pool);

// x += W x_in over n rows (the attention output projection); tmp is [n][W.rows()] scratch.
void project_add(const tensor& w, const float* in, size_t n, float* tmp, float* x,
                 thread_pool& pool);

// Matrix e of a stack of matrices (an MoE layer's experts, ne = {cols, rows, E}).
tensor matrix_of(const tensor& stack, int64_t e);
// Rows [first, first + count) of a matrix (outputs), and columns (inputs): a column slice must
// start and end on the format's block boundaries, or this throws naming the tensor.
tensor rows_of(const tensor& w, int64_t first, int64_t count);
tensor cols_of(const tensor& w, int64_t first, int64_t count);

// Scratch for moe_swiglu over n rows; moe_scratch_floats() gives the floats it needs.
struct moe_scratch {
  float* probs;     // [n][n_experts] router probabilities
  int32_t* choice;  // [n][k] chosen experts, best first
  float* weight;    // [n][k] their weights
  int32_t* slot;    // [n][k] where each choice's row sits in the expert-sorted batch
  int32_t* row_of;  // [n * k] the token row of each sorted slot
  float* xe;        // [n * k][d] token rows gathered by expert
  float* gate;      // [n * k][expert_ff]
  float* up;        // [n * k][expert_ff]
  float* ye;        // [n * k][d] expert outputs
};
size_t moe_scratch_floats(const model_config& c, size_t n);
moe_scratch carve_moe_scratch(const model_config& c, size_t n, float* buffer);

// x += sum over the k chosen experts of weight * expert(xn), over n rows (report section 2.2).
// The router is softmax(W_router xn); the top k (ties to the lower index) are kept, their
// weights renormalized to sum to 1 when c.moe_renorm. Execution is dropless and grouped: rows
// are sorted by expert, each expert runs one SwiGLU product over exactly its rows, and the
// weighted outputs are added back per token. load[e] (may be null) counts rows routed to e.
// Only experts [e_first, e_end) run (a slice of them, for tensor-parallel execution); the
// default is all of them.
void moe_swiglu(const model_config& c, const layer_weights& L, const float* xn, size_t n,
                const moe_scratch& s, float* x, uint64_t* load, thread_pool& pool,
                size_t e_first = 0, size_t e_end = SIZE_MAX);

}  // namespace afm::blocks
