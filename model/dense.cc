// The AFM on-device architecture (report section 2.1): a decoder-only transformer with
// pre-norm RMSNorm, grouped-query attention with RoPE, a SwiGLU FFN and the output head tied to
// the token embedding, split into two blocks. Block 1 (the first 62.5% of layers) is ordinary;
// Block-2 layers have no K/V projections and attend over a Block-1 layer's KV cache
// (config.kv_source). With kv_shared_fraction = 0 this is a plain llama-style model, which is
// also how GGUF files of architecture "llama" are run.
//
// Because no layer after the last KV writer produces keys or values, a prefill that only needs
// the last position's logits runs those layers for that one position (logits_mode::last), and
// a prefill chunk that needs no logits stops right after the last KV write (logits_mode::none).
#include <algorithm>
#include <cstring>

#include "afm/error.h"
#include "formats/matmul.h"
#include "model/architecture.h"
#include "model/blocks.h"

namespace afm {
namespace {

std::vector<tensor_slot> tensors(const model_config& c, model* m) {
  auto at = [&](tensor model::*field) { return m ? &(m->*field) : nullptr; };
  const int64_t d = c.d_model, qd = c.n_heads * c.head_dim, kvd = c.n_kv_heads * c.head_dim;
  std::vector<tensor_slot> s;
  s.push_back({"token_embd.weight", {d, c.n_vocab}, tensor_role::embedding, at(&model::tok_embd)});
  for (int64_t l = 0; l < c.n_layers; ++l) {
    layer_weights* L = m ? &m->layers[static_cast<size_t>(l)] : nullptr;
    auto slot = [&](tensor layer_weights::*field) { return L ? &(L->*field) : nullptr; };
    const std::string p = "blk." + std::to_string(l) + ".";
    s.push_back({p + "attn_norm.weight", {d}, tensor_role::norm, slot(&layer_weights::attn_norm)});
    s.push_back({p + "attn_q.weight", {d, qd}, tensor_role::weight, slot(&layer_weights::wq)});
    if (c.owns_kv(l)) {
      s.push_back({p + "attn_k.weight", {d, kvd}, tensor_role::weight, slot(&layer_weights::wk)});
      s.push_back({p + "attn_v.weight", {d, kvd}, tensor_role::weight, slot(&layer_weights::wv)});
    }
    s.push_back(
        {p + "attn_output.weight", {qd, d}, tensor_role::residual_out, slot(&layer_weights::wo)});
    s.push_back({p + "ffn_norm.weight", {d}, tensor_role::norm, slot(&layer_weights::ffn_norm)});
    s.push_back(
        {p + "ffn_gate.weight", {d, c.d_ff}, tensor_role::weight, slot(&layer_weights::w_gate)});
    s.push_back(
        {p + "ffn_up.weight", {d, c.d_ff}, tensor_role::weight, slot(&layer_weights::w_up)});
    s.push_back({p + "ffn_down.weight",
                 {c.d_ff, d},
                 tensor_role::residual_out,
                 slot(&layer_weights::w_down)});
  }
  s.push_back({"output_norm.weight", {d}, tensor_role::norm, at(&model::output_norm)});
  if (!c.tied_output)
    s.push_back({"output.weight", {d, c.n_vocab}, tensor_role::weight, at(&model::output)});
  return s;
}

size_t scratch_bytes(const model_config& c, size_t n, size_t /*threads*/) {
  const size_t d = static_cast<size_t>(c.d_model), qd = static_cast<size_t>(c.n_heads * c.head_dim),
               kvd = static_cast<size_t>(c.n_kv_heads * c.head_dim),
               ff = static_cast<size_t>(c.d_ff);
  const size_t floats = n * (2 * d + 2 * qd + 2 * kvd + 2 * ff);
  return floats * sizeof(float) + 16 * arena::kAlign;
}

void forward(const model& m, const forward_args& a, forward_context& ctx) {
  const model_config& c = m.cfg;
  thread_pool& pool = ctx.pool;
  arena& s = ctx.scratch;
  s.reset();
  const size_t d = static_cast<size_t>(c.d_model), hd = static_cast<size_t>(c.head_dim);
  const size_t H = static_cast<size_t>(c.n_heads), KVH = static_cast<size_t>(c.n_kv_heads);
  const size_t qd = H * hd, kvd = KVH * hd, ff = static_cast<size_t>(c.d_ff);
  size_t n = a.n, pos = a.pos0;  // rows in flight; position of row 0
  float* x = s.alloc<float>(n * d);
  float* xn = s.alloc<float>(n * d);
  float* q = s.alloc<float>(n * qd);
  float* k = s.alloc<float>(n * kvd);
  float* v = s.alloc<float>(n * kvd);
  float* att = s.alloc<float>(n * qd);
  float* gate = s.alloc<float>(n * ff);
  float* up = s.alloc<float>(n * ff);

  blocks::embed(m.tok_embd, a.tokens, n, x, pool);
  // Rows after the last KV write feed only the logits: keep the last row alone from there.
  const int64_t prune_at = a.mode == logits_mode::all ? -1 : c.last_kv_layer();
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const layer_weights& L = m.layers[static_cast<size_t>(l)];
    const kv_view& kv = a.kv[static_cast<size_t>(l)];
    blocks::rms_norm_rows(x, L.attn_norm, xn, n, d, c.rms_eps, pool);
    // Q shares K and V's product unless rows are pruned between them.
    const bool q_with_kv =
        c.owns_kv(l) && (l != prune_at || (n == 1 && a.mode != logits_mode::none));
    if (q_with_kv) {
      formats::matmul_shared({{&L.wq, q, qd}, {&L.wk, k, kvd}, {&L.wv, v, kvd}}, xn, d, n, pool);
    } else if (c.owns_kv(l)) {
      formats::matmul_shared({{&L.wk, k, kvd}, {&L.wv, v, kvd}}, xn, d, n, pool);
    }
    if (c.owns_kv(l)) {
      blocks::rope_rows(m, k, n, KVH, pos, pool);
      blocks::store_kv(kv, k, v, n, pos, KVH, hd);
    }
    if (l == prune_at) {
      if (a.mode == logits_mode::none) return;
      std::memmove(x, x + (n - 1) * d, d * sizeof(float));
      std::memmove(xn, xn + (n - 1) * d, d * sizeof(float));
      pos += n - 1;
      n = 1;
    }
    if (!q_with_kv) formats::matmul(L.wq, xn, d, n, q, qd, pool);
    blocks::rope_rows(m, q, n, H, pos, pool);
    blocks::attend(c, kv, q, n, pos, att, pool);
    blocks::project_add(L.wo, att, n, xn, x, pool);
    blocks::rms_norm_rows(x, L.ffn_norm, xn, n, d, c.rms_eps, pool);
    blocks::ffn_swiglu(L.w_gate, L.w_up, L.w_down, xn, n, gate, up, x, pool);
  }
  blocks::rms_norm_rows(x, m.output_norm, xn, n, d, c.rms_eps, pool);
  formats::matmul(m.output, xn, d, n, a.logits, static_cast<size_t>(c.n_vocab), pool);
}

// Mirrors forward(): the same rows run the same products.
double flops(const model_config& c, size_t n, size_t pos0, logits_mode mode) {
  const double d = static_cast<double>(c.d_model), hd = static_cast<double>(c.head_dim);
  const double qd = static_cast<double>(c.n_heads) * hd,
               kvd = static_cast<double>(c.n_kv_heads) * hd;
  const double ff = static_cast<double>(c.d_ff);
  const int64_t prune_at = mode == logits_mode::all ? -1 : c.last_kv_layer();
  double rows = static_cast<double>(n), pos = static_cast<double>(pos0), total = 0.0;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    if (c.owns_kv(l)) total += 2.0 * rows * d * 2.0 * kvd;
    if (l == prune_at) {
      if (mode == logits_mode::none) return total;
      pos += rows - 1;
      rows = 1;
    }
    // keys attended by rows at positions pos .. pos + rows - 1: sum of (p + 1)
    const double keys = rows * (pos + 1) + rows * (rows - 1) / 2;
    total += 2.0 * rows * d * qd + 4.0 * hd * static_cast<double>(c.n_heads) * keys +
             2.0 * rows * qd * d + 2.0 * rows * 3.0 * d * ff;
  }
  return total + 2.0 * rows * d * static_cast<double>(c.n_vocab);
}

