// afm — the command line. One file per subcommand (tools/afm/*.cc); each has --help.
#include <cstdio>

#include "afm/error.h"
#include "tools/afm/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "afm: the Apple Foundation Models architectures (the on-device model with KV-cache sharing\n"
      "and the PT-MoE server model) run on ordinary CPUs. Use 'afm <command> --help' for a\n"
      "command's options."};
  app.require_subcommand(1);
  app.fallthrough(false);
  afm::cli::add_create(app);
  afm::cli::add_generate(app);
  afm::cli::add_logits(app);
  afm::cli::add_bench(app);
  afm::cli::add_tokenize(app);
  afm::cli::add_tokenizer(app);
  afm::cli::add_schema(app);
  afm::cli::add_respond(app);
  afm::cli::add_chat(app);
  afm::cli::add_train(app);
  afm::cli::add_eval(app);
  afm::cli::add_quantize(app);
  afm::cli::add_perplexity(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const afm::error& e) {
    std::fprintf(stderr, "afm: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "afm: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
