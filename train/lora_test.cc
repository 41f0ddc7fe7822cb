// Recovery adapters (train/lora.h): the model they apply, where gradients go, and the exported
// file the runtime reads.
#include "train/lora.h"

#include <gtest/gtest.h>

#include <cstring>

#include "afm/error.h"
#include "afm/gguf.h"
#include "model/tiny_model_test_util.h"

namespace afm::train {
namespace {

TEST(Lora, AppliedModelAndGradients) {
  const std::string path = testing::write_model(testing::tiny_config(), "lora_base", dtype::q8_0);
  torch_model m = import_model(path);
  lora_state s = lora_state::init(m, {.rank = 3, .alpha = 6.0});
  ASSERT_FALSE(s.names.empty());
  EXPECT_EQ(s.a.count("token_embd.weight"), 0u);
  {
    torch::NoGradGuard no_grad;
    for (const std::string& n : s.names) s.b[n].normal_();  // B = 0 would hide the scale
  }
  const torch_model applied = s.applied(m);
  for (const std::string& n : m.names) {
    const torch::Tensor want =
        s.a.count(n) ? m.at(n) + 2.0 * torch::matmul(s.b.at(n), s.a.at(n)) : m.at(n);
    EXPECT_TRUE(torch::allclose(applied.at(n), want, 1e-5, 1e-5)) << n;
  }
  // The base is frozen: a loss through the applied model reaches only the adapters.
  forward(applied, torch::tensor({1, 2, 3}, torch::kInt64)).sum().backward();
  for (const std::string& n : s.names) {
    EXPECT_TRUE(s.a.at(n).grad().defined()) << n;
    EXPECT_FALSE(m.at(n).grad().defined()) << n;
  }
}

TEST(Lora, ExportKeepsTheBaseAndAddsF16Pairs) {
  const std::string path = testing::write_model(testing::tiny_config(), "lora_export", dtype::q8_0);
  torch_model m = import_model(path);
  lora_state s = lora_state::init(m, {.rank = 2, .alpha = 8.0});
  {
    torch::NoGradGuard no_grad;
    for (const std::string& n : s.names) s.b[n].normal_();
  }
  const std::string out = ::testing::TempDir() + "afm_lora_export_out.gguf";
  export_with_adapters(path, s, out);
  const gguf_file base = gguf_file::open(path), got = gguf_file::open(out);
  for (const gguf_tensor_info& t : base.tensors()) {
    const gguf_tensor_info* g = got.find_tensor(t.name);
    ASSERT_NE(g, nullptr) << t.name;
    ASSERT_EQ(g->bytes, t.bytes);
    EXPECT_EQ(std::memcmp(got.get_tensor(t.name).data, base.get_tensor(t.name).data, t.bytes), 0)
        << t.name;
  }
  for (const std::string& n : s.names) {
    const tensor a = got.get_tensor(n + ".lora_a"), b = got.get_tensor(n + ".lora_b");
    ASSERT_EQ(a.type, dtype::f16);
    ASSERT_EQ(a.rows(), 2);
    ASSERT_EQ(b.cols(), 2);
    const auto* ah = static_cast<const uint16_t*>(a.data);
    const auto* bh = static_cast<const uint16_t*>(b.data);
    const torch::Tensor av = s.a.at(n).detach().flatten(), bv = s.b.at(n).detach().flatten() * 4.0;
    for (int64_t i = 0; i < av.numel(); ++i) ASSERT_EQ(ah[i], f32_to_f16(av[i].item<float>())) << n;
    for (int64_t i = 0; i < bv.numel(); ++i)  // the alpha / rank scale is folded into B
      ASSERT_EQ(bh[i], f32_to_f16(bv[i].item<float>())) << n;
  }
  // The runtime's import (and load) binds the pairs: the matrix comes back as W + B A.
  const torch_model back = import_model(out);
  const torch_model applied = s.applied(m);
  for (const std::string& n : s.names)
    EXPECT_TRUE(torch::allclose(back.at(n), applied.at(n), 1e-2, 1e-2)) << n;
  EXPECT_THROW(export_with_adapters(out, s, out + ".again"), error);  // already has pairs
}

}  // namespace
}  // namespace afm::train
