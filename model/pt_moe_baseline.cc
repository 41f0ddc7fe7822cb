// The layer-parallel baseline for PT-MoE: tensor parallelism on the CPU's threads, as a
// transformer without tracks would be split across devices. Layer by layer (layer l of every
// track together), each worker takes a slice of each track's KV heads (and the query heads that
// read them), of the FFN width and of the experts, and keeps its own copy of every track's
// residual stream. A slice's output projection yields a partial sum of the layer's output; the
// workers meet after the attention and after the FFN, and each adds every worker's partial sums
// (in worker order, so all copies stay equal) before its next step: 2 synchronizations per
// layer, the "2L" that the report sets against track parallelism's L/D. The router of an MoE
// layer runs in every worker; each worker runs only its experts.
#include <cstring>
#include <exception>
#include <vector>

#include "afm/error.h"
#include "core/kernels.h"
#include "formats/format.h"
#include "formats/matmul.h"
#include "model/blocks.h"
#include "model/pt_moe.h"

namespace afm::pt_moe {
namespace {

size_t boundary(size_t units, size_t parts, size_t i) {
  return units * i / parts;
}

size_t block_of(const tensor& w) {
  return formats::format_of(w).block_elems;
}

// Worker i's share: KV heads [kv0, kv1) of each track, FFN columns [f0, f1) (whole blocks of
// ffn_down's format), experts [e0, e1) and output-head rows [v0, v1).
struct slice {
  size_t kv0, kv1, f0, f1, e0, e1, v0, v1;
};

struct worker_buffers {
  std::vector<float*> xs;  // [track] this worker's copy of the track's residual stream
  float* in;               // the current track block's input
  layer_scratch ls;
};

size_t worker_floats(const model_config& c, size_t n) {
  const size_t d = static_cast<size_t>(c.d_model), T = static_cast<size_t>(c.n_tracks);
  return n * (T + 1) * d + layer_scratch_floats(c, n);
}

struct baseline_pass {
  const model& m;
  const forward_args& a;
  forward_context& ctx;
  size_t P, T, n, d;
  std::vector<slice> slices;
  std::vector<worker_buffers> wb;
  // partial[0]: attention, partial[1]: FFN; [worker * T + track] -> [n][d]
  std::vector<float*> partial[2];

  void add_partials(float* x, int which, size_t t) const {
    for (size_t p = 0; p < P; ++p) kernels::add(x, partial[which][p * T + t], n * d);
  }

  void attention_slice(size_t i, size_t t, int64_t l, thread_pool& serial) {
    const model_config& c = m.cfg;
    const size_t idx = t * static_cast<size_t>(c.n_layers) + static_cast<size_t>(l);
    const layer_weights& L = m.layers[idx];
    const slice& s = slices[i];
    worker_buffers& w = wb[i];
    float* out = partial[0][i * T + t];
    const size_t hd = static_cast<size_t>(c.head_dim),
                 grp = static_cast<size_t>(c.n_heads / c.n_kv_heads);
    const size_t kvc = s.kv1 - s.kv0, hq = kvc * grp;
    if (kvc == 0) {
      std::memset(out, 0, n * d * sizeof(float));
      return;
    }
    const int64_t q0 = static_cast<int64_t>(s.kv0 * grp * hd),
                  k0 = static_cast<int64_t>(s.kv0 * hd);
    blocks::rms_norm_rows(w.xs[t], L.attn_norm, w.ls.xn, n, d, c.rms_eps, serial);
    formats::matmul(blocks::rows_of(L.wq, q0, static_cast<int64_t>(hq * hd)), w.ls.xn, d, n, w.ls.q,
                    hq * hd, serial);
    formats::matmul(blocks::rows_of(L.wk, k0, static_cast<int64_t>(kvc * hd)), w.ls.xn, d, n,
                    w.ls.k, kvc * hd, serial);
    formats::matmul(blocks::rows_of(L.wv, k0, static_cast<int64_t>(kvc * hd)), w.ls.xn, d, n,
                    w.ls.v, kvc * hd, serial);
    if (!c.is_global(l)) {
      blocks::rope_rows(m, w.ls.q, n, hq, a.pos0, serial);
      blocks::rope_rows(m, w.ls.k, n, kvc, a.pos0, serial);
    }
    const kv_view& kv = a.kv[idx];
    blocks::store_kv(blocks::kv_heads_from(kv, s.kv0, hd), w.ls.k, w.ls.v, n, a.pos0, kvc, hd);
    blocks::attend_heads(c, kv, s.kv0, kvc, w.ls.q, n, a.pos0, w.ls.att, serial);
    formats::matmul(blocks::cols_of(L.wo, q0, static_cast<int64_t>(hq * hd)), w.ls.att, hq * hd, n,
                    out, d, serial);
  }

