// Engine behaviour: the Block-2 prefill skip changes no logits and no later decode step;
// batched prefill equals one pass; KV memory is allocated only for layers that own KV;
// context overflow and bad tokens are errors that leave the sequence intact; q2 models run the
// same from their load-time tiles as from their rows.
#include "afm/engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "afm/error.h"
#include "afm/quantize.h"
#include "formats/q2_tiles.h"
#include "model/tiny_model_test_util.h"

namespace afm {
namespace {

using afm::testing::tiny_config;
using afm::testing::tiny_pt_moe_config;
using afm::testing::write_model;

std::vector<int32_t> tokens(size_t n) {
  std::vector<int32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>((i * 37 + 11) % 96);
  return t;
}

double rel_diff(std::span<const float> a, std::span<const float> b) {
  double d = 0, m = 1e-30;
  for (size_t i = 0; i < a.size(); ++i) {
    d = std::max(d, static_cast<double>(std::fabs(a[i] - b[i])));
    m = std::max(m, static_cast<double>(std::fabs(b[i])));
  }
  return d / m;
}

std::vector<float> copy(std::span<const float> s) {
  return {s.begin(), s.end()};
}

TEST(Engine, PrefillSkipMatchesFullComputation) {
  for (dtype t : {dtype::f32, dtype::q8_0}) {
    auto m = load_model(write_model(tiny_config(), "skip_" + dtype_name(t), t));
    const size_t V = static_cast<size_t>(m->cfg.n_vocab);
    const auto prompt = tokens(29);
    engine skip(*m, {.n_threads = 2}), full(*m, {.n_threads = 2});
    const auto a = copy(skip.prefill(prompt));
    const auto all = copy(full.prefill_all(prompt));
    ASSERT_EQ(all.size(), prompt.size() * V);
    // With q8 the skipping prefill runs Block 2 for one row, which takes the matvec path with
    // 8-bit activations, while the full pass takes gemm with f32 activations: hence the bound.
    EXPECT_LT(rel_diff(a, std::span<const float>(all).subspan((prompt.size() - 1) * V)),
              t == dtype::f32 ? 1e-5 : 2e-2);
    for (int32_t tok : {3, 50, 95}) {  // later decode steps agree too
      const auto x = copy(skip.decode(tok));
      const auto y = copy(full.decode(tok));
      EXPECT_LT(rel_diff(x, y), 1e-5);
    }
  }
}

TEST(Engine, BatchedPrefillEqualsOnePass) {
  auto m = load_model(write_model(tiny_config(), "batched"));
  const auto prompt = tokens(40);
  engine one(*m, {.n_threads = 1}), batched(*m, {.n_threads = 2, .batch = 6});
  EXPECT_LT(rel_diff(copy(batched.prefill(prompt)), copy(one.prefill(prompt))), 1e-5);
  EXPECT_EQ(batched.position(), 40u);
}

TEST(Engine, KvCacheOnlyForLayersThatOwnIt) {
  auto shared = load_model(write_model(tiny_config(0.375), "kv_shared"));
  auto plain = load_model(write_model(tiny_config(0.0), "kv_plain"));
  engine a(*shared, {.n_threads = 1}), b(*plain, {.n_threads = 1});
  // 5 of 8 layers own KV: exactly 37.5% less.
  EXPECT_EQ(a.kv_bytes() * 8, b.kv_bytes() * 5);
  EXPECT_EQ(b.kv_bytes_per_token(), 8u * 2 * 2 * 16 * sizeof(float));
  EXPECT_EQ(b.kv_bytes(), b.kv_bytes_per_token() * 64);
}

TEST(Engine, ErrorsLeaveTheSequenceIntact) {
  auto m = load_model(write_model(tiny_config(), "errors"));
  engine e(*m, {.n_threads = 1, .n_ctx = 16});
  e.prefill(tokens(10));
  EXPECT_THROW(e.prefill(tokens(7)), error);  // 10 + 7 > 16
  EXPECT_EQ(e.position(), 10u);
  const std::vector<int32_t> bad = {1, 96};
  EXPECT_THROW(e.prefill(bad), error);
  const std::vector<int32_t> neg = {-1};
  EXPECT_THROW(e.prefill(neg), error);
  EXPECT_THROW(e.prefill({}), error);
  EXPECT_EQ(e.position(), 10u);
  EXPECT_NO_THROW(e.prefill(tokens(6)));
  EXPECT_THROW(e.decode(1), error);                  // full
  EXPECT_THROW(engine(*m, {.n_ctx = 1000}), error);  // beyond the model's context
}

TEST(Engine, ResetReplaysTheSameLogits) {
  auto m = load_model(write_model(tiny_config(), "reset"));
  engine e(*m, {.n_threads = 2});
  const auto a = copy(e.prefill(tokens(12)));
  e.reset();
  const auto b = copy(e.prefill(tokens(12)));
  EXPECT_EQ(a, b);
}

// q2 matrices load re-laid in 16-row tiles (formats/q2_tiles.h) unless rows are asked for; the
// embedding keeps its rows, and so does a matrix that is not whole strips (the router's 4 rows).
// Each layout runs against the same weights decoded to f32 (`afm quantize --weights f32`): the
// dense model's prefill over every position (strips decoded for gemm) is exact in both. Decode
// steps, and MoE experts that see few tokens, quantize activations: to 8 bits for the rows'
// dot products, to 6 for the tiles' lookups, a grid 4x coarser (measured: at most 0.8% and 3.8%).
TEST(Engine, Q2TilesMatchRowLayout) {
  thread_pool pool(2);
  for (bool moe : {false, true}) {
    SCOPED_TRACE(moe ? "pt-moe" : "dense");
    model_config c = moe ? tiny_pt_moe_config() : tiny_config();
    c.d_model = 256;  // q2 rows are whole 256-value blocks
    c.head_dim = 64;
    c.d_ff = 512;
    c.expert_ff = moe ? 256 : 0;
    const std::string path = write_model(c, moe ? "q2_moe" : "q2_dense", dtype::afm_q2, 0.02);
    quantize_options flat_options;
    flat_options.weights = flat_options.embed = dtype::f32;
    flat_options.embed_set = true;
    quantize_model(path, path + ".f32.gguf", flat_options, pool);
    auto tiles = load_model(path, gguf_load::read, q2_layout::tiles);
    auto rows = load_model(path, gguf_load::read, q2_layout::rows);
    // The default picks the faster decode kernel for this CPU (formats/q2_tiles.h).
    EXPECT_EQ(load_model(path)->layers[0].wq.type,
              formats::q2_tiles::lookup_preferred() ? dtype::afm_q2_tiles : dtype::afm_q2);
    auto flat = load_model(path + ".f32.gguf");
    EXPECT_EQ(tiles->layers[0].wq.type, dtype::afm_q2_tiles);
    EXPECT_EQ(tiles->layers[0].wo.type, dtype::afm_q2_tiles);
    EXPECT_EQ(rows->layers[0].wq.type, dtype::afm_q2);
    EXPECT_EQ(tiles->tok_embd.type, dtype::afm_q2);
    if (moe) {
      EXPECT_EQ(tiles->layers[1].up_exps.type, dtype::afm_q2_tiles);
      EXPECT_EQ(tiles->layers[1].router.type, dtype::afm_q2);
    }
    // A mapped file is read-only: it keeps its rows.
    EXPECT_EQ(load_model(path, gguf_load::map)->layers[0].wq.type, dtype::afm_q2);
    const auto prompt = tokens(30);
    engine a(*tiles, {.n_threads = 2}), b(*rows, {.n_threads = 2}), f(*flat, {.n_threads = 2});
    const auto want = copy(f.prefill_all(prompt));
    EXPECT_LT(rel_diff(copy(a.prefill_all(prompt)), want), moe ? 2e-2 : 1e-5);
    EXPECT_LT(rel_diff(copy(b.prefill_all(prompt)), want), moe ? 1e-2 : 1e-5);
    for (int32_t tok : {3, 50, 95}) {
      const auto exact = copy(f.decode(tok));
      EXPECT_LT(rel_diff(copy(a.decode(tok)), exact), 6e-2);
      EXPECT_LT(rel_diff(copy(b.decode(tok)), exact), 2e-2);
    }
  }
}

}  // namespace
}  // namespace afm
