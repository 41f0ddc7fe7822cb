// afm tokenize / afm detokenize: text to token ids and back, with any vocabulary afm reads.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "afm/error.h"
#include "afm/gguf.h"
#include "afm/tokenizer.h"
#include "tools/afm/commands.h"

namespace afm::cli {
namespace {

std::string read_input(const std::string& text, const std::string& file, bool have_text) {
  if (have_text) return text;
  if (file.empty() || file == "-") return {std::istreambuf_iterator<char>(std::cin), {}};
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, ": cannot open");
  return {std::istreambuf_iterator<char>(in), {}};
}

tokenizer open_vocab(const std::string& vocab, const std::string& model) {
  if (!vocab.empty() && !model.empty()) fail("give --vocab or -m, not both");
  if (vocab.empty() && model.empty()) fail("give a vocabulary with --vocab or a model with -m");
  return vocab.empty() ? tokenizer::from_gguf(gguf_file::open(model)) : tokenizer::open(vocab);
}

}  // namespace

void add_tokenize(CLI::App& app) {
  struct opts {
    std::string vocab, model, text, file, ids;
    bool json = false, special = false;
  };
  auto o = std::make_shared<opts>();
  CLI::App* t = app.add_subcommand("tokenize", "Print the token ids of a text.");
  t->add_option("--vocab", o->vocab,
                "Vocabulary: NAME.tiktoken, a GGUF file, a GPT-2 directory (encoder.json + "
                "vocab.bpe) or an afm vocab .json");
  t->add_option("-m,--model", o->model, "Model file whose vocabulary to use");
  auto* text_opt = t->add_option("--text", o->text, "Text to encode");
  t->add_option("--file", o->file, "File to encode ('-' or nothing: standard input)")
      ->excludes(text_opt);
  t->add_flag("--json", o->json, "Print a JSON array");
  t->add_flag("--special", o->special,
              "Encode special-token text (e.g. <|endoftext|>) as the special token");
  t->callback([o, text_opt] {
    const tokenizer tok = open_vocab(o->vocab, o->model);
    const std::string in = read_input(o->text, o->file, text_opt->count() > 0);
    const auto ids = tok.encode(in, o->special ? special_tokens::allowed : special_tokens::as_text);
    std::string out = o->json ? "[" : "";
    for (size_t i = 0; i < ids.size(); ++i)
      out += (i ? (o->json ? "," : " ") : "") + std::to_string(ids[i]);
    out += o->json ? "]\n" : "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  });

  CLI::App* d = app.add_subcommand("detokenize", "Print the text of token ids.");
  d->add_option("--vocab", o->vocab, "Vocabulary (as for tokenize)");
  d->add_option("-m,--model", o->model, "Model file whose vocabulary to use");
  d->add_option("--ids", o->ids,
                "Token ids separated by commas or spaces (default: standard input)");
  d->callback([o] {
    const tokenizer tok = open_vocab(o->vocab, o->model);
    std::string in =
        o->ids.empty() ? std::string(std::istreambuf_iterator<char>(std::cin), {}) : o->ids;
    for (char& c : in)
      if (c == ',' || c == '[' || c == ']') c = ' ';
    std::istringstream ss(in);
    std::vector<int32_t> ids;
    for (std::string w; ss >> w;) {
      try {
        size_t used = 0;
        const long v = std::stol(w, &used);
        if (used != w.size()) throw std::invalid_argument(w);
        ids.push_back(static_cast<int32_t>(v));
      } catch (const std::exception&) {
        fail("'", w, "' is not a token id");
      }
    }
    const std::string text = tok.decode(ids);
    std::fwrite(text.data(), 1, text.size(), stdout);
  });
}

}  // namespace afm::cli