  void ffn_slice(size_t i, size_t t, int64_t l, thread_pool& serial) {
    const model_config& c = m.cfg;
    const size_t idx = t * static_cast<size_t>(c.n_layers) + static_cast<size_t>(l);
    const layer_weights& L = m.layers[idx];
    const slice& s = slices[i];
    worker_buffers& w = wb[i];
    float* out = partial[1][i * T + t];
    std::memset(out, 0, n * d * sizeof(float));
    blocks::rms_norm_rows(w.xs[t], L.ffn_norm, w.ls.xn, n, d, c.rms_eps, serial);
    if (c.is_moe(l)) {
      uint64_t* load =
          ctx.expert_load ? ctx.expert_load + idx * static_cast<size_t>(c.n_experts) : nullptr;
      blocks::moe_swiglu(c, L, w.ls.xn, n, w.ls.moe, out, load, serial, s.e0, s.e1);
      return;
    }
    const size_t fc = s.f1 - s.f0;
    if (fc == 0) return;
    const auto f0 = static_cast<int64_t>(s.f0), count = static_cast<int64_t>(fc);
    formats::matmul(blocks::rows_of(L.w_gate, f0, count), w.ls.xn, d, n, w.ls.gate, fc, serial);
    formats::matmul(blocks::rows_of(L.w_up, f0, count), w.ls.xn, d, n, w.ls.up, fc, serial);
    kernels::swiglu(w.ls.gate, w.ls.up, w.ls.gate, n * fc);
    formats::matmul(blocks::cols_of(L.w_down, f0, count), w.ls.gate, fc, n, out, d, serial);
  }

