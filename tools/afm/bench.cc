// afm bench: prefill and decode speed of one model, with the machine's read bandwidth and FMA
// peak measured in the same run so the figures can be read as fractions of the ceilings.
#include <chrono>
#include <cstdio>
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

void add_bench(CLI::App& app) {
  struct opts {
    std::string model;
    int p = 512, n = 128, threads = 0, reps = 1;
    bool json = false, no_probe = false;
  };
  auto o = std::make_shared<opts>();
  CLI::App* c = app.add_subcommand(
      "bench",
      "Measure prefill and decode: tokens/s, time to first token, KV-cache bytes, decode\n"
      "bandwidth (weight and KV bytes read per token / time) and prefill GFLOP/s, beside the\n"
      "machine's read bandwidth and FMA peak measured in the same run.");
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
  c->add_flag("--json", o->json, "Print one JSON object instead of a table");
  c->add_flag("--no-probe", o->no_probe, "Skip measuring the read bandwidth and FMA peak");
  c->callback([o] {
    using clock = std::chrono::steady_clock;
    auto secs = [](clock::time_point a, clock::time_point b) {
      return std::chrono::duration<double>(b - a).count();
    };
    auto m = load_model(o->model);
    const size_t P = static_cast<size_t>(o->p), N = static_cast<size_t>(o->n);
    engine e(*m, {.n_threads = o->threads, .n_ctx = P + N + 1});
    rng g(42);
    std::vector<int32_t> prompt(P);
    for (auto& t : prompt)
      t = static_cast<int32_t>(g.next() % static_cast<uint64_t>(m->cfg.n_vocab));

    e.decode(prompt[0]);  // pages the weights in
    double best_pf = 1e30, best_dc = 1e30, pf_flops = 0.0;
    for (int r = 0; r < o->reps; ++r) {
      e.reset();
      const double f0 = e.flops();
      const auto t0 = clock::now();
      auto logits = e.prefill(prompt);
      const auto t1 = clock::now();
      pf_flops = e.flops() - f0;
      best_pf = std::min(best_pf, secs(t0, t1));
      int32_t tok =
          static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      const auto t2 = clock::now();
      for (size_t i = 0; i < N; ++i) {
        logits = e.decode(tok);
        tok = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      }
      if (N) best_dc = std::min(best_dc, secs(t2, clock::now()));
    }
    double kv_read = 0.0;
    for (size_t i = 0; i < N; ++i) kv_read += m->arch->kv_read_bytes(m->cfg, P + i);
    const double bytes_per_token = static_cast<double>(m->decode_weight_bytes()) +
                                   (N ? kv_read / static_cast<double>(N) : 0.0);
    const double dc_tok_s = N ? static_cast<double>(N) / best_dc : 0.0;
    const double dc_bw = bytes_per_token * dc_tok_s;
    const double pf_gflops = pf_flops / best_pf / 1e9;
    double membw = 0.0, peak = 0.0;
    if (!o->no_probe) {
      membw = probe::read_bandwidth(e.pool());
      peak = probe::fma_peak(e.pool());
    }

    nlohmann::json j{{"model", o->model},
                     {"arch", m->cfg.arch},
                     {"params", m->n_params()},
                     {"weight_bytes", m->weight_bytes()},
                     {"threads", e.pool().size()},
                     {"simd", kernels::simd_target()},
                     {"prompt_tokens", P},
                     {"decode_tokens", N},
                     {"ttft_s", best_pf},
                     {"prefill_tok_s", static_cast<double>(P) / best_pf},
                     {"prefill_gflop_s", pf_gflops},
                     {"decode_tok_s", dc_tok_s},
                     {"kv_bytes", e.kv_bytes()},
                     {"kv_bytes_per_token", e.kv_bytes_per_token()},
                     {"decode_bytes_per_token", bytes_per_token},
                     {"decode_gb_s", dc_bw / 1e9}};
    if (!o->no_probe) {
      j["read_bandwidth_gb_s"] = membw / 1e9;
      j["decode_bandwidth_fraction"] = dc_bw / membw;
      j["fma_peak_gflop_s"] = peak / 1e9;
      j["prefill_peak_fraction"] = pf_gflops * 1e9 / peak;
    }
    if (o->json) {
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    std::printf("model            %s (%s, %.3f B params, %.1f MB, %zu KV-sharing layers)\n",
                o->model.c_str(), m->cfg.arch.c_str(), static_cast<double>(m->n_params()) / 1e9,
                static_cast<double>(m->weight_bytes()) / 1e6,
                static_cast<size_t>(m->cfg.n_shared_layers()));
    std::printf("threads          %d (%s)\n", e.pool().size(), kernels::simd_target());
    std::printf(
        "prefill          %zu tokens: %.2f tok/s, time to first token %.3f s, %.1f GFLOP/s\n", P,
        static_cast<double>(P) / best_pf, best_pf, pf_gflops);
    std::printf("decode           %zu tokens: %.2f tok/s\n", N, dc_tok_s);
    std::printf("KV cache         %.2f MB allocated, %zu bytes per token\n",
                static_cast<double>(e.kv_bytes()) / 1e6, e.kv_bytes_per_token());
    std::printf("decode traffic   %.1f MB per token, %.2f GB/s\n", bytes_per_token / 1e6,
                dc_bw / 1e9);
    if (!o->no_probe) {
      std::printf("read ceiling     %.2f GB/s -> decode at %.1f%%\n", membw / 1e9,
                  100.0 * dc_bw / membw);
      std::printf("FMA peak         %.1f GFLOP/s -> prefill at %.1f%%\n", peak / 1e9,
                  100.0 * pf_gflops * 1e9 / peak);
    }
  });
}

}  // namespace afm::cli
