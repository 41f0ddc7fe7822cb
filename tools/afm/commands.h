// The afm subcommands: each file in tools/afm/ adds one to the command line.
#pragma once

#include <CLI/CLI.hpp>

namespace afm::cli {

void add_create(CLI::App& app);
void add_generate(CLI::App& app);
void add_logits(CLI::App& app);
void add_bench(CLI::App& app);
void add_tokenize(CLI::App& app);   // tokenize and detokenize
void add_tokenizer(CLI::App& app);  // tokenizer train
void add_schema(CLI::App& app);     // schema accepts | sample | bench
void add_respond(CLI::App& app);    // respond
void add_chat(CLI::App& app);       // chat

}  // namespace afm::cli
