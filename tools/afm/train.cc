// afm train RECIPE: runs a training recipe (train/recipes/*.json, docs/training.md) end to end:
// tokenizer, corpus, initial weights, the trainer with a progress bar, then the exported model,
// its held-out perplexity and the loss curve. Rerunning with the same --out resumes.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "afm/bpe_trainer.h"
#include "afm/chat_format.h"
#include "afm/error.h"
#include "afm/model.h"
#include "tools/afm/commands.h"
#include "tools/afm/progress.h"
#include "train/data.h"
#include "train/trainer.h"

namespace afm::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Files named by a recipe, relative to the recipe's folder; a folder stands for every file
// under it, in sorted order.
std::vector<std::string> data_files(const json& list, const fs::path& base) {
  std::vector<std::string> out;
  for (const auto& item : list) {
    const fs::path p = base / item.get<std::string>();
    if (fs::is_directory(p)) {
      std::vector<std::string> found;
      for (const auto& e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file()) found.push_back(e.path().string());
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else {
      if (!fs::exists(p)) fail("recipe: data file ", p.string(), " does not exist");
      out.push_back(p.string());
    }
  }
  return out;
}

train::train_options train_options_of(const json& t, const std::string& out_dir) {
  train::train_options o;
  o.steps = t.value("steps", o.steps);
  o.batch = t.value("batch", o.batch);
  o.lr = t.value("lr", o.lr);
  o.min_lr = t.value("min_lr", o.min_lr);
  o.warmup = t.value("warmup", o.warmup);
  o.weight_decay = t.value("weight_decay", o.weight_decay);
  o.clip = t.value("clip", o.clip);
  o.checkpoint_every = t.value("checkpoint_every", o.checkpoint_every);
  o.out_dir = out_dir;
  if (o.steps < 1 || o.batch < 1 || o.warmup < 0 || !(o.lr > 0))
    fail("recipe: train.steps, train.batch and train.lr must be positive");
  return o;
}

void run_pretrain(const json& r, const fs::path& base, const std::string& out, int64_t steps,
                  int64_t stop_at) {
  fs::create_directories(out);
  const json& data = r.at("data");
  const std::vector<std::string> files = data_files(data.at("files"), base);
  // The tokenizer: a file, or trained on the data once and kept in the run folder.
  const fs::path vocab_path = fs::path(out) / "vocab.json";  // tokenizer::save's format
  const json& tk = r.at("tokenizer");
  tokenizer tok = [&] {
    if (tk.contains("file"))
      return tokenizer::open((base / tk.at("file").get<std::string>()).string());
    if (fs::exists(vocab_path)) return tokenizer::open(vocab_path.string());
    bpe_train_options bo;
    bo.vocab_size = tk.at("vocab_size").get<size_t>();
    bo.specials = afm_chat_special_tokens();
    progress_bar bar("afm train: tokenizer");
    bo.progress = [&](const char*, size_t done, size_t total) { bar.update(done, total); };
    tokenizer t = train_bpe(files, bo);
    t.save(vocab_path.string());
    return t;
  }();
  const int32_t boundary = tok.special_id("<|eos|>");
  if (boundary < 0) fail("recipe: the tokenizer has no <|eos|> token to end documents with");

  model_config cfg = load_config_json((base / r.at("model").get<std::string>()).string());
  cfg.n_vocab = static_cast<int64_t>(tok.vocab_size());
  cfg.name = r.value("name", cfg.name);
  const size_t seq_len = data.at("seq_len").get<size_t>();
  if (static_cast<int64_t>(seq_len) > cfg.n_ctx)
    fail("recipe: data.seq_len ", seq_len, " exceeds the model's context length ", cfg.n_ctx);
  const uint64_t seed = r.value("seed", uint64_t{1});

  progress_bar files_bar("afm train: corpus");
  const train::corpus corpus =
      train::build_corpus(files, tok, {boundary, seed, data.value("heldout", 0.0)},
                          [&](size_t done, size_t total) { files_bar.update(done, total); });
  std::fprintf(stderr,
               "afm train: %zu files, %.1f MB, %zu training documents (%zu tokens), %zu held out "
               "(%zu tokens), vocabulary %zu\n",
               files.size(), static_cast<double>(corpus.bytes) / 1e6, corpus.train_documents,
               corpus.train.size(), corpus.heldout_documents, corpus.heldout.size(),
               tok.vocab_size());

  // Initial weights: random from the config (the same every run, so a resume rebuilds them).
  const std::string init = (fs::path(out) / "init.gguf").string();
  thread_pool pool(2);
  create_random_model(cfg, {.type = dtype::f32, .seed = seed, .std = r.value("init_std", 0.02)},
                      init, pool);
  train::torch_model m = train::import_model(init);
  train::sequence_loader loader(corpus.train, seq_len, seed);
  train::train_options o = train_options_of(r.at("train"), out);
  if (steps > 0) o.steps = steps;
  o.stop_at = stop_at;

  progress_bar bar("afm train");
  train::train(m, loader, o, [&](const train::step_report& s) {
    char suffix[96];
    std::snprintf(suffix, sizeof suffix, "loss %.4f  %.0f tok/s", s.loss, s.tokens_per_s);
    bar.update(static_cast<size_t>(s.step), static_cast<size_t>(s.steps), suffix);
  });
  if (stop_at > 0 && stop_at < o.steps) {
    std::fprintf(stderr, "afm train: stopped after step %lld; run again to resume\n",
                 static_cast<long long>(stop_at));
    return;
  }

  const std::string model_path = (fs::path(out) / "model.gguf").string();
  train::export_model(m, model_path, parse_dtype(r.value("export_dtype", std::string("f32"))), pool,
                      [&](gguf_writer& w) { tok.write_gguf(w); });
  train::write_loss_svg((fs::path(out) / "log.csv").string(),
                        (fs::path(out) / "loss.svg").string());
  json summary{{"model", model_path}, {"steps", o.steps}, {"train_tokens", corpus.train.size()}};
  if (!corpus.heldout.empty()) {
    const double loss = train::mean_loss(m, corpus.heldout, seq_len, 64);
    summary["heldout_loss"] = loss;
    summary["heldout_perplexity"] = std::exp(loss);
    std::fprintf(stderr, "afm train: held-out loss %.4f, perplexity %.2f\n", loss, std::exp(loss));
  }
  std::ofstream(fs::path(out) / "summary.json") << summary.dump(2) << "\n";
  std::fprintf(stderr, "afm train: wrote %s, %s/log.csv and %s/loss.svg\n", model_path.c_str(),
               out.c_str(), out.c_str());
}

}  // namespace

