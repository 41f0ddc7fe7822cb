// afm perplexity: held-out perplexity of a model on a text file, as the runtime computes it
// from the model file (whatever its weight format), for the compression quality table.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "afm/engine.h"
#include "afm/chat_format.h"
#include "afm/error.h"
#include "afm/synthetic_tasks.h"
#include "afm/tokenizer.h"
#include "tools/afm/commands.h"
#include "tools/afm/progress.h"

namespace afm::cli {

void add_perplexity(CLI::App& app) {
  struct opts {
    std::string model, file;
    size_t synthetic = 0;
    size_t ctx = 0, max_tokens = 0;
    int threads = 0;
    bool json = false;
    kv_cache_type kv = kv_cache_type::model_default;
  };
  auto o = std::make_shared<opts>();
  CLI::App* c = app.add_subcommand(
      "perplexity",
      "Perplexity of a model on a text file: the text is tokenized with the model's vocabulary\n"
      "and cut into windows of --ctx tokens; every token after a window's first is scored\n"
      "given the ones before it. With --synthetic N instead: N held-out examples of each\n"
      "synthetic task (as afm eval draws them) in the chat format, scoring only the response\n"
      "tokens, as SFT trains them. Prints exp(mean negative log-likelihood).");
  c->add_option("-m,--model", o->model, "Model file (GGUF) with a vocabulary")
      ->required()
      ->check(CLI::ExistingFile);
  auto* file = c->add_option("-f,--file", o->file, "Text file")->check(CLI::ExistingFile);
  c->add_option("--synthetic", o->synthetic,
                "Score N held-out examples per synthetic task instead of a file")
      ->excludes(file);
  c->add_option("--ctx", o->ctx, "Window length in tokens (0 = the model's context)");
  c->add_option("--max-tokens", o->max_tokens, "Score at most this many tokens (0 = all)");
  c->add_option("--threads", o->threads, "Threads (0 = all)");
  add_kv_option(c, o->kv);
  c->add_flag("--json", o->json, "Print one JSON object instead of text");
  c->callback([o] {
    auto m = load_model(o->model);
    if (!m->file.has("tokenizer.ggml.model"))
      fail(o->model, ": has no vocabulary (tokenizer.ggml.*), so text cannot be scored");
    const tokenizer tok = tokenizer::from_gguf(m->file);
    const size_t V = static_cast<size_t>(m->cfg.n_vocab);
    const size_t ctx = o->ctx ? o->ctx : static_cast<size_t>(m->cfg.n_ctx);
    if (ctx < 2 || ctx > static_cast<size_t>(m->cfg.n_ctx))
      fail("--ctx ", ctx, " must be between 2 and the model's context, ", m->cfg.n_ctx);
    engine e(*m, {.n_threads = o->threads, .n_ctx = ctx, .kv_type = o->kv});
    double nll = 0.0;
    size_t scored = 0;
    // Scores tokens [from, n) of a sequence, each given the ones before it.
    auto score = [&](std::span<const int32_t> ids, size_t from) {
      e.reset();
      const auto logits = e.prefill_all(ids);
      for (size_t t = std::max<size_t>(from, 1); t < ids.size(); ++t) {
        const float* l = logits.data() + (t - 1) * V;
        const float mx = *std::max_element(l, l + V);
        double sum = 0.0;
        for (size_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(l[v] - mx));
        nll += std::log(sum) + mx - l[static_cast<size_t>(ids[t])];
        ++scored;
      }
    };
    progress_bar bar("afm perplexity");
    if (o->synthetic) {
      std::vector<std::vector<chat_entry>> transcripts;
      for (synthetic_task t : all_synthetic_tasks())
        for (const task_example& x :
             heldout_task_examples(t, o->synthetic, kEvalSeed, kTrainingSeed, kTrainingPerTask))
          for (auto& tr : x.training_transcripts()) transcripts.push_back(std::move(tr));
      for (size_t i = 0; i < transcripts.size(); ++i) {
        const auto& tr = transcripts[i];
        const std::vector<int32_t> ids = encode_chat(tok, chat_family::afm, tr, false);
        const std::vector<chat_entry> prompt(tr.begin(), tr.end() - 1);
        const size_t n_prompt = encode_chat(tok, chat_family::afm, prompt, true).size();
        if (ids.size() > ctx)
          fail("a synthetic transcript of ", ids.size(), " tokens exceeds --ctx ", ctx);
        score(ids, n_prompt);
        bar.update(i + 1, transcripts.size());
      }
    } else {
      if (o->file.empty()) fail("give a text file (-f) or --synthetic N");
      std::ifstream in(o->file, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      std::vector<int32_t> ids = tok.encode(ss.str());
      if (o->max_tokens && ids.size() > o->max_tokens + 1) ids.resize(o->max_tokens + 1);
      if (ids.size() < 2) fail(o->file, ": fewer than 2 tokens of text");
      for (size_t start = 0; start + 1 < ids.size(); start += ctx) {
        const size_t n = std::min(ctx, ids.size() - start);
        if (n >= 2) score(std::span<const int32_t>(ids.data() + start, n), 1);
        bar.update(std::min(start + ctx, ids.size()), ids.size());
      }
    }
    const double ppl = std::exp(nll / static_cast<double>(scored));
    if (o->json) {
      std::printf("{\"model\": \"%s\", \"tokens\": %zu, \"nll\": %.6f, \"perplexity\": %.4f}\n",
                  o->model.c_str(), scored, nll / static_cast<double>(scored), ppl);
    } else {
      std::printf("%s: perplexity %.3f over %zu %s\n", o->model.c_str(), ppl, scored,
                  o->synthetic ? "response tokens" : "tokens");
    }
  });
}

}  // namespace afm::cli
