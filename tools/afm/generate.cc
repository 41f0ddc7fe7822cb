// afm generate: streams a continuation of a prompt. A model file with a vocabulary
// (tokenizer.ggml.*) encodes and decodes through it; without one, text maps to tokens byte by
// byte (token id = byte value) and ids above 255 print as <id>.
#include <chrono>
#include <optional>
#include <cstdio>
#include <string>
#include <vector>

#include "afm/engine.h"
#include "afm/error.h"
#include "afm/model.h"
#include "afm/sampler.h"
#include "afm/tokenizer.h"
#include "tools/afm/commands.h"

namespace afm::cli {

void add_generate(CLI::App& app) {
  struct opts {
    std::string model, prompt;
    int n = 64, threads = 0, top_k = 0;
    float temp = 0.8f, top_p = 0.95f;
    uint64_t seed = 0;
    bool greedy = false, quiet = false;
    execution exec = execution::track_parallel;
    kv_cache_type kv = kv_cache_type::model_default;
    gguf_load load = gguf_load::read;
  };
  auto o = std::make_shared<opts>();
  CLI::App* c = app.add_subcommand("generate", "Generate text from a prompt, streamed to stdout.");
  c->add_option("-m,--model", o->model, "Model file (GGUF)")->required()->check(CLI::ExistingFile);
  c->add_option("-p,--prompt", o->prompt, "Prompt text")->required();
  c->add_option("-n,--tokens", o->n, "Tokens to generate")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  c->add_option("--temp", o->temp, "Sampling temperature (0 = greedy)")->capture_default_str();
  c->add_option("--top-k", o->top_k, "Keep the k most likely tokens (0 = all)")
      ->capture_default_str();
  c->add_option("--top-p", o->top_p, "Keep the smallest set with this probability")
      ->capture_default_str();
  c->add_option("--seed", o->seed, "Sampling seed")->capture_default_str();
  c->add_flag("--greedy", o->greedy, "Always take the most likely token");
  add_execution_option(c, o->exec);
  add_kv_option(c, o->kv);
  add_mmap_option(c, o->load);
  c->add_option("--threads", o->threads, "Threads (0 = all)");
  c->add_flag("-q,--quiet", o->quiet, "Do not print timings to stderr");
  c->callback([o] {
    auto m = load_model(o->model, o->load);
    // The model's own vocabulary when the file has one; otherwise bytes are tokens.
    std::optional<tokenizer> tok;
    if (m->file.has("tokenizer.ggml.model")) tok = tokenizer::from_gguf(m->file);
    std::vector<int32_t> prompt;
    if (tok) {
      prompt = tok->encode(o->prompt);
    } else {
      if (m->cfg.n_vocab < 256)
        fail(o->model, ": vocabulary of ", m->cfg.n_vocab,
             " tokens cannot hold byte tokens (needs 256)");
      for (unsigned char ch : o->prompt) prompt.push_back(ch);
    }
    if (prompt.empty()) fail("the prompt is empty");
    const size_t n_ctx = std::min<size_t>(static_cast<size_t>(m->cfg.n_ctx),
                                          prompt.size() + static_cast<size_t>(o->n));
    engine e(*m, {.n_threads = o->threads, .n_ctx = n_ctx, .exec = o->exec, .kv_type = o->kv});
    sampler s({.temperature = o->greedy ? 0.0f : o->temp,
               .top_k = o->top_k,
               .top_p = o->top_p,
               .seed = o->seed});

    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    auto logits = e.prefill(prompt);
    const auto t1 = clock::now();
    std::fwrite(o->prompt.data(), 1, o->prompt.size(), stdout);
    int generated = 0;
    for (; generated < o->n; ++generated) {
      const int32_t t = s.sample(logits);
      if (tok) {
        const std::string_view b = tok->token_bytes(t);
        std::fwrite(b.data(), 1, b.size(), stdout);
      } else if (t < 256) {
        std::fputc(t, stdout);
      } else {
        std::fprintf(stdout, "<%d>", t);
      }
      std::fflush(stdout);
      if (generated + 1 == o->n) {
        ++generated;
        break;
      }
      if (e.position() >= e.context_size()) {
        ++generated;
        std::fprintf(stderr,
                     "\nafm generate: stopped after %d tokens: the context of %zu is full\n",
                     generated, e.context_size());
        break;
      }
      logits = e.decode(t);
    }
    const auto t2 = clock::now();
    std::fputc('\n', stdout);
    if (!o->quiet) {
      const double pf = std::chrono::duration<double>(t1 - t0).count();
      const double dc = std::chrono::duration<double>(t2 - t1).count();
      std::fprintf(stderr,
                   "afm generate: prompt %zu tokens in %.3f s (%.1f tok/s), %d generated in %.3f s "
                   "(%.1f tok/s)\n",
                   prompt.size(), pf, static_cast<double>(prompt.size()) / pf, generated, dc,
                   generated > 1 ? (generated - 1) / dc : 0.0);
    }
  });
}

}  // namespace afm::cli
