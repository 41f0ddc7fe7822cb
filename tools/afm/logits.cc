// afm logits: prints logits as JSON for external checks (tests/reference/ compares them with a
// PyTorch reference). Output:
//   {"model": ..., "n_vocab": V, "positions": [p...], "logits": [[V floats] per position]}
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "afm/engine.h"
#include "afm/error.h"
#include "afm/model.h"
#include "tools/afm/commands.h"

namespace afm::cli {
namespace {

std::vector<int32_t> parse_tokens(const std::string& s) {
  std::vector<int32_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      const long v = std::stol(item, &used);
      if (used != item.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(item);
      out.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      fail("--tokens: '", item, "' is not a token id");
    }
  }
  if (out.empty()) fail("--tokens: no token ids given");
  return out;
}

void print_row(std::span<const float> row) {
  std::fputc('[', stdout);
  for (size_t i = 0; i < row.size(); ++i)
    std::printf(i ? ",%.9g" : "%.9g", static_cast<double>(row[i]));
  std::fputc(']', stdout);
}

}  // namespace

void add_logits(CLI::App& app) {
  struct opts {
    std::string model, tokens;
    bool all = false;
    int steps = 0, threads = 0, batch = 512;
    execution exec = execution::track_parallel;
    kv_cache_type kv = kv_cache_type::model_default;
  };
  auto o = std::make_shared<opts>();
  CLI::App* c = app.add_subcommand(
      "logits",
      "Print logits as JSON: of the last position, of every position (--all), and of each of\n"
      "the last --steps tokens fed one at a time as decode steps after the prefill.");
  c->add_option("-m,--model", o->model, "Model file (GGUF)")->required()->check(CLI::ExistingFile);
  c->add_option("--tokens", o->tokens, "Comma-separated token ids, e.g. 1,2,3")->required();
  c->add_flag("--all", o->all, "Logits of every prefill position (runs every layer everywhere)");
  c->add_option("--steps", o->steps, "Feed the last N tokens as decode steps")
      ->capture_default_str();
  c->add_option("--threads", o->threads, "Threads (0 = all)");
  c->add_option("--batch", o->batch, "Prefill batch size")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  add_execution_option(c, o->exec);
  add_kv_option(c, o->kv);
  c->callback([o] {
    const std::vector<int32_t> toks = parse_tokens(o->tokens);
    if (o->steps < 0 || static_cast<size_t>(o->steps) >= toks.size())
      fail("--steps ", o->steps, " must leave at least one token for the prefill");
    auto m = load_model(o->model);
    engine e(*m, {.n_threads = o->threads,
                  .n_ctx = toks.size(),
                  .batch = static_cast<size_t>(o->batch),
                  .exec = o->exec,
                  .kv_type = o->kv});
    const size_t V = static_cast<size_t>(m->cfg.n_vocab);
    const size_t n_prefill = toks.size() - static_cast<size_t>(o->steps);
    std::span<const int32_t> pre(toks.data(), n_prefill);
    std::vector<size_t> positions;
    std::vector<float> rows;
    auto logits = o->all ? e.prefill_all(pre) : e.prefill(pre);
    rows.insert(rows.end(), logits.begin(), logits.end());
    for (size_t p = o->all ? 0 : n_prefill - 1; p < n_prefill; ++p) positions.push_back(p);
    for (size_t i = n_prefill; i < toks.size(); ++i) {
      logits = e.decode(toks[i]);
      rows.insert(rows.end(), logits.begin(), logits.end());
      positions.push_back(i);
    }
    std::printf("{\"model\":%s,\"n_vocab\":%zu,\"positions\":[",
                nlohmann::json(m->cfg.name).dump().c_str(), V);
    for (size_t i = 0; i < positions.size(); ++i) std::printf(i ? ",%zu" : "%zu", positions[i]);
    std::printf("],\"logits\":[");
    for (size_t i = 0; i < positions.size(); ++i) {
      if (i) std::fputc(',', stdout);
      print_row(std::span<const float>(rows.data() + i * V, V));
    }
    std::printf("]}\n");
  });
}

}  // namespace afm::cli
