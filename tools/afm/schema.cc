// afm schema accepts | sample | bench: the guided-generation engine from the command line.
// A grammar comes from --schema (JSON Schema), --regex or --gbnf; a vocabulary from --vocab
// (anything tokenizer::open reads).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "afm/error.h"
#include "afm/grammar.h"
#include "afm/grammar_matcher.h"
#include "afm/tokenizer.h"
#include "tools/afm/commands.h"
#include "tools/afm/progress.h"

namespace afm::cli {
namespace {

using clock_type = std::chrono::steady_clock;

std::string read_file(const std::string& path) {
  if (path == "-") return {std::istreambuf_iterator<char>(std::cin), {}};
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  return {std::istreambuf_iterator<char>(in), {}};
}

struct grammar_source {
  std::string schema, regex, gbnf;
  int whitespace = 0;

  void add_options(CLI::App* c) {
    auto* s = c->add_option("--schema", schema, "JSON Schema file");
    auto* r = c->add_option("--regex", regex, "File holding a regular expression (whole output)");
    auto* g = c->add_option("--gbnf", gbnf, "llama.cpp GBNF grammar file (start rule: root)");
    s->excludes(r)->excludes(g);
    r->excludes(g);
    c->add_option("--whitespace", whitespace,
                  "JSON Schema: allow up to N whitespace bytes at each structural position "
                  "(default 0: compact)")
        ->check(CLI::Range(0, 64));
  }
  std::shared_ptr<const grammar> compile() const {
    if (!schema.empty())
      return compile_json_schema(read_file(schema), {.max_whitespace = whitespace});
    if (!regex.empty()) {
      std::string re = read_file(regex);
      while (!re.empty() && (re.back() == '\n' || re.back() == '\r')) re.pop_back();
      return compile_regex(re);
    }
    if (!gbnf.empty()) return compile_gbnf(read_file(gbnf));
    fail("give a grammar with --schema, --regex or --gbnf");
  }
};

// The vocabulary's token bytes; specials are never generated except the end-of-text token.
std::shared_ptr<const token_vocabulary> load_vocab(const std::string& path) {
  const tokenizer tok = tokenizer::open(path);
  std::vector<std::string> bytes(tok.vocab_size());
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = std::string(tok.token_bytes(static_cast<int32_t>(i)));
  std::vector<int32_t> eos, excluded;
  for (const auto& [text, id] : tok.specials()) {
    const bool is_eos = text == "<|endoftext|>" || text == "</s>" || text == "<eos>" ||
                        text == "<|end_of_text|>" || text == "<|eot_id|>";
    if (id < 0 || static_cast<size_t>(id) >= bytes.size()) continue;
    (is_eos && eos.empty() ? eos : excluded).push_back(id);
  }
  return token_vocabulary::build(std::move(bytes), std::move(eos), std::move(excluded));
}

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

// Why `text` is not in the grammar's language, or "" if it is.
std::string rejection(const std::shared_ptr<const grammar>& g, std::string_view text) {
  static const std::shared_ptr<const token_vocabulary> bytes = [] {
    std::vector<std::string> t;
    for (int b = 0; b < 256; ++b) t.emplace_back(1, static_cast<char>(b));
    return token_vocabulary::build(std::move(t), {}, {});
  }();
  grammar_matcher m(g, bytes);
  for (size_t i = 0; i < text.size(); ++i) {
    if (m.accept_bytes(text.substr(i, 1))) continue;
    std::vector<uint32_t> mask(bytes->mask_words());
    m.fill_next_token_mask(mask);
    std::string expected;
    int shown = 0;
    for (int b = 0; b < 256; ++b) {
      if (!((mask[b >> 5] >> (b & 31)) & 1)) continue;
      if (shown++ < 12)
        expected += (expected.empty() ? "'" : ", '") +
                    printable(std::string(1, static_cast<char>(b))) + "'";
    }
    if (shown > 12) expected += ", ... (" + std::to_string(shown) + " bytes)";
    if (shown == 0) expected = "the end of the text";
    return "at byte " + std::to_string(i) + ": got '" + printable(text.substr(i, 1)) +
           "', expected " + expected;
  }
  if (m.can_end()) return "";
  const std::string forced = m.forced_continuation();
  return "the text ends early; at least " + std::to_string(m.distance_to_end()) +
         " more bytes are needed" +
         (forced.empty() ? std::string() : " (next: '" + printable(forced) + "')");
}

struct sample_result {
  std::string text;
  size_t tokens = 0;
  bool complete = false;
};

bool has(std::span<const uint32_t> mask, int32_t t) {
  return (mask[t >> 5] >> (t & 31)) & 1;
}

// Random walk under the mask. With probability finish_bias a step takes the single-byte token
// that brings the end nearest, so walks over open-ended text still finish; otherwise the
// token is uniform over all allowed ones. The mask makes every choice valid either way.
sample_result sample(grammar_matcher& m, std::mt19937_64& rng, size_t max_tokens,
                     double finish_bias, std::vector<double>* mask_us) {
  const token_vocabulary& v = m.masks().vocab();
  std::vector<uint32_t> mask(v.mask_words());
  std::vector<int32_t> allowed;
  sample_result r;
  std::uniform_real_distribution<double> coin(0, 1);
  while (r.tokens < max_tokens) {
    const auto t0 = clock_type::now();
    m.fill_next_token_mask(mask);
    if (mask_us)
      mask_us->push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
    allowed.clear();
    for (size_t w = 0; w < mask.size(); ++w) {
      for (uint32_t bits = mask[w]; bits; bits &= bits - 1) {
        allowed.push_back(static_cast<int32_t>(w * 32 + __builtin_ctz(bits)));
      }
    }
    if (allowed.empty()) {
      r.complete = m.can_end() || m.is_terminated();
      return r;
    }
    int32_t pick = allowed[rng() % allowed.size()];
    if (coin(rng) < finish_bias) {
      if (m.can_end() && !v.eos.empty()) {
        pick = v.eos[0];
      } else {
        int64_t best = INT64_MAX;
        for (int b = 0; b < 256; ++b) {
          const int32_t t = v.single_byte[b];
          if (t < 0 || !has(mask, t) || !m.accept_token(t)) continue;
          const int64_t d = m.distance_to_end();
          m.rollback(1);
          if (d < best) best = d, pick = t;
        }
      }
    }
    if (!m.accept_token(pick))
      fail("internal error: the mask allowed token ", pick, " but the matcher refused it");
    ++r.tokens;
    if (std::find(v.eos.begin(), v.eos.end(), pick) != v.eos.end()) {
      r.complete = true;
      return r;
    }
    r.text += v.bytes[pick];
    if (m.is_terminated()) {
      r.complete = true;
      return r;
    }
  }
  r.complete = m.can_end();
  return r;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}
double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

void add_schema_accepts(CLI::App& parent) {
  struct opts {
    grammar_source src;
    std::string instance;
    bool lines = false;
  };
  auto o = std::make_shared<opts>();
  CLI::App* c = parent.add_subcommand(
      "accepts",
      "Check whether the grammar accepts exactly the bytes of an instance. Exit status: 0 "
      "accepted, 1 rejected (with the reason), 2 error.");
  o->src.add_options(c);
  c->add_option("--instance", o->instance, "Instance file ('-': standard input)")->required();
  c->add_flag("--lines", o->lines, "Treat each line of the instance file as a separate instance");
  c->callback([o] {
    int status = 0;
    try {
      const auto g = o->src.compile();
      for (const std::string& w : g->warnings)
        std::fprintf(stderr, "afm: warning: %s\n", w.c_str());
      const std::string text = read_file(o->instance);
      std::vector<std::string> items;
      if (o->lines) {
        size_t start = 0;
        while (start < text.size()) {
          size_t end = text.find('\n', start);
          if (end == std::string::npos) end = text.size();
          items.push_back(text.substr(start, end - start));
          start = end + 1;
        }
      } else {
        items.push_back(text);
      }
      for (size_t i = 0; i < items.size(); ++i) {
        const std::string why = rejection(g, items[i]);
        const std::string where = o->lines ? "line " + std::to_string(i + 1) + ": " : "";
        if (why.empty()) {
          std::printf("%saccepted\n", where.c_str());
        } else {
          std::printf("%srejected: %s\n", where.c_str(), why.c_str());
          status = 1;
        }
      }
    } catch (const afm::error& e) {
      std::fprintf(stderr, "afm: error: %s\n", e.what());
      status = 2;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    if (status != 0) std::exit(status);
  });
}

void add_schema_sample(CLI::App& parent) {
  struct opts {
    grammar_source src;
    std::string vocab;
    int n = 1;
    uint64_t seed = 1;
    size_t max_tokens = 4096;
    double finish_bias = 0.25;
    bool json = false;
  };
  auto o = std::make_shared<opts>();
  CLI::App* c = parent.add_subcommand(
      "sample",
      "Walk random allowed tokens to completion under the grammar and print the results.");
  o->src.add_options(c);
  c->add_option("--vocab", o->vocab, "Vocabulary (NAME.tiktoken, GGUF, ...)")->required();
  c->add_option("-n,--n", o->n, "Number of samples")->check(CLI::Range(1, 1000000));
  c->add_option("--seed", o->seed, "Random seed");
  c->add_option("--max-tokens", o->max_tokens, "Give up on a sample after this many tokens");
  c->add_option("--finish-bias", o->finish_bias,
                "Probability that a step heads for the end instead of a uniform choice")
      ->check(CLI::Range(0.0, 1.0));
  c->add_flag("--json", o->json, "One JSON object per sample: text, tokens, complete");
  c->callback([o] {
    const auto g = o->src.compile();
    for (const std::string& w : g->warnings) std::fprintf(stderr, "afm: warning: %s\n", w.c_str());
    auto masks = std::make_shared<token_masks>(g, load_vocab(o->vocab));
    std::mt19937_64 rng(o->seed);
    for (int i = 0; i < o->n; ++i) {
      grammar_matcher m(masks);
      const sample_result r = sample(m, rng, o->max_tokens, o->finish_bias, nullptr);
      std::string line;
      if (o->json) {
        nlohmann::json j = {{"text", r.text}, {"tokens", r.tokens}, {"complete", r.complete}};
        line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      } else {
        line = r.text + (r.complete ? "" : "  [incomplete]");
      }
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), stdout);
    }
  });
}

void add_schema_bench(CLI::App& parent) {
  struct opts {
    std::string schemas, vocab;
    int samples = 4, compile_reps = 5;
    uint64_t seed = 1;
    size_t max_tokens = 512;
    double finish_bias = 0.25;
    bool json = false;
  };
  auto o = std::make_shared<opts>();
  CLI::App* c = parent.add_subcommand(
      "bench",
      "Mask-time distribution and compile times over a directory of JSON Schemas (random "
      "walks under the mask, cold mask cache per schema).");
  c->add_option("--schemas", o->schemas, "Directory of *.json schemas")->required();
  c->add_option("--vocab", o->vocab, "Vocabulary (NAME.tiktoken, GGUF, ...)")->required();
  c->add_option("--samples", o->samples, "Random walks per schema")->check(CLI::Range(1, 10000));
  c->add_option("--seed", o->seed, "Random seed");
  c->add_option("--max-tokens", o->max_tokens, "Tokens per walk at most");
  c->add_option("--finish-bias", o->finish_bias,
                "Probability that a step heads for the end (lower: longer strings and arrays)")
      ->check(CLI::Range(0.0, 1.0));
  c->add_flag("--json", o->json, "Print the figures as JSON");
  c->callback([o] {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(o->schemas)) {
      if (e.path().extension() == ".json") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) fail(o->schemas, ": no *.json schemas");
    const auto t0 = clock_type::now();
    const auto vocab = load_vocab(o->vocab);
    const double vocab_ms =
        std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
    std::vector<double> mask_us, compile_ms;
    std::mt19937_64 rng(o->seed);
    size_t tokens = 0, incomplete = 0, states = 0;
    progress_bar bar("schemas");
    for (size_t i = 0; i < files.size(); ++i) {
      const std::string text = read_file(files[i].string());
      std::shared_ptr<const grammar> g;
      std::vector<double> reps;
      for (int r = 0; r < o->compile_reps; ++r) {
        const auto c0 = clock_type::now();
        try {
          g = compile_json_schema(text);
        } catch (const afm::error& e) {
          fail(files[i].string(), ": ", e.what());
        }
        reps.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - c0).count());
      }
      compile_ms.push_back(percentile(reps, 0.5));
      auto masks = std::make_shared<token_masks>(g, vocab);
      for (int s = 0; s < o->samples; ++s) {
        grammar_matcher m(masks);
        const sample_result r = sample(m, rng, o->max_tokens, o->finish_bias, &mask_us);
        tokens += r.tokens;
        incomplete += r.complete ? 0 : 1;
      }
      states += masks->states_filled();
      bar.update(i + 1, files.size());
    }
    const size_t slice_tokens =
        static_cast<size_t>(std::count_if(vocab->slice_chars.begin(), vocab->slice_chars.end(),
                                          [](uint16_t chars) { return chars > 0; }));
    const nlohmann::json out = {
        {"schemas", files.size()},
        {"vocab_tokens", vocab->size},
        {"vocab_prepare_ms", vocab_ms},
        {"trie_nodes", vocab->all.byte.size()},
        {"slice_tokens", slice_tokens},
        {"unsliced_trie_nodes", vocab->unsliced.byte.size()},
        {"masks", mask_us.size()},
        {"tokens", tokens},
        {"incomplete_walks", incomplete},
        {"cache_states_filled", states},
        {"mask_us",
         {{"mean", mean(mask_us)},
          {"median", percentile(mask_us, 0.5)},
          {"p99", percentile(mask_us, 0.99)},
          {"max", percentile(mask_us, 1.0)}}},
        {"compile_ms",
         {{"mean", mean(compile_ms)},
          {"median", percentile(compile_ms, 0.5)},
          {"p99", percentile(compile_ms, 0.99)},
          {"max", percentile(compile_ms, 1.0)}}},
    };
    if (o->json) {
      std::printf("%s\n", out.dump(2).c_str());
      return;
    }
    std::printf(
        "%zu schemas, vocabulary of %d tokens (prepared in %.0f ms): trie of %zu nodes; string "
        "slice "
        "of %zu tokens, the rest in a trie of %zu nodes\n",
        files.size(), vocab->size, vocab_ms, vocab->all.byte.size(), slice_tokens,
        vocab->unsliced.byte.size());
    std::printf("masks: %zu over %zu tokens (%zu walks incomplete), %zu grammar states cached\n",
                mask_us.size(), tokens, incomplete, states);
    std::printf("mask time (us):    mean %8.2f  median %8.2f  p99 %8.2f  max %8.2f\n",
                mean(mask_us), percentile(mask_us, 0.5), percentile(mask_us, 0.99),
                percentile(mask_us, 1.0));
    std::printf("compile time (ms): mean %8.3f  median %8.3f  p99 %8.3f  max %8.3f\n",
                mean(compile_ms), percentile(compile_ms, 0.5), percentile(compile_ms, 0.99),
                percentile(compile_ms, 1.0));
  });
}

}  // namespace

void add_schema(CLI::App& app) {
  CLI::App* s = app.add_subcommand(
      "schema",
      "Guided generation: check instances against, sample from, and benchmark grammars "
      "(JSON Schema, regex, GBNF).");
  s->require_subcommand(1);
  add_schema_accepts(*s);
  add_schema_sample(*s);
  add_schema_bench(*s);
}

}  // namespace afm::cli
