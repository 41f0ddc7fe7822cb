// The AFM server architecture, PT-MoE (report section 2.2, Figure 2): T parallel tracks, each a
// stack of track blocks of D transformer layers. Inside a block every track runs its layers on
// its own copy of the residual stream; at the block boundary the tracks synchronize and the
// combined stream is the block input plus the sum of every track's residual update
// (docs/design.md), which then feeds every track's next block. Every moe_every-th layer's FFN
// is a mixture of SwiGLU experts; attention repeats (global_every - 1) local layers (RoPE,
// sliding window, ring-buffer KV cache) and one global layer (no positional embedding, whole
// sequence). The final stream goes through the final norm and the tied output head.
//
// Track-parallel execution (here) gives each track its own thread pool and meets once per block;
// the layer-parallel baseline (pt_moe_baseline.cc) splits every layer across the threads the
// way tensor parallelism does and meets twice per layer.
#include <algorithm>
#include <cstring>
#include <exception>

#include "afm/error.h"
#include "formats/matmul.h"
#include "model/architecture.h"
#include "model/blocks.h"
#include "model/pt_moe.h"

namespace afm {
namespace {

void read_config(const gguf_file& f, model_config& c) {
  read_base_config(f, c);
  auto u = [&](const char* k) { return static_cast<int64_t>(f.get_uint(c.arch + "." + k)); };
  c.n_tracks = u("track_count");
  c.track_block_depth = u("track_block_depth");
  c.moe_every = u("moe_layer_step");
  c.n_experts = u("expert_count");
  c.n_experts_used = u("expert_used_count");
  c.expert_ff = u("expert_feed_forward_length");
  c.moe_renorm = f.get_uint(c.arch + ".expert_weights_norm") != 0;
  c.sliding_window = u("attention.sliding_window");
  c.global_every = u("attention.global_layer_step");
}

void write_config(const model_config& c, gguf_writer& w) {
  write_base_config(c, w);
  auto u32 = [&](const char* k, int64_t v) {
    w.set(c.arch + "." + k, gguf_value::u32(static_cast<uint32_t>(v)));
  };
  u32("track_count", c.n_tracks);
  u32("track_block_depth", c.track_block_depth);
  u32("moe_layer_step", c.moe_every);
  u32("expert_count", c.n_experts);
  u32("expert_used_count", c.n_experts_used);
  u32("expert_feed_forward_length", c.expert_ff);
  u32("expert_weights_norm", c.moe_renorm ? 1 : 0);
  u32("attention.sliding_window", c.sliding_window);
  u32("attention.global_layer_step", c.global_every);
}

std::vector<tensor_slot> tensors(const model_config& c, model* m) {
  auto at = [&](tensor model::*field) { return m ? &(m->*field) : nullptr; };
  const int64_t d = c.d_model, qd = c.n_heads * c.head_dim, kvd = c.n_kv_heads * c.head_dim;
  const int64_t ff = c.d_ff, eff = c.expert_ff, E = c.n_experts;
  std::vector<tensor_slot> s;
  s.push_back({"token_embd.weight", {d, c.n_vocab}, tensor_role::embedding, at(&model::tok_embd)});
  for (int64_t t = 0; t < c.n_tracks; ++t)
    for (int64_t l = 0; l < c.n_layers; ++l) {
      layer_weights* L = m ? &m->layers[static_cast<size_t>(t * c.n_layers + l)] : nullptr;
      auto add = [&](const char* name, std::vector<int64_t> ne, tensor_role role,
                     tensor layer_weights::*field) {
        s.push_back({"trk." + std::to_string(t) + ".blk." + std::to_string(l) + "." + name,
                     std::move(ne), role, L ? &(L->*field) : nullptr});
      };
      const auto W = tensor_role::weight, R = tensor_role::residual_out;
      add("attn_norm.weight", {d}, tensor_role::norm, &layer_weights::attn_norm);
      add("attn_q.weight", {d, qd}, W, &layer_weights::wq);
      add("attn_k.weight", {d, kvd}, W, &layer_weights::wk);
      add("attn_v.weight", {d, kvd}, W, &layer_weights::wv);
      add("attn_output.weight", {qd, d}, R, &layer_weights::wo);
      add("ffn_norm.weight", {d}, tensor_role::norm, &layer_weights::ffn_norm);
      if (c.is_moe(l)) {
        add("ffn_gate_inp.weight", {d, E}, W, &layer_weights::router);
        add("ffn_gate_exps.weight", {d, eff, E}, W, &layer_weights::gate_exps);
        add("ffn_up_exps.weight", {d, eff, E}, W, &layer_weights::up_exps);
        add("ffn_down_exps.weight", {eff, d, E}, R, &layer_weights::down_exps);
      } else {
        add("ffn_gate.weight", {d, ff}, W, &layer_weights::w_gate);
        add("ffn_up.weight", {d, ff}, W, &layer_weights::w_up);
        add("ffn_down.weight", {ff, d}, R, &layer_weights::w_down);
      }
    }
  s.push_back({"output_norm.weight", {d}, tensor_role::norm, at(&model::output_norm)});
  if (!c.tied_output)
    s.push_back({"output.weight", {d, c.n_vocab}, tensor_role::weight, at(&model::output)});
  return s;
}

// One track's buffers. `in` is the track block's input (the combined stream), `w[b % 2]` the
// stream block b works on: two, so a track can start block b + 1 while another still reads its
// output of block b to combine.
struct track_buffers {
  float *in, *w[2];
  pt_moe::layer_scratch ls;
};

size_t scratch_bytes(const model_config& c, size_t n, size_t threads) {
  const size_t d = static_cast<size_t>(c.d_model), T = static_cast<size_t>(c.n_tracks);
  const size_t floats = n * d + T * (3 * n * d + pt_moe::layer_scratch_floats(c, n));
  return std::max(floats * sizeof(float) + (12 * T + 4) * arena::kAlign,
                  pt_moe::layer_parallel_scratch_bytes(c, n, threads));
}

track_buffers carve(const model_config& c, size_t n, arena& s) {
  const size_t d = static_cast<size_t>(c.d_model);
  track_buffers b{};
  b.in = s.alloc<float>(n * d);
  b.w[0] = s.alloc<float>(n * d);
  b.w[1] = s.alloc<float>(n * d);
  b.ls = pt_moe::carve_layer_scratch(c, n, s);
  return b;
}

struct pass {
  const model& m;
  const forward_args& a;
  forward_context& ctx;
  const float* x0;  // the embedded input: block 0's input for every track
  std::vector<track_buffers> tb;
  std::vector<const float*> outs[2];  // [slot][track]: tb[t].w[slot]

