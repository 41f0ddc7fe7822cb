// afm respond / afm chat: the framework (fm/) from the command line.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "afm/error.h"
#include "afm/session.h"
#include "tools/afm/commands.h"

namespace afm::cli {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  return {std::istreambuf_iterator<char>(in), {}};
}

std::shared_ptr<system_language_model> open_model(const std::string& path, int threads) {
  auto m = system_language_model::load(path, {.n_threads = threads});
  if (!m->is_available()) fail("model unavailable: ", m->unavailable_reason());
  return m;
}

struct common_opts {
  std::string model, instructions;
  int threads = 0;
  uint64_t seed = 0;
  float temperature = 0.0f;
  int top_k = 0;
  float top_p = 1.0f;
  size_t max_tokens = 512;

  void add(CLI::App* c) {
    c->add_option("-m,--model", model, "Model file (GGUF with a chat vocabulary)")->required();
    c->add_option("--instructions", instructions, "Instructions (system prompt) for the session");
    c->add_option("-t,--threads", threads, "Threads (0: all)");
    c->add_option("--seed", seed, "Sampling seed");
    c->add_option("--temp", temperature, "Temperature; 0 = greedy");
    c->add_option("--top-k", top_k, "Top-k (0: off)");
    c->add_option("--top-p", top_p, "Top-p (1: off)");
    c->add_option("-n,--max-tokens", max_tokens, "maximumResponseTokens");
  }
  generation_options options() const {
    generation_options o;
    o.mode = temperature > 0 ? generation_options::sampling::random
                             : generation_options::sampling::greedy;
    o.temperature = temperature;
    o.top_k = top_k;
    o.top_p = top_p;
    o.seed = seed;
    o.maximum_response_tokens = max_tokens;
    return o;
  }
};

}  // namespace

void add_respond(CLI::App& app) {
  struct opts : common_opts {
    std::string prompt, schema;
    bool no_schema_in_prompt = false;
  };
  auto o = std::make_shared<opts>();
  CLI::App* c = app.add_subcommand(
      "respond", "One response from a session: text, or JSON following --schema.");
  o->add(c);
  c->add_option("-p,--prompt", o->prompt, "The prompt")->required();
  c->add_option("--schema", o->schema, "JSON Schema file: the response is JSON that follows it");
  c->add_flag("--no-schema-in-prompt", o->no_schema_in_prompt,
              "Enforce the schema without showing it to the model");
  c->callback([o] {
    language_model_session s(open_model(o->model, o->threads), o->instructions);
    generation_options g = o->options();
    g.include_schema_in_prompt = !o->no_schema_in_prompt;
    std::string out;
    if (o->schema.empty()) {
      out = s.respond(o->prompt, g);
    } else {
      ordered_json schema;
      try {
        schema = ordered_json::parse(slurp(o->schema));
      } catch (const nlohmann::json::exception& e) {
        fail(o->schema, ": not JSON: ", e.what());
      }
      out = s.respond(o->prompt, generation_schema{schema}, g).json.dump();
    }
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
  });
}

void add_chat(CLI::App& app) {
  auto o = std::make_shared<common_opts>();
  CLI::App* c = app.add_subcommand("chat",
                                   "Interactive streaming chat. Commands: /save FILE and /load "
                                   "FILE (transcripts as JSON), /quit.");
  o->add(c);
  c->callback([o] {
    auto model = open_model(o->model, o->threads);
    language_model_session s(model, o->instructions);
    std::string line;
    while (std::fprintf(stderr, "> "), std::fflush(stderr), std::getline(std::cin, line)) {
      if (line == "/quit") break;
      try {
        if (line.rfind("/save ", 0) == 0) {
          std::ofstream(line.substr(6)) << s.transcript_json() << "\n";
          std::fprintf(stderr, "saved %zu entries\n", s.transcript().size());
          continue;
        }
        if (line.rfind("/load ", 0) == 0) {
          s = language_model_session::restore(model, slurp(line.substr(6)));
          std::fprintf(stderr, "loaded %zu entries\n", s.transcript().size());
          continue;
        }
        size_t shown = 0;
        s.stream_response(
            line,
            [&](std::string_view so_far) {
              std::fwrite(so_far.data() + shown, 1, so_far.size() - shown, stdout);
              std::fflush(stdout);
              shown = so_far.size();
            },
            o->options());
        std::fputc('\n', stdout);
      } catch (const afm::error& e) {
        std::fprintf(stderr, "afm: error: %s\n", e.what());
      }
    }
  });
}

}  // namespace afm::cli
