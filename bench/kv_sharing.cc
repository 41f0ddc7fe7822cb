// KV-cache sharing benchmark (report section 2.1 claims -37.5% KV memory and ~-37.5% time to
// first token). Builds the same shape twice — with the config's shared fraction and with none —
// and measures both in one run, alternating, so the ratios hold on a noisy machine.
//
//   build/bench/afm_kv_sharing_bench --config configs/afm-1b.json --dtype q8 -p 512,2048
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "afm/engine.h"
#include "afm/error.h"
#include "afm/model.h"
#include "afm/rng.h"

int main(int argc, char** argv) {
  CLI::App app{"Time to first token and KV bytes with and without KV-cache sharing, same shape."};
  std::string config, dtype_name = "q8", dir = "/tmp/afm-kv-sharing-bench", prompts = "512,2048";
  int threads = 2, reps = 2;
  app.add_option("--config", config, "Model config JSON")->required()->check(CLI::ExistingFile);
  app.add_option("--dtype", dtype_name, "Weight type")->capture_default_str();
  app.add_option("-p,--prompts", prompts, "Comma-separated prompt lengths")->capture_default_str();
  app.add_option("--threads", threads, "Threads")->capture_default_str();
  app.add_option("--reps", reps, "Repetitions (best kept)")->capture_default_str();
  app.add_option("--dir", dir, "Where the two model files are kept between runs")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    afm::model_config shared = afm::load_config_json(config);
    afm::model_config plain = shared;
    plain.kv_shared_fraction = 0.0;
    afm::set_default_kv_sources(plain);
    std::filesystem::create_directories(dir);
    const afm::dtype type = afm::parse_dtype(dtype_name);
    std::vector<std::unique_ptr<afm::model>> models;
    for (const auto* c : {&shared, &plain}) {
      const std::string path = dir + "/" + c->name + "-" + dtype_name + "-shared" +
                               std::to_string(c->n_shared_layers()) + ".gguf";
      if (!std::filesystem::exists(path)) {
        std::fprintf(stderr, "creating %s\n", path.c_str());
        afm::thread_pool pool(threads);
        int last_quarter = 0;
        afm::create_random_model(*c, {.type = type}, path, pool, [&](size_t done, size_t total) {
          const int quarter = static_cast<int>(4 * done / total);  // done counts weights
          if (quarter > last_quarter) std::fprintf(stderr, "  %d%% of weights\n", 25 * quarter);
          last_quarter = quarter;
        });
      }
      models.push_back(afm::load_model(path));
    }
    std::vector<size_t> lengths;
    std::stringstream ss(prompts);
    for (std::string item; std::getline(ss, item, ',');) lengths.push_back(std::stoul(item));

    std::printf("%s, %s, %d threads: %lld layers, %lld share KV\n", shared.name.c_str(),
                dtype_name.c_str(), threads, static_cast<long long>(shared.n_layers),
                static_cast<long long>(shared.n_shared_layers()));
    std::printf("%8s %14s %14s %10s %16s %16s %10s\n", "prompt", "TTFT shared", "TTFT plain",
                "change", "KV bytes shared", "KV bytes plain", "change");
    afm::rng g(1);
    for (size_t P : lengths) {
      std::vector<int32_t> prompt(P);
      for (auto& t : prompt)
        t = static_cast<int32_t>(g.next() % static_cast<uint64_t>(shared.n_vocab));
      double best[2] = {1e30, 1e30};
      size_t kv[2] = {0, 0};
      for (int r = 0; r < reps; ++r) {
        for (size_t i = 0; i < 2; ++i) {  // alternate so drift hits both alike
          afm::engine e(*models[i], {.n_threads = threads, .n_ctx = P});
          const auto t0 = std::chrono::steady_clock::now();
          e.prefill(prompt);
          best[i] = std::min(
              best[i],
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
          kv[i] = e.kv_bytes();
        }
      }
      std::printf("%8zu %13.3fs %13.3fs %9.1f%% %16zu %16zu %9.1f%%\n", P, best[0], best[1],
                  100.0 * (best[0] / best[1] - 1.0), kv[0], kv[1],
                  100.0 * (static_cast<double>(kv[0]) / static_cast<double>(kv[1]) - 1.0));
      std::fflush(stdout);
    }
  } catch (const afm::error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