  // dst = in + sum over tracks of (their `slot` stream - in), rows [r0, r1): the combine.
  void combine_rows(const float* in, int slot, float* dst, size_t r0, size_t r1) const {
    const size_t d = static_cast<size_t>(m.cfg.d_model);
    pt_moe::combine(in, outs[slot].data(), outs[slot].size(), dst, r0 * d, r1 * d);
  }

  // Track t's block `blk`: combine the previous block's outputs into the track's input, then run
  // its D layers on a copy. Touches only track t's buffers, KV caches and expert counters.
  void run_track_block(int64_t t, int64_t blk, thread_pool& pool) {
    const model_config& c = m.cfg;
    const size_t n = a.n, d = static_cast<size_t>(c.d_model);
    track_buffers& b = tb[static_cast<size_t>(t)];
    const float* in = x0;
    if (blk > 0) {
      const float* prev_in = blk == 1 ? x0 : b.in;  // identical in every track
      pool.parallel_for(n, 4, [&](size_t r0, size_t r1) {
        combine_rows(prev_in, static_cast<int>((blk - 1) % 2), b.in, r0, r1);
      });
      in = b.in;
    }
    float* x = b.w[blk % 2];
    std::memcpy(x, in, n * d * sizeof(float));
    for (int64_t l = blk * c.track_block_depth; l < (blk + 1) * c.track_block_depth; ++l)
      run_layer(t, l, x, b, pool);
  }

