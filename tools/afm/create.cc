// afm create: writes a model file with random weights from a JSON config.
#include <cstdio>
#include <string>

#include <optional>

#include "afm/error.h"
#include "afm/gguf.h"
#include "afm/model.h"
#include "afm/tokenizer.h"
#include "afm/thread_pool.h"
#include "tools/afm/commands.h"
#include "tools/afm/progress.h"

namespace afm::cli {

void add_create(CLI::App& app) {
  struct opts {
    std::string config, out, dtype = "f32";
    uint64_t seed = 1;
    double std = 0.02;
    double shared = -1.0;
    std::string rope_style;
    std::string vocab;
    int threads = 0;
  };
  auto o = std::make_shared<opts>();
  CLI::App* c = app.add_subcommand(
      "create",
      "Write a model with random weights from a config (for tests and benchmarks).\n"
      "Initialisation: embeddings and projections ~ N(0, std); attn_output and ffn_down ~\n"
      "N(0, std / sqrt(2 * n_layers)); norm gains ~ N(1, 0.1), stored as f32.");
  c->add_option("--config", o->config, "Model config JSON (see configs/)")
      ->required()
      ->check(CLI::ExistingFile);
  c->add_option("--out", o->out, "Output GGUF file")->required();
  c->add_option("--dtype", o->dtype,
                "Weight type: f32, bf16, f16, q8, q4, q2 (q4/q2: rows a multiple of 256), astc or\n"
                "pal2 / pal4 (any shape; astc encodes at about 1 M weights/s per thread)")
      ->capture_default_str();
  c->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  c->add_option("--std", o->std, "Standard deviation of the weights")->capture_default_str();
  c->add_option("--kv-shared-fraction", o->shared,
                "Override the config's fraction of layers that share KV (0 = none)");
  c->add_option("--rope-style", o->rope_style, "Override the config's RoPE pairing")
      ->check(CLI::IsMember({"interleaved", "half"}));
  c->add_option("--vocab", o->vocab,
                "Embed this vocabulary (as for afm tokenize); its size must match the config's");
  c->add_option("--threads", o->threads, "Threads (0 = all)");
  c->callback([o] {
    model_config cfg = load_config_json(o->config);
    if (!o->rope_style.empty())
      cfg.rope = o->rope_style == "half" ? rope_style::half : rope_style::interleaved;
    if (o->shared >= 0.0) {
      cfg.kv_shared_fraction = o->shared;
      set_default_kv_sources(cfg);
    }
    create_options co;
    co.type = parse_dtype(o->dtype);
    co.seed = o->seed;
    co.std = o->std;
    thread_pool pool(o->threads > 0 ? o->threads
                                    : static_cast<int>(std::thread::hardware_concurrency()));
    progress_bar bar("afm create: " + o->out);
    std::optional<tokenizer> tok;
    if (!o->vocab.empty()) {
      tok = tokenizer::open(o->vocab);
      if (static_cast<int64_t>(tok->vocab_size()) != cfg.n_vocab)
        fail("--vocab ", o->vocab, " has ", tok->vocab_size(),
             " tokens but the config's vocab_size is ", cfg.n_vocab);
    }
    create_random_model(
        cfg, co, o->out, pool, [&](size_t done, size_t total) { bar.update(done, total); },
        [&](gguf_writer& w) {
          if (tok) tok->write_gguf(w);
        });
    std::fprintf(stderr, "afm create: wrote %s (%s, %s, %lld layers, %lld sharing KV)\n",
                 o->out.c_str(), cfg.arch.c_str(), o->dtype.c_str(),
                 static_cast<long long>(cfg.n_layers),
                 static_cast<long long>(cfg.n_shared_layers()));
  });
}

}  // namespace afm::cli
