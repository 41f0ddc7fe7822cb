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
  static const char* const known[] = {"arch",       "name",
                                      "vocab_size", "d_model",
                                      "n_layers",   "n_heads",
                                      "n_kv_heads", "head_dim",
                                      "d_ff",       "context_length",
                                      "rms_eps",    "rope_base",
                                      "rope_style", "kv_shared_fraction",
                                      "kv_source",  "tied_output",
                                      "comment"};
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