  void run_layer(int64_t t, int64_t l, float* x, const track_buffers& b, thread_pool& pool) {
    const model_config& c = m.cfg;
    const size_t n = a.n, pos = a.pos0;
    const size_t d = static_cast<size_t>(c.d_model), hd = static_cast<size_t>(c.head_dim);
    const size_t H = static_cast<size_t>(c.n_heads), KVH = static_cast<size_t>(c.n_kv_heads);
    const size_t idx = static_cast<size_t>(t * c.n_layers + l);
    const layer_weights& L = m.layers[idx];
    const kv_view& kv = a.kv[idx];
    blocks::rms_norm_rows(x, L.attn_norm, b.ls.xn, n, d, c.rms_eps, pool);
    formats::matmul_shared(
        {{&L.wq, b.ls.q, H * hd}, {&L.wk, b.ls.k, KVH * hd}, {&L.wv, b.ls.v, KVH * hd}}, b.ls.xn, d,
        n, pool);
    if (!c.is_global(l)) {  // global layers have no positional embedding (NoPE)
      blocks::rope_rows(m, b.ls.k, n, KVH, pos, pool);
      blocks::rope_rows(m, b.ls.q, n, H, pos, pool);
    }
    blocks::store_kv(kv, b.ls.k, b.ls.v, n, pos, KVH, hd);
    blocks::attend(c, kv, b.ls.q, n, pos, b.ls.att, pool);
    blocks::project_add(L.wo, b.ls.att, n, b.ls.xn, x, pool);
    blocks::rms_norm_rows(x, L.ffn_norm, b.ls.xn, n, d, c.rms_eps, pool);
    if (c.is_moe(l)) {
      uint64_t* load =
          ctx.expert_load ? ctx.expert_load + idx * static_cast<size_t>(c.n_experts) : nullptr;
      blocks::moe_swiglu(c, L, b.ls.xn, n, b.ls.moe, x, load, pool);
    } else {
      blocks::ffn_swiglu(L.w_gate, L.w_up, L.w_down, b.ls.xn, n, b.ls.gate, b.ls.up, x, pool);
    }
  }

  // One block of every track: concurrently, one synchronization; or, without worker pools (one
  // track), track by track with every operation split across the pool.
  void run_block(int64_t blk) {
    const int64_t T = m.cfg.n_tracks;
    if (ctx.worker_pools.empty()) {
      for (int64_t t = 0; t < T; ++t) run_track_block(t, blk, ctx.pool);
      return;
    }
    const int64_t G = static_cast<int64_t>(ctx.worker_pools.size());
    std::vector<std::exception_ptr> errors(static_cast<size_t>(G));
    ctx.pool.run([&](int i) {
      if (i >= G) return;
      try {
        for (int64_t t = i; t < T; t += G)
          run_track_block(t, blk, *ctx.worker_pools[static_cast<size_t>(i)]);
      } catch (...) {
        errors[static_cast<size_t>(i)] = std::current_exception();
      }
    });
    for (const auto& e : errors)
      if (e) std::rethrow_exception(e);
  }
};

void forward(const model& m, const forward_args& a, forward_context& ctx) {
  if (ctx.exec == execution::layer_parallel && !ctx.worker_pools.empty())
    return pt_moe::forward_layer_parallel(m, a, ctx);
  const model_config& c = m.cfg;
  arena& s = ctx.scratch;
  s.reset();
  const size_t n = a.n, d = static_cast<size_t>(c.d_model);
  float* x0 = s.alloc<float>(n * d);
  pass p{m, a, ctx, x0, {}, {}};
  for (int64_t t = 0; t < c.n_tracks; ++t) p.tb.push_back(carve(c, n, s));
  for (int slot = 0; slot < 2; ++slot)
    for (const track_buffers& b : p.tb) p.outs[slot].push_back(b.w[slot]);
  blocks::embed(m.tok_embd, a.tokens, n, x0, ctx.pool);
  const int64_t blocks_n = c.n_layers / c.track_block_depth;
  for (int64_t blk = 0; blk < blocks_n; ++blk) p.run_block(blk);
  if (a.mode == logits_mode::none) return;
  // The last combine, then the final norm and the head, for the rows that need logits.
  const size_t r0 = a.mode == logits_mode::all ? 0 : n - 1, rows = n - r0;
  const float* last_in = blocks_n == 1 ? x0 : p.tb[0].in;
  const track_buffers& t0 = p.tb[0];
  ctx.pool.parallel_for(rows, 4, [&](size_t b, size_t e) {
    p.combine_rows(last_in, static_cast<int>((blocks_n - 1) % 2), x0, r0 + b, r0 + e);
  });
  blocks::rms_norm_rows(x0 + r0 * d, m.output_norm, t0.ls.xn, rows, d, c.rms_eps, ctx.pool);
  formats::matmul(m.output, t0.ls.xn, d, rows, a.logits, static_cast<size_t>(c.n_vocab), ctx.pool);
}

double keys_seen(size_t rows, size_t pos0, int64_t window) {
  double k = 0.0;
  for (size_t i = 0; i < rows; ++i) {
    const size_t p = pos0 + i;
    k += static_cast<double>(window > 0 ? std::min<size_t>(p + 1, static_cast<size_t>(window))
                                        : p + 1);
  }
  return k;
}

double flops(const model_config& c, size_t n, size_t pos0, logits_mode mode) {
  const double d = static_cast<double>(c.d_model), hd = static_cast<double>(c.head_dim);
  const double H = static_cast<double>(c.n_heads), qd = H * hd,
               kvd = static_cast<double>(c.n_kv_heads) * hd, rows = static_cast<double>(n);
  double layer_sum = 0.0;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    layer_sum +=
        2.0 * rows * d * (2.0 * qd + 2.0 * kvd) + 4.0 * hd * H * keys_seen(n, pos0, c.window(l));
    layer_sum += c.is_moe(l) ? 2.0 * rows * d * static_cast<double>(c.n_experts) +
                                   6.0 * rows * static_cast<double>(c.n_experts_used) * d *
                                       static_cast<double>(c.expert_ff)
                             : 6.0 * rows * d * static_cast<double>(c.d_ff);
  }
  const double head_rows = mode == logits_mode::all ? rows : mode == logits_mode::last ? 1 : 0;
  return static_cast<double>(c.n_tracks) * layer_sum +
         2.0 * head_rows * d * static_cast<double>(c.n_vocab);
}

double kv_read_bytes(const model_config& c, size_t pos) {
  double positions = 0.0;
  for (int64_t l = 0; l < c.n_layers; ++l) positions += keys_seen(1, pos, c.window(l));
  return static_cast<double>(c.n_tracks) * positions *
         static_cast<double>(2 * c.n_kv_heads * c.head_dim) * sizeof(float);
}

std::vector<kv_slot> kv_slots(const model_config& c) {
  std::vector<kv_slot> s;
  for (int64_t t = 0; t < c.n_tracks; ++t)
    for (int64_t l = 0; l < c.n_layers; ++l)
      s.push_back({t * c.n_layers + l, c.n_kv_heads, c.head_dim, c.window(l)});
  return s;
}

void validate(const model_config& c) {
  if (c.n_kv_layers() != c.n_layers)
    fail("model config: afm-pt-moe layers own their KV caches (kv_shared_fraction must be 0)");
}

}  // namespace