  // One synchronization: every worker runs body(i, its single-thread pool).
  template <typename F>
  void phase(F&& body) {
    std::vector<std::exception_ptr> errors(P);
    ctx.pool.run([&](int wi) {
      const size_t i = static_cast<size_t>(wi);
      if (i >= P) return;
      try {
        body(i, *ctx.worker_pools[i]);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
    for (const auto& e : errors)
      if (e) std::rethrow_exception(e);
  }
};

}  // namespace

size_t layer_parallel_scratch_bytes(const model_config& c, size_t n, size_t P) {
  const size_t T = static_cast<size_t>(c.n_tracks), d = static_cast<size_t>(c.d_model);
  const size_t floats = P * worker_floats(c, n) + 2 * P * T * n * d;
  return floats * sizeof(float) + (P * (T + 12) + 2 * P * T + 4) * arena::kAlign;
}

void forward_layer_parallel(const model& m, const forward_args& a, forward_context& ctx) {
  const model_config& c = m.cfg;
  arena& s = ctx.scratch;
  s.reset();
  baseline_pass p{m,
                  a,
                  ctx,
                  ctx.worker_pools.size(),
                  static_cast<size_t>(c.n_tracks),
                  a.n,
                  static_cast<size_t>(c.d_model),
                  {},
                  {},
                  {}};
  const size_t P = p.P, T = p.T, n = p.n, d = p.d;
  const size_t hd = static_cast<size_t>(c.head_dim),
               grp = static_cast<size_t>(c.n_heads / c.n_kv_heads);
  const size_t KVH = static_cast<size_t>(c.n_kv_heads), V = static_cast<size_t>(c.n_vocab);
  size_t fb = 1;  // FFN slices are whole blocks of ffn_down's format
  for (int64_t l = 0; l < c.n_layers; ++l)
    if (!c.is_moe(l)) {
      fb = block_of(m.layers[static_cast<size_t>(l)].w_down);
      break;
    }
  const size_t ob = block_of(m.layers[0].wo);
  for (size_t i = 0; i < P; ++i) {
    slice sl{};
    sl.kv0 = boundary(KVH, P, i);
    sl.kv1 = boundary(KVH, P, i + 1);
    sl.f0 = boundary(static_cast<size_t>(c.d_ff) / fb, P, i) * fb;
    sl.f1 = boundary(static_cast<size_t>(c.d_ff) / fb, P, i + 1) * fb;
    sl.e0 = boundary(static_cast<size_t>(c.n_experts), P, i);
    sl.e1 = boundary(static_cast<size_t>(c.n_experts), P, i + 1);
    sl.v0 = boundary(V, P, i);
    sl.v1 = boundary(V, P, i + 1);
    if ((sl.kv0 * grp * hd) % ob != 0)
      fail("layer-parallel execution over ", P, " threads would split attn_output at column ",
           sl.kv0 * grp * hd, ", inside a ", ob, "-value block of its format; use track-parallel",
           " execution or another thread count");
    p.slices.push_back(sl);
    worker_buffers w{};
    for (size_t t = 0; t < T; ++t) w.xs.push_back(s.alloc<float>(n * d));
    w.in = s.alloc<float>(n * d);
    w.ls = carve_layer_scratch(c, n, s);
    p.wb.push_back(w);
  }
  for (auto& set : p.partial)
    for (size_t j = 0; j < P * T; ++j) set.push_back(s.alloc<float>(n * d));

  const int64_t D = c.track_block_depth;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    p.phase([&](size_t i, thread_pool& serial) {
      worker_buffers& w = p.wb[i];
      if (l == 0) {
        blocks::embed(m.tok_embd, a.tokens, n, w.in, serial);
        for (size_t t = 0; t < T; ++t) std::memcpy(w.xs[t], w.in, n * d * sizeof(float));
      } else {
        for (size_t t = 0; t < T; ++t) p.add_partials(w.xs[t], 1, t);
        if (l % D == 0) {  // a track-block boundary: combine the tracks
          combine(w.in, w.xs.data(), T, w.in, 0, n * d);
          for (size_t t = 0; t < T; ++t) std::memcpy(w.xs[t], w.in, n * d * sizeof(float));
        }
      }
      for (size_t t = 0; t < T; ++t) p.attention_slice(i, t, l, serial);
    });
    p.phase([&](size_t i, thread_pool& serial) {
      for (size_t t = 0; t < T; ++t) {
        p.add_partials(p.wb[i].xs[t], 0, t);
        p.ffn_slice(i, t, l, serial);
      }
    });
  }
  if (a.mode == logits_mode::none) return;
  const size_t r0 = a.mode == logits_mode::all ? 0 : n - 1, rows = n - r0;
  p.phase([&](size_t i, thread_pool& serial) {
    worker_buffers& w = p.wb[i];
    for (size_t t = 0; t < T; ++t) p.add_partials(w.xs[t], 1, t);
    combine(w.in, w.xs.data(), T, w.in, r0 * d, n * d);
    blocks::rms_norm_rows(w.in + r0 * d, m.output_norm, w.ls.xn, rows, d, c.rms_eps, serial);
    const slice& sl = p.slices[i];
    if (sl.v1 > sl.v0)
      formats::matmul(blocks::rows_of(m.output, static_cast<int64_t>(sl.v0),
                                      static_cast<int64_t>(sl.v1 - sl.v0)),
                      w.ls.xn, d, rows, a.logits + sl.v0, V, serial);
  });
}

}  // namespace afm::pt_moe
