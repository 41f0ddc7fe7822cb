// Config validation, the KV-sharing layout, and every load fault: missing tensor, wrong shape,
// wrong type, unknown architecture, bad KV mapping; and the progress that create and quantize
// report.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "afm/error.h"
#include "afm/gguf.h"
#include "afm/model.h"
#include "afm/quantize.h"
#include "model/architecture.h"
#include "model/tiny_model_test_util.h"

namespace afm {
namespace {

using afm::testing::tiny_config;
using afm::testing::write_model;

void expect_error(const std::function<void()>& f, const std::string& fragment) {
  try {
    f();
    FAIL() << "expected an error containing '" << fragment << "'";
  } catch (const error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Model, DefaultKvSharingSplitsBlocks) {
  model_config c = tiny_config();
  EXPECT_EQ(c.n_kv_layers(), 5);
  EXPECT_EQ(c.n_shared_layers(), 3);
  EXPECT_EQ(c.last_kv_layer(), 4);
  for (int l = 5; l < 8; ++l) EXPECT_EQ(c.kv_source[static_cast<size_t>(l)], 4);
  c = tiny_config(0.0);
  EXPECT_EQ(c.n_kv_layers(), 8);
  c.n_layers = 32;
  c.kv_shared_fraction = 0.375;
  set_default_kv_sources(c);
  EXPECT_EQ(c.n_shared_layers(), 12);
  EXPECT_EQ(c.kv_source[31], 19);
}

TEST(Model, ConfigValidation) {
  model_config c = tiny_config();
  c.n_kv_heads = 3;
  expect_error([&] { validate_config(c); }, "not a multiple of n_kv_heads");
  c = tiny_config();
  c.kv_source[6] = 6 + 1;
  expect_error([&] { validate_config(c); }, "not an earlier layer");
  c = tiny_config();
  c.kv_source[7] = 6;  // layer 6 shares, so it has no cache to lend
  expect_error([&] { validate_config(c); }, "has no KV cache of its own");
  c = tiny_config();
  c.arch = "gpt5";
  expect_error([&] { validate_config(c); }, "unknown architecture 'gpt5'");
  c = tiny_config();
  c.kv_shared_fraction = 1.0;
  expect_error([&] { set_default_kv_sources(c); }, "kv_shared_fraction");
  expect_error([] { load_config_json("/nonexistent.json"); }, "cannot open");
}

TEST(Model, LoadsWhatCreateWrote) {
  for (dtype t : {dtype::f32, dtype::bf16, dtype::f16, dtype::q8_0}) {
    const model_config c = tiny_config();
    auto m = load_model(write_model(c, "load_" + dtype_name(t), t));
    EXPECT_EQ(m->cfg.n_layers, 8);
    EXPECT_EQ(m->cfg.kv_source, c.kv_source);
    EXPECT_EQ(m->layers[3].wq.type, t);
    EXPECT_EQ(m->layers[3].attn_norm.type, dtype::f32);
    EXPECT_FALSE(m->layers[4].wk.empty());
    EXPECT_TRUE(m->layers[5].wk.empty());  // Block 2 has no K/V projections
    EXPECT_TRUE(m->layers[7].wv.empty());
    EXPECT_EQ(m->output.data, m->tok_embd.data);  // tied head
  }
}

// Progress counts weights, so the first ETA is not thrown off by a large first tensor: each
// call adds one tensor's element count, and the last call reaches the model's total.
TEST(Model, CreateAndQuantizeProgressCountWeights) {
  const model_config c = tiny_config();
  const std::vector<tensor_slot> slots = find_architecture(c.arch)->tensors(c, nullptr);
  std::vector<size_t> sizes;
  size_t total = 0;
  for (const tensor_slot& s : slots) {
    size_t n = 1;
    for (int64_t d : s.ne) n *= static_cast<size_t>(d);
    sizes.push_back(n);
    total += n;
  }
  std::vector<std::pair<size_t, size_t>> calls;
  thread_pool pool(2);
  const std::string path = ::testing::TempDir() + "afm_progress.gguf";
  create_random_model(c, {.type = dtype::q8_0}, path, pool,
                      [&](size_t done, size_t all) { calls.emplace_back(done, all); });
  ASSERT_EQ(calls.size(), slots.size());
  size_t expect = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    expect += sizes[i];
    EXPECT_EQ(calls[i].first, expect) << slots[i].name;
    EXPECT_EQ(calls[i].second, total);
  }
  // afm quantize counts the same way, in the file's tensor order.
  calls.clear();
  quantize_options o;
  o.weights = dtype::f16;
  const quantize_report r =
      quantize_model(path, ::testing::TempDir() + "afm_progress_f16.gguf", o, pool,
                     [&](size_t done, size_t all) { calls.emplace_back(done, all); });
  ASSERT_EQ(calls.size(), r.tensors.size());
  expect = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    expect += r.tensors[i].elements;
    EXPECT_EQ(calls[i].first, expect) << r.tensors[i].name;
    EXPECT_EQ(calls[i].second, total);
  }
}

TEST(Model, CustomKvMappingLoads) {
  model_config c = tiny_config();
  c.kv_source = {0, 1, 2, 3, 4, 2, 4, 0};
  auto m = load_model(write_model(c, "custom_kv"));
  EXPECT_EQ(m->cfg.kv_source, c.kv_source);
}

// Rewrites a tiny model with one tensor changed by `edit` (which may drop it by returning false).
std::string rewrite(const std::string& name,
                    const std::function<bool(std::string&, dtype&, std::vector<int64_t>&)>& edit,
                    const std::function<void(gguf_writer&)>& meta = {}) {
  const gguf_file src = gguf_file::open(write_model(tiny_config(), "src_" + name));
  gguf_writer w;
  for (const auto& [k, v] : src.metadata()) w.set(k, v);
  if (meta) meta(w);
  std::vector<std::pair<const gguf_tensor_info*, size_t>> keep;
  for (const auto& t : src.tensors()) {
    std::string n = t.name;
    dtype type = t.type;
    std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    if (!edit(n, type, ne)) continue;
    w.add_tensor(n, type, ne);
    keep.push_back({&t, dtype_bytes(type, static_cast<uint64_t>(ne[0]) *
                                              (ne.size() > 1 ? static_cast<uint64_t>(ne[1]) : 1))});
  }
  const std::string path = ::testing::TempDir() + "afm_bad_" + name + ".gguf";
  w.write_header(path);
  for (const auto& [t, bytes] : keep) {
    std::vector<uint8_t> data(bytes, 0);
    std::memcpy(data.data(), src.get_tensor(t->name).data, std::min(bytes, t->bytes));
    w.write_tensor(data.data(), bytes);
  }
  w.finish();
  return path;
}

TEST(Model, LoadFaultsNameFileAndTensor) {
  const std::string missing = rewrite("missing", [](std::string& n, dtype&, std::vector<int64_t>&) {
    return n != "blk.2.ffn_up.weight";
  });
  expect_error([&] { load_model(missing); },
               "missing tensor 'blk.2.ffn_up.weight' (expected shape [64, 96])");

  const std::string shape = rewrite("shape", [](std::string& n, dtype&, std::vector<int64_t>& ne) {
    if (n == "blk.1.attn_q.weight") ne = {64, 32};
    return true;
  });
  expect_error([&] { load_model(shape); },
               "tensor 'blk.1.attn_q.weight' has shape [64, 32], expected [64, 64]");

  const std::string type = rewrite("type", [](std::string& n, dtype& t, std::vector<int64_t>&) {
    if (n == "blk.0.ffn_gate.weight") t = dtype::q4_0;
    return true;
  });
  expect_error([&] { load_model(type); },
               "'blk.0.ffn_gate.weight' has type q4_0, which afm cannot run");

  const std::string norm = rewrite("norm", [](std::string& n, dtype& t, std::vector<int64_t>&) {
    if (n == "output_norm.weight") t = dtype::f16;
    return true;
  });
  expect_error([&] { load_model(norm); }, "'output_norm.weight' has type f16, expected f32");

  const std::string arch = rewrite(
      "arch", [](std::string&, dtype&, std::vector<int64_t>&) { return true; },
      [](gguf_writer& w) { w.set("general.architecture", gguf_value::str("mamba")); });
  expect_error([&] { load_model(arch); }, "unsupported architecture 'mamba'");

  const std::string kv = rewrite(
      "kv", [](std::string&, dtype&, std::vector<int64_t>&) { return true; },
      [](gguf_writer& w) {
        std::vector<gguf_value> src;
        for (int i = 0; i < 8; ++i) src.push_back(gguf_value::i32(i == 6 ? 7 : i < 5 ? i : 4));
        w.set("afm.attention.kv_source", gguf_value::array(gguf_type::i32, src));
      });
  expect_error([&] { load_model(kv); }, "not an earlier layer");
  expect_error([&] { load_model("/nonexistent/model.gguf"); }, "cannot open");
}

}  // namespace
}  // namespace afm
