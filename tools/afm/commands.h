// The afm subcommands: each file in tools/afm/ adds one to the command line.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "afm/engine.h"

namespace afm::cli {

// --execution track|layer: how a model with parallel tracks (PT-MoE) uses the threads.
inline CLI::Option* add_execution_option(CLI::App* c, std::function<void(execution)> set,
                                         const std::string& help) {
  return c
      ->add_option_function<std::string>(
          "--execution",
          [set](const std::string& v) {
            set(v == "layer" ? execution::layer_parallel : execution::track_parallel);
          },
          help)
      ->check(CLI::IsMember({"track", "layer"}));
}
inline void add_execution_option(CLI::App* c, execution& e) {
  add_execution_option(
      c, [&e](execution v) { e = v; },
      "PT-MoE models: 'track' (default) runs tracks concurrently, meeting once per track\n"
      "block; 'layer' is the tensor-parallel baseline, meeting twice per layer");
}

// --kv f32|q8: the KV cache's storage (engine_options::kv_type); default: the model file's.
inline void add_kv_option(CLI::App* c, kv_cache_type& t) {
  c->add_option_function<std::string>(
       "--kv",
       [&t](const std::string& v) { t = v == "q8" ? kv_cache_type::q8 : kv_cache_type::f32; },
       "KV cache storage: f32, or q8 (8 bits per value with a scale per head vector); default:\n"
       "what the model file asks for (afm quantize --kv), else f32")
      ->check(CLI::IsMember({"f32", "q8"}));
}

// --mmap: map the model file instead of reading it into huge pages (afm::gguf_load).
inline void add_mmap_option(CLI::App* c, gguf_load& load) {
  c->add_flag_function(
      "--mmap", [&load](int64_t) { load = gguf_load::map; },
      "Map the model file (4 KiB page-cache pages, nothing copied) instead of reading it into\n"
      "memory backed by 2 MiB pages; decode streams the weights faster from the latter");
}

void add_create(CLI::App& app);
void add_generate(CLI::App& app);
void add_logits(CLI::App& app);
void add_bench(CLI::App& app);
void add_tokenize(CLI::App& app);    // tokenize and detokenize
void add_tokenizer(CLI::App& app);   // tokenizer train
void add_schema(CLI::App& app);      // schema accepts | sample | bench
void add_respond(CLI::App& app);     // respond
void add_chat(CLI::App& app);        // chat
void add_quantize(CLI::App& app);    // quantize
void add_perplexity(CLI::App& app);  // perplexity
void add_train(CLI::App& app);       // train (train.cc with libtorch; without, an error saying so)
void add_eval(CLI::App& app);        // eval (synthetic-task accuracy through sessions)

}  // namespace afm::cli
