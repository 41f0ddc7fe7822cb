// afm tokenizer train: learns a byte-level BPE vocabulary from text files.
#include <cstdio>
#include <string>
#include <vector>

#include "afm/bpe_trainer.h"
#include "afm/chat_format.h"
#include "tools/afm/commands.h"
#include "tools/afm/progress.h"

namespace afm::cli {

void add_tokenizer(CLI::App& app) {
  struct opts {
    std::vector<std::string> corpus;
    std::string out, split = "o200k";
    size_t vocab_size = 16384;
    uint64_t min_frequency = 2;
    int threads = 0;
  };
  auto o = std::make_shared<opts>();
  CLI::App* group = app.add_subcommand("tokenizer", "Tokenizer tools (train).");
  group->require_subcommand(1);
  CLI::App* t = group->add_subcommand(
      "train",
      "Train a byte-level BPE vocabulary (deterministic; reserves the AFM chat format's special\n"
      "tokens at the end). The result loads with --vocab anywhere and embeds in model files.");
  t->add_option("--corpus", o->corpus, "Text files")->required()->check(CLI::ExistingFile);
  t->add_option("--vocab-size", o->vocab_size, "Tokens in all: 256 bytes + merges + specials")
      ->capture_default_str();
  t->add_option("--out", o->out, "Output vocabulary (.json)")->required();
  t->add_option("--split", o->split, "Pre-tokenizer: o200k, cl100k, qwen2 or gpt2")
      ->capture_default_str();
  t->add_option("--min-frequency", o->min_frequency, "Stop when the best pair is rarer")
      ->capture_default_str();
  t->add_option("--threads", o->threads, "Threads for counting (0 = all)");
  t->callback([o] {
    progress_bar count_bar("counting pieces (bytes)"), merge_bar("learning merges");
    bpe_train_options to;
    to.vocab_size = o->vocab_size;
    to.split = o->split;
    to.specials = afm_chat_special_tokens();
    to.min_frequency = o->min_frequency;
    to.threads = o->threads;
    to.progress = [&](const char* stage, size_t done, size_t total) {
      (std::string(stage) == "count" ? count_bar : merge_bar).update(done, total);
    };
    const tokenizer tok = train_bpe(o->corpus, to);
    tok.save(o->out);
    std::fprintf(stderr, "afm tokenizer train: wrote %s (%zu tokens)\n", o->out.c_str(),
                 tok.vocab_size());
  });
}

}  // namespace afm::cli
