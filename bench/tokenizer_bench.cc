// Single-thread encode throughput of afm's tokenizer on a file, in MB/s (best of --reps).
//   build/bench/afm_tokenizer_bench --vocab ../shared/vocab/o200k_base.tiktoken --file corpus.txt
// bench/tokenizer_bench.sh runs it beside js-tiktoken on the same corpus.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "afm/error.h"
#include "afm/tokenizer.h"

int main(int argc, char** argv) {
  CLI::App app{"Single-thread tokenizer encode throughput."};
  std::string vocab, file;
  int reps = 5;
  app.add_option("--vocab", vocab, "Vocabulary (as for afm tokenize)")->required();
  app.add_option("--file", file, "Text to encode")->required()->check(CLI::ExistingFile);
  app.add_option("--reps", reps, "Repetitions (best kept)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    const afm::tokenizer tok = afm::tokenizer::open(vocab);
    std::ifstream in(file, std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), {}};
    double best = 1e30;
    size_t n = 0;
    std::vector<int32_t> ids;
    for (int r = 0; r < reps; ++r) {
      ids.clear();
      const auto t0 = std::chrono::steady_clock::now();
      tok.encode(text, afm::special_tokens::as_text, ids);
      best = std::min(best,
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      n = ids.size();
    }
    std::printf("afm %s: %zu bytes -> %zu tokens, %.2f MB/s\n", vocab.c_str(), text.size(), n,
                static_cast<double>(text.size()) / best / 1e6);
  } catch (const afm::error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