extern const architecture kAfmPtMoe{"afm-pt-moe",  read_config, write_config, tensors,
                                    scratch_bytes, forward,     flops,        kv_read_bytes,
                                    kv_slots,      validate,    true};

size_t pt_moe::layer_scratch_floats(const model_config& c, size_t n) {
  const size_t d = static_cast<size_t>(c.d_model), qd = static_cast<size_t>(c.n_heads * c.head_dim),
               kvd = static_cast<size_t>(c.n_kv_heads * c.head_dim),
               ff = static_cast<size_t>(c.d_ff);
  return n * (d + 2 * qd + 2 * kvd + 2 * ff) + (c.moe_every ? blocks::moe_scratch_floats(c, n) : 0);
}

pt_moe::layer_scratch pt_moe::carve_layer_scratch(const model_config& c, size_t n, arena& s) {
  const size_t d = static_cast<size_t>(c.d_model), qd = static_cast<size_t>(c.n_heads * c.head_dim),
               kvd = static_cast<size_t>(c.n_kv_heads * c.head_dim),
               ff = static_cast<size_t>(c.d_ff);
  layer_scratch b{};
  b.xn = s.alloc<float>(n * d);
  b.q = s.alloc<float>(n * qd);
  b.k = s.alloc<float>(n * kvd);
  b.v = s.alloc<float>(n * kvd);
  b.att = s.alloc<float>(n * qd);
  b.gate = s.alloc<float>(n * ff);
  b.up = s.alloc<float>(n * ff);
  if (c.moe_every)
    b.moe = blocks::carve_moe_scratch(c, n, s.alloc<float>(blocks::moe_scratch_floats(c, n)));
  return b;
}

void pt_moe::combine(const float* in, const float* const* outs, size_t n_tracks, float* dst,
                     size_t j0, size_t j1) {
  for (size_t j = j0; j < j1; ++j) {
    float acc = in[j];
    for (size_t t = 0; t < n_tracks; ++t) acc += outs[t][j] - in[j];
    dst[j] = acc;
  }
}

}  // namespace afm
