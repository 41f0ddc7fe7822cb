// train/ against the runtime: the libtorch forward pass of a model file gives the runtime's logits
// (within 1e-4 relative, f32) for both architectures, export writes back exactly what import
// read, and every tensor takes part in the gradient of a language-modelling loss.
#include "train/torch_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <span>
#include <vector>

#include "afm/bpe_trainer.h"
#include "afm/engine.h"
#include "afm/error.h"
#include "model/tiny_model_test_util.h"
#include "train/data.h"
#include "train/upcycle.h"

namespace afm::train {
namespace {

std::vector<int32_t> ids(size_t n) {
  std::vector<int32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>((i * 29 + 7) % 96);
  return t;
}

// A small BPE vocabulary with the AFM chat tokens, trained on a few sentences.
tokenizer bpe_tokenizer_for_tests() {
  const std::string path = ::testing::TempDir() + "afm_train_chat_text.txt";
  {
    std::ofstream f(path);
    for (int i = 0; i < 20; ++i) f << "Hello there. Be brief. Hi! The quick brown fox.\n";
  }
  bpe_train_options o;
  o.vocab_size = 300;
  o.specials = afm_chat_special_tokens();
  return train_bpe({path}, o);
}

torch::Tensor as_tensor(const std::vector<int32_t>& t) {
  return torch::tensor(std::vector<int64_t>(t.begin(), t.end()), torch::kInt64);
}

// Largest |a - b| over the largest |b|, position by position; the worst position.
double worst_row_error(const torch::Tensor& got, std::span<const float> want, size_t vocab) {
  double worst = 0.0;
  const torch::Tensor g = got.detach().to(torch::kFloat64).contiguous();
  for (int64_t p = 0; p < g.size(0); ++p) {
    double diff = 0.0, scale = 1e-30;
    for (size_t v = 0; v < vocab; ++v) {
      const double w = want[static_cast<size_t>(p) * vocab + v];
      diff = std::max(diff, std::fabs(g[p][static_cast<int64_t>(v)].item<double>() - w));
      scale = std::max(scale, std::fabs(w));
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

void check_architecture(const model_config& c, const std::string& name) {
  SCOPED_TRACE(name);
  const std::string path = testing::write_model(c, "train_" + name);
  const auto tokens = ids(40);  // longer than the PT-MoE config's window of 8
  const size_t V = static_cast<size_t>(c.n_vocab);
  std::vector<float> want;
  {
    auto rt = load_model(path);
    engine e(*rt, {.n_threads = 2});
    const auto l = e.prefill_all(tokens);
    want.assign(l.begin(), l.end());
  }
  torch_model m = import_model(path);
  const torch::Tensor logits = forward(m, as_tensor(tokens));
  ASSERT_EQ(logits.size(0), 40);
  ASSERT_EQ(logits.size(1), c.n_vocab);
  EXPECT_LT(worst_row_error(logits, want, V), 1e-4);

  // Export (f32) reads back as the same file: the runtime gives the same logits, bit for bit.
  const std::string out = ::testing::TempDir() + "afm_train_export_" + name + ".gguf";
  thread_pool pool(2);
  export_model(m, out, dtype::f32, pool);
  {
    auto rt = load_model(out);
    engine e(*rt, {.n_threads = 2});
    const auto l = e.prefill_all(tokens);
    EXPECT_EQ(std::vector<float>(l.begin(), l.end()), want);
  }

  // Every tensor receives a gradient from next-token cross-entropy.
  const torch::Tensor target = as_tensor(tokens).slice(0, 1);
  torch::nn::functional::cross_entropy(logits.slice(0, 0, 39), target).backward();
  for (const std::string& n : m.names) {
    const torch::Tensor& g = m.at(n).grad();
    ASSERT_TRUE(g.defined()) << n;
    EXPECT_GT(g.abs().sum().item<double>(), 0.0) << n;
  }
}

TEST(Train, DenseWithKvSharingMatchesTheRuntime) {
  check_architecture(testing::tiny_config(0.375), "dense");
}

TEST(Train, PtMoeMatchesTheRuntime) {
  check_architecture(testing::tiny_pt_moe_config(), "pt_moe");
}

TEST(Train, BatchedForwardEqualsOneSequenceAtATime) {
  for (const model_config& c : {testing::tiny_config(0.375), testing::tiny_pt_moe_config()}) {
    SCOPED_TRACE(c.arch);
    torch_model m = import_model(testing::write_model(c, "train_batched_" + c.arch));
    torch::NoGradGuard no_grad;
    const torch::Tensor a = as_tensor(ids(24)), b = (as_tensor(ids(24)) * 5 + 3) % 96;
    const torch::Tensor both = forward(m, torch::stack({a, b}));
    ASSERT_EQ(both.dim(), 3);
    // Equal up to float rounding (BLAS blocks a batch of rows differently): relative 1e-5.
    const double scale = both.abs().max().item<double>();
    EXPECT_LT((both[0] - forward(m, a)).abs().max().item<double>(), 1e-5 * scale);
    EXPECT_LT((both[1] - forward(m, b)).abs().max().item<double>(), 1e-5 * scale);
  }
}

// Upcycling a dense model without KV sharing into one track with MoE every other layer keeps
// its function: identical experts and renormalised top-k weights sum to the dense FFN. Checked
// in libtorch and through the runtime on the exported PT-MoE file.
TEST(Train, UpcycledModelComputesTheDenseModel) {
  const model_config dense_cfg = testing::tiny_config(0.0);
  const std::string dense_path = testing::write_model(dense_cfg, "train_upcycle_dense");
  torch_model dense = import_model(dense_path);
  upcycle_options o;
  o.n_experts = 4;
  o.n_experts_used = 2;
  o.moe_every = 2;
  o.track_block_depth = 2;
  o.router_std = 0.5;  // a router that really picks different experts per token
  torch_model moe = upcycle(dense, o);
  EXPECT_EQ(moe.cfg.arch, "afm-pt-moe");
  const auto tokens = ids(30);
  torch::NoGradGuard no_grad;
  const torch::Tensor want = forward(dense, as_tensor(tokens));
  EXPECT_LT((forward(moe, as_tensor(tokens)) - want).abs().max().item<double>(), 1e-4);

  const std::string out = ::testing::TempDir() + "afm_train_upcycled.gguf";
  thread_pool pool(2);
  export_model(moe, out, dtype::f32, pool);
  auto rt = load_model(out);
  EXPECT_EQ(rt->cfg.n_experts, 4);
  engine e(*rt, {.n_threads = 2});
  const auto l = e.prefill_all(tokens);
  EXPECT_LT(worst_row_error(want, l, static_cast<size_t>(dense_cfg.n_vocab)), 1e-4);

  o.n_experts_used = 5;  // more than there are experts
  EXPECT_THROW(upcycle(dense, o), error);
  EXPECT_THROW(upcycle(moe, upcycle_options{}), error);  // the source must be dense
}

// A chat transcript as training data: only the response and its closing token count.
TEST(Train, ChatDocumentCountsOnlyTheResponse) {
  const tokenizer tok = bpe_tokenizer_for_tests();
  const std::vector<chat_entry> t = {{chat_role::instructions, "Be brief.", {}},
                                     {chat_role::user, "Hello there", {}},
                                     {chat_role::response, "Hi!", {}}};
  const token_document d = chat_document(tok, t);
  ASSERT_EQ(d.tokens.size(), d.counts.size());
  std::vector<int32_t> counted;
  for (size_t i = 0; i < d.tokens.size(); ++i)
    if (d.counts[i]) counted.push_back(d.tokens[i]);
  EXPECT_EQ(tok.decode(counted), "Hi!<|end|>");
  // The uncounted part is exactly the prompt a session sends (ending with <|response|>).
  const std::vector<chat_entry> prompt(t.begin(), t.end() - 1);
  const auto p = encode_chat(tok, chat_family::afm, prompt, true);
  EXPECT_TRUE(std::equal(p.begin(), p.end(), d.tokens.begin()));
  EXPECT_EQ(d.tokens.size() - counted.size(), p.size());
}

// Aligned packing: no transcript straddles a sequence boundary; the gaps are uncounted.
TEST(Train, AlignedTranscriptsStartWhereTheyFit) {
  const tokenizer tok = bpe_tokenizer_for_tests();
  corpus_options o;
  o.boundary = 0;
  o.align = 10;
  for (int32_t n : {5, 7, 3, 8, 2}) {
    token_document d;
    d.tokens.assign(static_cast<size_t>(n), 100 + n);  // tokens name their document
    d.counts.assign(static_cast<size_t>(n), 1);
    o.token_documents.push_back(d);
  }
  const corpus c = build_corpus({}, tok, o);
  const auto& t = c.train.tokens;
  ASSERT_EQ(t.size(), c.train.counts.size());
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] < 100) continue;
    const size_t first = i;
    while (i < t.size() && t[i] == t[first]) ++i;
    EXPECT_EQ(first / 10, (i - 1 + 1) / 10) << "document of " << t[first] - 100 << " at " << first;
    EXPECT_EQ(i - first, static_cast<size_t>(t[first] - 100));
  }
  size_t counted = 0;
  for (uint8_t x : c.train.counts) counted += x;
  EXPECT_EQ(counted, 30u);  // the documents' own 25 tokens and the 5 <|eos|> after them
}

TEST(Train, ErrorsNameTheProblem) {
  torch_model m = import_model(testing::write_model(testing::tiny_config(), "train_errors"));
  EXPECT_THROW(m.at("blk.99.attn_q.weight"), error);
  m.w["blk.0.attn_q.weight"] = torch::zeros({3, 3});
  thread_pool pool(1);
  try {
    export_model(m, ::testing::TempDir() + "afm_train_bad.gguf", dtype::f32, pool);
    FAIL() << "a wrong shape must not export";
  } catch (const error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.attn_q.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace afm::train
