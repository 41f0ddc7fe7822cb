// PT-MoE benchmarks that need no whole model (issue 5, c and d):
//  c. One MoE FFN (router, top-k, grouped experts) against a dense SwiGLU FFN with the same
//     active parameters (d_ff = k * expert_ff), same threads, same rows, alternating runs.
//  d. KV-cache bytes of a long sequence with the config's interleaved local/global layers
//     against the same model with every layer global, from the runtime's own kv_cache.
//
//   build/bench/afm_pt_moe_bench --config configs/pt-moe-bench.json --dtype q8
//   build/bench/afm_pt_moe_bench --config configs/pt-moe-server-like.json --kv-only
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "afm/error.h"
#include "afm/model.h"
#include "afm/rng.h"
#include "model/blocks.h"
#include "runtime/kv_cache.h"

namespace {

double kv_gib(const afm::model_config& c, size_t positions, size_t batch) {
  const afm::kv_cache kv(*afm::find_architecture(c.arch), c, positions, batch);
  return static_cast<double>(kv.bytes) / (1024.0 * 1024.0 * 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "PT-MoE: MoE FFN time against a dense FFN of the same active parameters, and\n"
      "KV-cache bytes with sliding-window ring buffers against all-global attention."};
  std::string config, dtype_name = "q8", dir = "/tmp/afm-pt-moe-bench", rows_list = "1,64,512";
  int threads = 2, reps = 20;
  size_t kv_positions = 32768, batch = 512;
  bool kv_only = false;
  app.add_option("--config", config, "PT-MoE config JSON")->required()->check(CLI::ExistingFile);
  app.add_option("--dtype", dtype_name, "Weight type of the FFNs")->capture_default_str();
  app.add_option("--rows", rows_list, "Comma-separated token counts per FFN call")
      ->capture_default_str();
  app.add_option("--threads", threads, "Threads")->capture_default_str();
  app.add_option("--reps", reps, "Calls per measurement (best of 3 measurements)")
      ->capture_default_str();
  app.add_option("--kv-positions", kv_positions, "Sequence length for the KV comparison")
      ->capture_default_str();
  app.add_option("--batch", batch, "Prefill batch (ring buffers keep window + batch slots)")
      ->capture_default_str();
  app.add_flag("--kv-only", kv_only, "Only the KV-cache comparison (needs no weights)");
  app.add_option("--dir", dir, "Where the two-layer model file is kept")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    const afm::model_config c = afm::load_config_json(config);
    if (c.moe_every == 0) afm::fail(config, ": the config has no MoE layers");

    // d. KV cache.
    afm::model_config global = c;
    global.global_every = 1;
    global.n_ctx = std::max<int64_t>(c.n_ctx, static_cast<int64_t>(kv_positions));
    afm::model_config local = c;
    local.n_ctx = global.n_ctx;
    const double a = kv_gib(local, kv_positions, batch), b = kv_gib(global, kv_positions, batch);
    std::printf(
        "KV cache, %zu positions, f32 (%s: %lld tracks x %lld layers, window %lld, 1 "
        "global in %lld):\n  interleaved %.3f GiB, all global %.3f GiB: %.1f%% less "
        "(%.2fx smaller)\n",
        kv_positions, c.name.c_str(), static_cast<long long>(c.n_tracks),
        static_cast<long long>(c.n_layers), static_cast<long long>(c.sliding_window),
        static_cast<long long>(c.global_every), a, b, 100.0 * (1.0 - a / b), b / a);
    if (kv_only) return 0;

    // c. MoE FFN against a dense FFN with the same active parameters: a one-track model of two
    // layers, layer 0 dense with d_ff = k * expert_ff, layer 1 the MoE.
    afm::model_config two = c;
    two.name = c.name + "-ffn-pair";
    two.n_tracks = 1;
    two.n_layers = 2;
    two.track_block_depth = 1;
    two.moe_every = 2;
    two.d_ff = c.n_experts_used * c.expert_ff;
    two.sliding_window = 0;
    two.global_every = 0;
    afm::set_default_kv_sources(two);
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/" + two.name + "-" + dtype_name + ".gguf";
    afm::thread_pool pool(threads);
    if (!std::filesystem::exists(path))
      afm::create_random_model(two, {.type = afm::parse_dtype(dtype_name)}, path, pool);
    auto m = afm::load_model(path);
    const afm::layer_weights &dense = m->layers[0], &moe = m->layers[1];
    std::vector<size_t> rows;
    for (size_t p = 0, q; p <= rows_list.size(); p = q + 1) {
      q = rows_list.find(',', p);
      if (q == std::string::npos) q = rows_list.size();
      rows.push_back(std::stoul(rows_list.substr(p, q - p)));
    }
    const size_t d = static_cast<size_t>(c.d_model), ff = static_cast<size_t>(two.d_ff);
    std::printf(
        "\nFFN time, %s, %d threads: MoE top-%lld of %lld experts x %lld wide against a "
        "dense SwiGLU %zu wide (same active parameters: %.2f M)\n",
        dtype_name.c_str(), threads, static_cast<long long>(c.n_experts_used),
        static_cast<long long>(c.n_experts), static_cast<long long>(c.expert_ff), ff,
        3.0 * static_cast<double>(d * ff) / 1e6);
    std::printf("%8s %14s %14s %10s %22s\n", "rows", "dense (ms)", "MoE (ms)", "MoE/dense",
                "experts hit (of E)");
    for (size_t n : rows) {
      std::vector<float> xn(n * d), x(n * d), gate(n * ff), up(n * ff);
      afm::rng g(7);
      for (float& v : xn) v = static_cast<float>(g.normal());
      std::vector<float> moe_buf(afm::blocks::moe_scratch_floats(two, n));
      const auto s = afm::blocks::carve_moe_scratch(two, n, moe_buf.data());
      std::vector<uint64_t> load(static_cast<size_t>(c.n_experts));
      using clock = std::chrono::steady_clock;
      double best_dense = 1e30, best_moe = 1e30;
      for (int round = 0; round < 3; ++round) {
        auto t0 = clock::now();
        for (int r = 0; r < reps; ++r)
          afm::blocks::ffn_swiglu(dense.w_gate, dense.w_up, dense.w_down, xn.data(), n, gate.data(),
                                  up.data(), x.data(), pool);
        auto t1 = clock::now();
        for (int r = 0; r < reps; ++r)
          afm::blocks::moe_swiglu(two, moe, xn.data(), n, s, x.data(), load.data(), pool);
        auto t2 = clock::now();
        best_dense = std::min(best_dense, std::chrono::duration<double>(t1 - t0).count() / reps);
        best_moe = std::min(best_moe, std::chrono::duration<double>(t2 - t1).count() / reps);
      }
      const size_t hit = static_cast<size_t>(
          std::count_if(load.begin(), load.end(), [](uint64_t v) { return v > 0; }));
      std::printf("%8zu %14.3f %14.3f %10.2f %22zu\n", n, best_dense * 1e3, best_moe * 1e3,
                  best_moe / best_dense, hit);
    }
  } catch (const afm::error& e) {
    std::fprintf(stderr, "afm_pt_moe_bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
