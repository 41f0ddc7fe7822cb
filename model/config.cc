// model_config helpers: KV-sharing layout, validation and the JSON config files in configs/.
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "afm/error.h"
#include "afm/model.h"
#include "model/architecture.h"

namespace afm {

int64_t model_config::n_kv_layers() const {
  int64_t n = 0;
  for (int64_t l = 0; l < n_layers; ++l) n += owns_kv(l) ? 1 : 0;
  return n;
}

int64_t model_config::last_kv_layer() const {
  for (int64_t l = n_layers - 1; l >= 0; --l)
    if (owns_kv(l)) return l;
  return -1;
}

void set_default_kv_sources(model_config& c) {
  if (!(c.kv_shared_fraction >= 0.0 && c.kv_shared_fraction < 1.0))
    fail("kv_shared_fraction ", c.kv_shared_fraction, " must be in [0, 1)");
  const int64_t shared = std::llround(static_cast<double>(c.n_layers) * c.kv_shared_fraction);
  const int64_t block1 = c.n_layers - shared;
  c.kv_source.resize(static_cast<size_t>(std::max<int64_t>(c.n_layers, 0)));
  for (int64_t l = 0; l < c.n_layers; ++l)
    c.kv_source[static_cast<size_t>(l)] = static_cast<int32_t>(l < block1 ? l : block1 - 1);
}

void validate_config(const model_config& c) {
  auto positive = [](const char* what, int64_t v) {
    if (v <= 0) fail("model config: ", what, " must be positive (got ", v, ")");
  };
  if (!find_architecture(c.arch))
    fail("model config: unknown architecture '", c.arch, "' (known: ", architecture_names(), ")");
  positive("vocab size", c.n_vocab);
  positive("d_model", c.d_model);
  positive("n_layers", c.n_layers);
  positive("n_heads", c.n_heads);
  positive("n_kv_heads", c.n_kv_heads);
  positive("head_dim", c.head_dim);
  positive("d_ff", c.d_ff);
  positive("context length", c.n_ctx);
  if (c.n_heads % c.n_kv_heads != 0)
    fail("model config: n_heads ", c.n_heads, " is not a multiple of n_kv_heads ", c.n_kv_heads);
  if (c.head_dim % 2 != 0) fail("model config: head_dim ", c.head_dim, " must be even for RoPE");
  if (!(c.rms_eps > 0.0f)) fail("model config: rms_eps must be positive");
  if (!(c.rope_base > 1.0f)) fail("model config: rope_base must exceed 1");
  if (static_cast<int64_t>(c.kv_source.size()) != c.n_layers)
    fail("model config: kv_source has ", c.kv_source.size(), " entries for ", c.n_layers,
         " layers");
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const int32_t s = c.kv_source[static_cast<size_t>(l)];
    if (s == l) continue;
    if (s < 0 || s >= l)
      fail("model config: layer ", l, " reads the KV cache of layer ", s,
           ", which is not an earlier layer");
    if (!c.owns_kv(s))
      fail("model config: layer ", l, " reads the KV cache of layer ", s,
           ", which has no KV cache of its own");
  }
  if (!c.owns_kv(0)) fail("model config: layer 0 must own its KV cache");
  auto non_negative = [](const char* what, int64_t v) {
    if (v < 0) fail("model config: ", what, " must not be negative (got ", v, ")");
  };
  positive("n_tracks", c.n_tracks);
  positive("track_block_depth", c.track_block_depth);
  if (c.n_layers % c.track_block_depth != 0)
    fail("model config: n_layers ", c.n_layers, " is not a multiple of track_block_depth ",
         c.track_block_depth);
  non_negative("moe_every", c.moe_every);
  non_negative("sliding_window", c.sliding_window);
  non_negative("global_every", c.global_every);
  if (c.moe_every > 0) {
    positive("n_experts", c.n_experts);
    positive("expert_ff", c.expert_ff);
    if (c.n_experts_used < 1 || c.n_experts_used > c.n_experts)
      fail("model config: n_experts_used ", c.n_experts_used,
           " must be in [1, n_experts = ", c.n_experts, "]");
  }
  find_architecture(c.arch)->validate(c);
}

void read_base_config(const gguf_file& f, model_config& c) {
  auto key = [&](const char* suffix) { return c.arch + "." + suffix; };
  c.n_ctx = static_cast<int64_t>(f.get_uint(key("context_length")));
  c.d_model = static_cast<int64_t>(f.get_uint(key("embedding_length")));
  c.n_layers = static_cast<int64_t>(f.get_uint(key("block_count")));
  c.d_ff = static_cast<int64_t>(f.get_uint(key("feed_forward_length")));
  c.n_heads = static_cast<int64_t>(f.get_uint(key("attention.head_count")));
  c.n_kv_heads = static_cast<int64_t>(
      f.get_uint(key("attention.head_count_kv"), static_cast<uint64_t>(c.n_heads)));
  c.head_dim = static_cast<int64_t>(f.get_uint(
      key("attention.key_length"), static_cast<uint64_t>(c.n_heads ? c.d_model / c.n_heads : 0)));
  c.rms_eps = static_cast<float>(f.get_float(key("attention.layer_norm_rms_epsilon")));
  c.rope_base = static_cast<float>(f.get_float(key("rope.freq_base"), 10000.0));
  c.rope = static_cast<rope_style>(f.get_uint(key("rope.style"), 0));
  if (c.rope != rope_style::interleaved && c.rope != rope_style::half)
    fail(f.path(), ": ", key("rope.style"), " must be 0 (interleaved) or 1 (half)");
  if (const auto* embd = f.find_tensor("token_embd.weight")) c.n_vocab = embd->ne[1];
  c.n_vocab = static_cast<int64_t>(f.get_uint(key("vocab_size"), static_cast<uint64_t>(c.n_vocab)));
  c.tied_output = f.find_tensor("output.weight") == nullptr;
  c.kv_shared_fraction = f.get_float(key("kv_shared_fraction"), 0.0);
  if (f.has(key("attention.kv_source"))) {
    const auto& src = f.get_array(key("attention.kv_source"));
    if (static_cast<int64_t>(src.size()) != c.n_layers)
      fail(f.path(), ": ", key("attention.kv_source"), " has ", src.size(), " entries, expected ",
           c.n_layers, " (one per layer)");
    c.kv_source.clear();
    for (const auto& v : src) {
      const auto* i = std::get_if<int64_t>(&v.v);
      if (!i) fail(f.path(), ": ", key("attention.kv_source"), " must hold i32 values");
      c.kv_source.push_back(static_cast<int32_t>(*i));
    }
  } else {
    c.kv_shared_fraction = 0.0;  // a file without the key (e.g. "llama") owns KV in every layer
    set_default_kv_sources(c);
  }
}

