// Per-target matrix-vector product for the 16-bit float formats (bf16, f16): widen a vector of
// weights to f32 and fuse it into four independent FMA chains. Included inside HWY_NAMESPACE by
// bf16.cc and f16.cc.
#include <hwy/highway.h>

namespace hn = hwy::HWY_NAMESPACE;

template <typename T>
void MatvecHalf(const void* w, size_t row_bytes, size_t cols, const float* x, float* y, size_t r0,
                size_t r1) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<T, decltype(df)> dh;
  const size_t N = hn::Lanes(df);
  for (size_t r = r0; r < r1; ++r) {
    const T* row = reinterpret_cast<const T*>(static_cast<const uint8_t*>(w) + r * row_bytes);
    auto s0 = hn::Zero(df), s1 = hn::Zero(df), s2 = hn::Zero(df), s3 = hn::Zero(df);
    size_t i = 0;
    for (; i + 4 * N <= cols; i += 4 * N) {
      s0 = hn::MulAdd(hn::PromoteTo(df, hn::LoadU(dh, row + i)), hn::LoadU(df, x + i), s0);
      s1 = hn::MulAdd(hn::PromoteTo(df, hn::LoadU(dh, row + i + N)), hn::LoadU(df, x + i + N), s1);
      s2 = hn::MulAdd(hn::PromoteTo(df, hn::LoadU(dh, row + i + 2 * N)),
                      hn::LoadU(df, x + i + 2 * N), s2);
      s3 = hn::MulAdd(hn::PromoteTo(df, hn::LoadU(dh, row + i + 3 * N)),
                      hn::LoadU(df, x + i + 3 * N), s3);
    }
    for (; i + N <= cols; i += N)
      s0 = hn::MulAdd(hn::PromoteTo(df, hn::LoadU(dh, row + i)), hn::LoadU(df, x + i), s0);
    float s = hn::GetLane(hn::SumOfLanes(df, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
    if (i < cols) {  // tail: widen one masked-in partial vector
      HWY_ALIGN float tmp[HWY_MAX_BYTES / sizeof(float)];
      const hn::CappedTag<T, 1> d1;
      const hn::CappedTag<float, 1> f1;
      for (; i < cols; ++i) {
        hn::StoreU(hn::PromoteTo(f1, hn::LoadU(d1, row + i)), f1, tmp);
        s += tmp[0] * x[i];
      }
    }
    y[r - r0] = s;
  }
}
