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

inline std::string write_model(const model_config& c, const std::string& name,
                               dtype type = dtype::f32, double std = 0.3) {
  const std::string path = ::testing::TempDir() + "afm_" + name + ".gguf";
  thread_pool pool(2);
  create_random_model(c, {.type = type, .seed = 5, .std = std}, path, pool);
  return path;
}

}  // namespace afm::testing
