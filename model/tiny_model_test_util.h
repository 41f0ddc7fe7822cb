// Test helper: a tiny AFM config and a random model file made from it.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "afm/model.h"
#include "afm/thread_pool.h"

namespace afm::testing {

inline model_config tiny_config(double shared_fraction = 0.375) {
  model_config c;
  c.arch = "afm";
  c.name = "tiny";
  c.n_vocab = 96;
  c.d_model = 64;
  c.n_layers = 8;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.d_ff = 96;
  c.n_ctx = 64;
  c.kv_shared_fraction = shared_fraction;
  set_default_kv_sources(c);
  return c;
}

// A tiny PT-MoE (the shape of configs/pt-moe-tiny.json): 2 tracks of 8 layers in blocks of 2,
// top-2 of 4 experts in every 2nd layer, 3 local layers (window 8) per global one.
inline model_config tiny_pt_moe_config() {
  model_config c = tiny_config(0.0);
  c.arch = "afm-pt-moe";
  c.n_tracks = 2;
  c.track_block_depth = 2;
  c.moe_every = 2;
  c.n_experts = 4;
  c.n_experts_used = 2;
  c.expert_ff = 64;
  c.sliding_window = 8;
  c.global_every = 4;
  return c;
}

inline std::string write_model(const model_config& c, const std::string& name,
                               dtype type = dtype::f32, double std = 0.3) {
  const std::string path = ::testing::TempDir() + "afm_" + name + ".gguf";
  thread_pool pool(2);
  create_random_model(c, {.type = type, .seed = 5, .std = std}, path, pool);
  return path;
}

}  // namespace afm::testing
