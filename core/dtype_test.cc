#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "afm/dtype.h"
#include "afm/error.h"

namespace afm {
namespace {

float bits_to_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(Dtype, F16RoundTripsEveryValue) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_f16(f), h) << "f16 bits " << h;
  }
}

TEST(Dtype, F16KnownValues) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);                      // rounds past the maximum: infinity
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);         // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);         // tie rounds to even (0)
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);         // tie 1.5 rounds to even (2)
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie to even mantissa
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);
  EXPECT_FLOAT_EQ(f16_to_f32(0x3555), 0.333251953125f);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(NAN))));
}

TEST(Dtype, Bf16Rounding) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808000)), 0x3f80);  // tie, even stays
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f818000)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808001)), 0x3f81);
  EXPECT_FLOAT_EQ(bf16_to_f32(0xc040), -3.0f);
}

TEST(Dtype, Sizes) {
  EXPECT_EQ(dtype_bytes(dtype::f32, 10), 40u);
  EXPECT_EQ(dtype_bytes(dtype::q8_0, 64), 68u);
  EXPECT_THROW(dtype_bytes(dtype::q8_0, 33), error);
  EXPECT_EQ(parse_dtype("q8"), dtype::q8_0);
  EXPECT_EQ(parse_dtype("q2"), dtype::afm_q2);
  EXPECT_EQ(dtype_bytes(dtype::afm_q2, 512), 132u);  // 2.0625 bits per weight
  EXPECT_EQ(dtype_bytes(dtype::afm_q4, 256), 130u);
  EXPECT_THROW(dtype_bytes(dtype::afm_q4, 128), error);
  EXPECT_THROW(parse_dtype("q3"), error);
  EXPECT_EQ(find_dtype_layout(99), nullptr);
  EXPECT_EQ(dtype_name(static_cast<dtype>(99)), "type#99");
}

}  // namespace
}  // namespace afm
