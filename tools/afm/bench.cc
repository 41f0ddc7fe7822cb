// afm bench: prefill and decode speed of one model, with the machine's read bandwidth and FMA
// peak measured in the same run so the figures can be read as fractions of the ceilings. Decode
// also runs in rounds with the read probe between them, each round against the ceiling around
// it, because this class of machine changes its memory speed within a run. For a model with
// parallel tracks (PT-MoE) it runs both ways of executing it, track-parallel and the
// layer-parallel baseline, in the same run, with the synchronizations each needs per token and
// the experts' loads.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "afm/engine.h"
#include "afm/model.h"
#include "afm/rng.h"
#include "core/kernels.h"
#include "core/probe.h"
#include "model/architecture.h"
#include "tools/afm/commands.h"

namespace afm::cli {
namespace {

// A stretch of decode and the read ceiling around it: the better of the probes taken just before
// and just after it, so a drift in the machine's memory speed moves both sides of the ratio.
struct decode_round {
  size_t pos = 0, tokens = 0;  // position of the round's first token
  double seconds = 0.0, ceiling = 0.0;
};

struct bench_run {
  double prefill_s = 1e30, decode_s = 1e30, prefill_flops = 0.0;
  double prefill_syncs = 0.0, decode_syncs = 0.0;  // per token
  size_t kv_bytes = 0, kv_bytes_per_token = 0;
  bool kv_8bit = false;
  std::vector<uint64_t> expert_load;
  std::vector<decode_round> rounds;  // of the fastest decode; empty without probing
  int threads = 0;
};

// Passes of the read probe between decode rounds: 2 of 1 GiB, about 50 ms at 40 GB/s.
constexpr int kRoundProbeReps = 2;

// Decodes in `rounds` stretches with the read probe between them (0: no probe), so each stretch
// has a ceiling measured around it; the probe's time is not decode time.
bench_run measure(const model& m, engine_options eo, const std::vector<int32_t>& prompt, size_t N,
                  int reps, size_t rounds) {
  using clock = std::chrono::steady_clock;
  auto secs = [](clock::time_point a, clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  engine e(m, eo);
  bench_run r;
  r.threads = e.pool().size();
  r.kv_bytes = e.kv_bytes();
  r.kv_bytes_per_token = e.kv_bytes_per_token();
  r.kv_8bit = e.kv_8bit();
  e.decode(prompt[0]);  // pages the weights in
  rounds = std::min(rounds, N);
  std::optional<probe::read_buffer> probe_buf;
  if (rounds) probe_buf.emplace(e.pool(), size_t{1} << 30);
  auto ceiling = [&] { return probe::read_bandwidth(e.pool(), *probe_buf, kRoundProbeReps); };
  for (int rep = 0; rep < reps; ++rep) {
    e.reset();
    const double f0 = e.flops();
    const uint64_t s0 = e.synchronizations();
    const auto t0 = clock::now();
    auto logits = e.prefill(prompt);
    const auto t1 = clock::now();
    r.prefill_flops = e.flops() - f0;
    r.prefill_syncs =
        static_cast<double>(e.synchronizations() - s0) / static_cast<double>(prompt.size());
    r.prefill_s = std::min(r.prefill_s, secs(t0, t1));
    int32_t tok =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    std::vector<decode_round> rs(std::max<size_t>(rounds, 1));
    double before = rounds ? ceiling() : 0.0, decode_s = 0.0;
    uint64_t syncs = 0;  // of decode alone: the probe runs loops on the same pool
    for (size_t k = 0, i = 0; k < rs.size(); ++k) {
      decode_round& d = rs[k];
      d.pos = prompt.size() + i;
      const size_t end = N * (k + 1) / rs.size();
      const uint64_t s1 = e.synchronizations();
      const auto t2 = clock::now();
      for (; i < end; ++i, ++d.tokens) {
        logits = e.decode(tok);
        tok = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      }
      d.seconds = secs(t2, clock::now());
      decode_s += d.seconds;
      syncs += e.synchronizations() - s1;
      if (rounds) {
        const double after = ceiling();
        d.ceiling = std::max(before, after);
        before = after;
      }
    }
    if (N && decode_s < r.decode_s) {
      r.decode_s = decode_s;
      r.decode_syncs = static_cast<double>(syncs) / static_cast<double>(N);
      if (rounds) r.rounds = rs;
    }
  }
  r.expert_load.assign(e.expert_load().begin(), e.expert_load().end());
  return r;
}

// Busiest expert's share of its layer's routed tokens against a perfectly even 1/E, the worst
// layer over all tracks: 1.0 is perfect balance.
double worst_expert_imbalance(const model_config& c, const std::vector<uint64_t>& load) {
  double worst = 0.0;
  const size_t E = static_cast<size_t>(c.n_experts);
  for (size_t row = 0; E && row + E <= load.size(); row += E) {
    const uint64_t total = std::accumulate(load.begin() + static_cast<long>(row),
                                           load.begin() + static_cast<long>(row + E), uint64_t{0});
    if (!total) continue;
    const uint64_t top = *std::max_element(load.begin() + static_cast<long>(row),
                                           load.begin() + static_cast<long>(row + E));
    worst = std::max(
        worst, static_cast<double>(top) * static_cast<double>(E) / static_cast<double>(total));
  }
  return worst;
}

}  // namespace

void add_bench(CLI::App& app) {
  struct opts {
    std::string model;
    int p = 512, n = 128, threads = 0, reps = 1, rounds = 8;
    bool json = false, no_probe = false, q2_rows = false, q2_tiles = false;
    std::optional<execution> exec;
    kv_cache_type kv = kv_cache_type::model_default;
    gguf_load load = gguf_load::read;
  };
  auto o = std::make_shared<opts>();
  CLI::App* c = app.add_subcommand(
      "bench",
      "Measure prefill and decode: tokens/s, time to first token, KV-cache bytes, decode\n"
      "bandwidth (weight and KV bytes read per token / time) and prefill GFLOP/s, beside the\n"
      "machine's read bandwidth and FMA peak measured in the same run; decode runs in rounds,\n"
      "each against the read ceiling probed just before and after it. PT-MoE models run both\n"
      "ways (track-parallel and the layer-parallel baseline) unless --execution picks one, and\n"
      "report synchronizations per token and expert loads.");
  c->add_option("-m,--model", o->model, "Model file (GGUF)")->required()->check(CLI::ExistingFile);
  c->add_option("-p,--prompt", o->p, "Prompt tokens to prefill")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  c->add_option("-n,--tokens", o->n, "Tokens to decode")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  c->add_option("--threads", o->threads, "Threads (0 = all)");
  c->add_option("--reps", o->reps, "Repeat prefill and decode, keep the best")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  add_execution_option(
      c, [o](execution v) { o->exec = v; },
      "PT-MoE models: only 'track' (track-parallel) or only 'layer' (the baseline)");
  add_kv_option(c, o->kv);
  add_mmap_option(c, o->load);
  auto* rows_flag =
      c->add_flag("--q2-rows", o->q2_rows,
                  "Keep q2 matrices in the file's row layout (q2's int8 dot-product kernel)");
  c->add_flag("--q2-tiles", o->q2_tiles,
              "Re-lay q2 matrices into 16-row tiles for the lookup kernel. Without either flag, "
              "tiles where the SIMD target's vectors are narrower than 512 bits, rows otherwise "
              "(the faster decode on each, docs/performance.md)")
      ->excludes(rows_flag);
  c->add_flag("--json", o->json, "Print one JSON object instead of a table");
  c->add_option("--rounds", o->rounds,
                "Split decode into this many rounds, each read against the ceiling probed just "
                "before and after it (0: none)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  c->add_flag("--no-probe", o->no_probe,
              "Skip measuring the read bandwidth and FMA peak (and the rounds' probes)");
  c->callback([o] {
    const q2_layout layout = o->q2_rows    ? q2_layout::rows
                             : o->q2_tiles ? q2_layout::tiles
                                           : q2_layout::automatic;
    auto m = load_model(o->model, o->load, layout);
    const size_t P = static_cast<size_t>(o->p), N = static_cast<size_t>(o->n);
    rng g(42);
    std::vector<int32_t> prompt(P);
    for (auto& t : prompt)
      t = static_cast<int32_t>(g.next() % static_cast<uint64_t>(m->cfg.n_vocab));
    const bool tracks = m->cfg.n_tracks > 1;
    const execution first = o->exec.value_or(execution::track_parallel);
    engine_options eo{.n_threads = o->threads, .n_ctx = P + N + 1, .exec = first, .kv_type = o->kv};
    const size_t rounds = o->no_probe ? 0 : static_cast<size_t>(o->rounds);
    const bench_run r = measure(*m, eo, prompt, N, o->reps, rounds);
    std::optional<bench_run> base;
    if (tracks && !o->exec) {
      eo.exec = execution::layer_parallel;
      base = measure(*m, eo, prompt, N, o->reps, 0);
    }

    // Bytes the decode token at `pos` reads: every weight, and the KV cache up to it (8-bit: an
    // int8 value per f32 one, plus an f32 scale per head vector).
    const double hd = static_cast<double>(m->cfg.head_dim);
    const double kv_scale = r.kv_8bit ? (hd + 4.0) / (4.0 * hd) : 1.0;
    auto bytes_from = [&](size_t pos, size_t n) {  // of the n tokens from pos
      double b = 0.0;
      for (size_t i = 0; i < n; ++i)
        b += static_cast<double>(m->decode_weight_bytes()) +
             m->arch->kv_read_bytes(m->cfg, pos + i) * kv_scale;
      return b;
    };
    const double bytes_per_token = N ? bytes_from(P, N) / static_cast<double>(N)
                                     : static_cast<double>(m->decode_weight_bytes());
    // Each round's decode bandwidth, and as a fraction of its own ceiling (sorted).
    std::vector<double> round_bw, paired;
    for (const decode_round& d : r.rounds) {
      round_bw.push_back(d.tokens ? bytes_from(d.pos, d.tokens) / d.seconds : 0.0);
      if (d.tokens && d.ceiling > 0.0) paired.push_back(round_bw.back() / d.ceiling);
    }
    std::sort(paired.begin(), paired.end());
    const double paired_median =
        paired.empty() ? 0.0 : (paired[(paired.size() - 1) / 2] + paired[paired.size() / 2]) / 2.0;
    auto tok_s = [&](const bench_run& b) { return N ? static_cast<double>(N) / b.decode_s : 0.0; };
    const double dc_bw = bytes_per_token * tok_s(r);
    const double pf_gflops = r.prefill_flops / r.prefill_s / 1e9;
    double membw = 0.0, peak = 0.0;
    if (!o->no_probe) {
      thread_pool pool(r.threads);
      membw = probe::read_bandwidth(pool);
      peak = probe::fma_peak(pool);
    }
    const char* exec_name = !tracks                              ? "single track"
                            : first == execution::track_parallel ? "track-parallel"
                                                                 : "layer-parallel";

    // Matrices in each q2 layout (load_model's choice, or the flag's); a tensor two slots bind
    // counts once, as load_model re-lays it once.
    size_t q2_tiled = 0, q2_rowwise = 0;
    std::set<const void*> counted;
    for (const tensor_slot& s : m->arch->tensors(m->cfg, m.get())) {
      if (!counted.insert(s.slot->data).second) continue;
      q2_tiled += s.slot->type == dtype::afm_q2_tiles;
      q2_rowwise += s.slot->type == dtype::afm_q2;
    }

    nlohmann::json j{{"model", o->model},
                     {"arch", m->cfg.arch},
                     {"params", m->n_params()},
                     {"weight_bytes", m->weight_bytes()},
                     {"weights_load", o->load == gguf_load::map ? "map" : "read"},
                     {"weights_huge_page_bytes", m->file.huge_page_bytes()},
                     {"q2_tile_matrices", q2_tiled},
                     {"q2_row_matrices", q2_rowwise},
                     {"threads", r.threads},
                     {"simd", kernels::simd_target()},
                     {"execution", exec_name},
                     {"prompt_tokens", P},
                     {"decode_tokens", N},
                     {"ttft_s", r.prefill_s},
                     {"prefill_tok_s", static_cast<double>(P) / r.prefill_s},
                     {"prefill_gflop_s", pf_gflops},
                     {"decode_tok_s", tok_s(r)},
                     {"prefill_syncs_per_token", r.prefill_syncs},
                     {"decode_syncs_per_token", r.decode_syncs},
                     {"kv_bytes", r.kv_bytes},
                     {"kv_bytes_per_token", r.kv_bytes_per_token},
                     {"kv_cache_type", r.kv_8bit ? "q8" : "f32"},
                     {"decode_bytes_per_token", bytes_per_token},
                     {"decode_gb_s", dc_bw / 1e9}};
    if (m->cfg.moe_every > 0) {
      j["expert_load"] = r.expert_load;
      j["expert_load_max_over_mean"] = worst_expert_imbalance(m->cfg, r.expert_load);
    }
    if (base)
      j["layer_parallel"] = {{"prefill_tok_s", static_cast<double>(P) / base->prefill_s},
                             {"decode_tok_s", tok_s(*base)},
                             {"prefill_syncs_per_token", base->prefill_syncs},
                             {"decode_syncs_per_token", base->decode_syncs}};
    if (!o->no_probe) {
      j["read_bandwidth_gb_s"] = membw / 1e9;
      j["decode_bandwidth_fraction"] = dc_bw / membw;
      j["fma_peak_gflop_s"] = peak / 1e9;
      j["prefill_peak_fraction"] = pf_gflops * 1e9 / peak;
    }
    if (!paired.empty()) {
      nlohmann::json rounds_j = nlohmann::json::array();
      for (size_t k = 0; k < r.rounds.size(); ++k)
        rounds_j.push_back({{"first_position", r.rounds[k].pos},
                            {"tokens", r.rounds[k].tokens},
                            {"decode_gb_s", round_bw[k] / 1e9},
                            {"ceiling_gb_s", r.rounds[k].ceiling / 1e9}});
      j["paired_rounds"] = rounds_j;
      j["paired_decode_fraction"] = {
          {"median", paired_median}, {"min", paired.front()}, {"max", paired.back()}};
    }
    if (o->json) {
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    std::printf("model            %s (%s, %.3f B params, %.1f MB, %zu KV-sharing layers)\n",
                o->model.c_str(), m->cfg.arch.c_str(), static_cast<double>(m->n_params()) / 1e9,
                static_cast<double>(m->weight_bytes()) / 1e6,
                static_cast<size_t>(m->cfg.n_shared_layers()));
    if (o->load == gguf_load::map)
      std::printf("weights          mapped from the file (4 KiB pages)\n");
    else
      std::printf("weights          read into memory, %.1f of %.1f MB in 2 MiB pages\n",
                  static_cast<double>(m->file.huge_page_bytes()) / 1e6,
                  static_cast<double>(m->file.file_size()) / 1e6);
    if (q2_tiled + q2_rowwise > 0)
      std::printf("q2 layout        %zu tensors in 16-row tiles (lookup kernel), %zu in rows\n",
                  q2_tiled, q2_rowwise);
    std::printf("threads          %d (%s), %s\n", r.threads, kernels::simd_target(), exec_name);
    std::printf(
        "prefill          %zu tokens: %.2f tok/s, time to first token %.3f s, %.1f GFLOP/s\n", P,
        static_cast<double>(P) / r.prefill_s, r.prefill_s, pf_gflops);
    std::printf("decode           %zu tokens: %.2f tok/s\n", N, tok_s(r));
    if (tracks) {
      const int64_t blocks = m->cfg.n_layers / m->cfg.track_block_depth;
      std::printf(
          "synchronizations %.2f per decode token, %.3f per prefill token (%lld track "
          "blocks; tensor parallelism would need 2 x %lld layers = %lld)\n",
          r.decode_syncs, r.prefill_syncs, static_cast<long long>(blocks),
          static_cast<long long>(m->cfg.n_layers), static_cast<long long>(2 * m->cfg.n_layers));
    }
    if (base) {
      std::printf(
          "layer-parallel   prefill %.2f tok/s, decode %.2f tok/s, %.2f synchronizations "
          "per decode token, %.3f per prefill token\n",
          static_cast<double>(P) / base->prefill_s, tok_s(*base), base->decode_syncs,
          base->prefill_syncs);
      std::printf("track/layer      prefill x%.2f, decode x%.2f, synchronizations %.1f%% fewer\n",
                  base->prefill_s / r.prefill_s, N ? base->decode_s / r.decode_s : 0.0,
                  100.0 * (1.0 - r.decode_syncs / base->decode_syncs));
    }
    if (m->cfg.moe_every > 0)
      std::printf("experts          busiest expert %.2fx an even share (worst layer)\n",
                  worst_expert_imbalance(m->cfg, r.expert_load));
    std::printf("KV cache         %s, %.2f MB allocated, %zu bytes per token\n",
                r.kv_8bit ? "8-bit" : "f32", static_cast<double>(r.kv_bytes) / 1e6,
                r.kv_bytes_per_token);
    std::printf("decode traffic   %.1f MB per token, %.2f GB/s\n", bytes_per_token / 1e6,
                dc_bw / 1e9);
    if (!o->no_probe) {
      std::printf("read ceiling     %.2f GB/s -> decode at %.1f%%\n", membw / 1e9,
                  100.0 * dc_bw / membw);
      std::printf("FMA peak         %.1f GFLOP/s -> prefill at %.1f%%\n", peak / 1e9,
                  100.0 * pf_gflops * 1e9 / peak);
    }
    if (!paired.empty())
      std::printf(
          "paired rounds    %zu rounds, each against the ceiling read just before and after "
          "it: decode at %.1f%% (median; %.1f-%.1f%%)\n",
          paired.size(), 100.0 * paired_median, 100.0 * paired.front(), 100.0 * paired.back());
  });
}

}  // namespace afm::cli