void add_train(CLI::App& app) {
  struct opts {
    std::string recipe, out;
    int64_t steps = 0, stop_at = 0;
    int threads = 0;
  };
  auto o = std::make_shared<opts>();
  CLI::App* c = app.add_subcommand(
      "train",
      "Run a training recipe (train/recipes/*.json; docs/training.md): tokenizer, corpus,\n"
      "initial weights, AdamW with warmup and cosine decay, checkpoints, then the exported\n"
      "model, its held-out perplexity, log.csv and loss.svg in the output folder. Running again\n"
      "with the same --out resumes from the last checkpoint.");
  c->add_option("recipe", o->recipe, "Recipe JSON")->required()->check(CLI::ExistingFile);
  c->add_option("--out", o->out, "Output folder (default: runs/<recipe name>)");
  c->add_option("--steps", o->steps, "Override the recipe's step count")
      ->check(CLI::PositiveNumber);
  c->add_option("--stop-at", o->stop_at,
                "Stop after this step, with a checkpoint (the schedule still ends at the step "
                "count); run again with the same --out to resume")
      ->check(CLI::PositiveNumber);
  c->add_option("--threads", o->threads, "libtorch threads (0: libtorch's default)");
  c->callback([o] {
    std::ifstream in(o->recipe);
    json r;
    try {
      r = json::parse(in);
    } catch (const json::exception& e) {
      fail(o->recipe, ": invalid JSON: ", e.what());
    }
    if (o->threads > 0) torch::set_num_threads(o->threads);
    const fs::path base = fs::path(o->recipe).parent_path();
    const std::string out = o->out.empty() ? "runs/" + fs::path(o->recipe).stem().string() : o->out;
    const std::string kind = r.value("recipe", std::string());
    try {
      if (kind == "pretrain") {
        run_pretrain(r, base, out, o->steps, o->stop_at);
      } else {
        fail(o->recipe, ": unknown recipe '", kind, "' (known: pretrain)");
      }
    } catch (const json::exception& e) {
      fail(o->recipe, ": ", e.what());
    }
  });
}

}  // namespace afm::cli