double kv_read_bytes(const model_config& c, size_t pos) {
  return static_cast<double>(c.n_layers) * static_cast<double>(pos + 1) *
         static_cast<double>(2 * c.n_kv_heads * c.head_dim) * sizeof(float);
}

std::vector<kv_slot> kv_slots(const model_config& c) {
  std::vector<kv_slot> s;
  for (int64_t l = 0; l < c.n_layers; ++l)
    s.push_back({c.kv_source[static_cast<size_t>(l)], c.n_kv_heads, c.head_dim, 0});
  return s;
}

void validate(const model_config& c) {
  if (c.n_tracks != 1 || c.moe_every != 0 || c.sliding_window != 0 || c.global_every != 0)
    fail("model config: architecture '", c.arch,
         "' has one track, dense FFNs and full attention; n_tracks, moe_every, sliding_window "
         "and global_every belong to 'afm-pt-moe'");
}

}  // namespace

extern const architecture kAfmDense{
    "afm", read_base_config, write_base_config, tensors, scratch_bytes, forward,
    flops, kv_read_bytes,    kv_slots,          validate};
// llama.cpp's "llama" files: the same graph with every layer owning its KV cache.
extern const architecture kLlama{
    "llama", read_base_config, write_base_config, tensors, scratch_bytes, forward,
    flops,   kv_read_bytes,    kv_slots,          validate};

}  // namespace afm