void write_base_config(const model_config& c, gguf_writer& w) {
  auto key = [&](const char* suffix) { return c.arch + "." + suffix; };
  auto u32 = [&](const char* k, int64_t v) {
    w.set(key(k), gguf_value::u32(static_cast<uint32_t>(v)));
  };
  u32("context_length", c.n_ctx);
  u32("embedding_length", c.d_model);
  u32("block_count", c.n_layers);
  u32("feed_forward_length", c.d_ff);
  u32("attention.head_count", c.n_heads);
  u32("attention.head_count_kv", c.n_kv_heads);
  u32("attention.key_length", c.head_dim);
  u32("attention.value_length", c.head_dim);
  u32("vocab_size", c.n_vocab);
  w.set(key("attention.layer_norm_rms_epsilon"), gguf_value::f32(c.rms_eps));
  w.set(key("rope.freq_base"), gguf_value::f32(c.rope_base));
  u32("rope.style", static_cast<int64_t>(c.rope));
  w.set(key("kv_shared_fraction"), gguf_value::f32(static_cast<float>(c.kv_shared_fraction)));
  std::vector<gguf_value> src;
  for (int32_t s : c.kv_source) src.push_back(gguf_value::i32(s));
  w.set(key("attention.kv_source"), gguf_value::array(gguf_type::i32, std::move(src)));
}

model_config load_config_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, ": cannot open config");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": invalid JSON: ", e.what());
  }
  model_config c;
  static const char* const known[] = {"arch",           "name",
                                      "vocab_size",     "d_model",
                                      "n_layers",       "n_heads",
                                      "n_kv_heads",     "head_dim",
                                      "d_ff",           "context_length",
                                      "rms_eps",        "rope_base",
                                      "rope_style",     "kv_shared_fraction",
                                      "kv_source",      "tied_output",
                                      "n_tracks",       "track_block_depth",
                                      "moe_every",      "n_experts",
                                      "n_experts_used", "expert_ff",
                                      "moe_renorm",     "sliding_window",
                                      "global_every",   "comment"};
  for (const auto& [k, v] : j.items()) {
    bool ok = false;
    for (const char* name : known) ok = ok || k == name;
    if (!ok) fail(path, ": unknown config key '", k, "'");
  }
  try {
    c.arch = j.value("arch", std::string("afm"));
    c.name = j.value("name", std::string());
    c.n_vocab = j.at("vocab_size").get<int64_t>();
    c.d_model = j.at("d_model").get<int64_t>();
    c.n_layers = j.at("n_layers").get<int64_t>();
    c.n_heads = j.at("n_heads").get<int64_t>();
    c.n_kv_heads = j.value("n_kv_heads", c.n_heads);
    c.head_dim = j.value("head_dim", c.n_heads ? c.d_model / c.n_heads : 0);
    c.d_ff = j.at("d_ff").get<int64_t>();
    c.n_ctx = j.at("context_length").get<int64_t>();
    c.rms_eps = j.value("rms_eps", 1e-5f);
    c.rope_base = j.value("rope_base", 10000.0f);
    const std::string style = j.value("rope_style", std::string("interleaved"));
    if (style == "interleaved") {
      c.rope = rope_style::interleaved;
    } else if (style == "half") {
      c.rope = rope_style::half;
    } else {
      fail(path, ": rope_style must be \"interleaved\" or \"half\"");
    }
    c.kv_shared_fraction = j.value("kv_shared_fraction", 0.0);
    c.tied_output = j.value("tied_output", true);
    c.n_tracks = j.value("n_tracks", int64_t{1});
    c.track_block_depth = j.value("track_block_depth", int64_t{1});
    c.moe_every = j.value("moe_every", int64_t{0});
    c.n_experts = j.value("n_experts", int64_t{0});
    c.n_experts_used = j.value("n_experts_used", int64_t{0});
    c.expert_ff = j.value("expert_ff", int64_t{0});
    c.moe_renorm = j.value("moe_renorm", true);
    c.sliding_window = j.value("sliding_window", int64_t{0});
    c.global_every = j.value("global_every", int64_t{0});
    if (j.contains("kv_source")) {
      c.kv_source = j.at("kv_source").get<std::vector<int32_t>>();
    } else {
      set_default_kv_sources(c);
    }
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": ", e.what());
  }
  validate_config(c);
  return c;
}

}  // namespace afm
