// Per-target helpers shared by the format kernels (included inside HWY_NAMESPACE).
//
// MatvecStripes runs a 4-row kernel over rows [r0, r1) in four stripes — rows i, i + q, i + 2q,
// i + 3q — so each thread reads four independent memory streams at once, which the memory read
// ceiling needs (one stream per thread reaches only about two thirds of it).
// The including file must include <hwy/cache_control.h>, <hwy/highway.h> and <type_traits>
// at the top level first.

// Bytes ahead of each stream to prefetch, 4 streams per thread. 2048 since stop 34: on a Zen 5
// whose memory at times reads 80 GB/s, 1024 left too few lines in flight for q4 and q2 to keep
// up (docs/performance.md, "Stop 34"); on slower memory the two measured alike.
#ifndef AFM_MATVEC_PREFETCH_BYTES
#define AFM_MATVEC_PREFETCH_BYTES 2048
#endif

namespace hn = hwy::HWY_NAMESPACE;

// kernel(rows[4], out[4]) computes the dot products of four weight rows with the activation.
template <class Kernel>
HWY_INLINE void MatvecStripes(const void* w, size_t row_bytes, float* y, size_t r0, size_t r1,
                              const Kernel& kernel) {
  const auto* base = static_cast<const uint8_t*>(w);
  const size_t n = r1 - r0, q = n / 4;
  const uint8_t* rows[4];
  float out[4];
  for (size_t i = 0; i < q; ++i) {
    for (size_t s = 0; s < 4; ++s) rows[s] = base + (r0 + s * q + i) * row_bytes;
    kernel(rows, out);
    for (size_t s = 0; s < 4; ++s) y[s * q + i] = out[s];
  }
  for (size_t r = r0 + 4 * q; r < r1; ++r) {  // at most 3 left: run them one at a time
    rows[0] = rows[1] = rows[2] = rows[3] = base + r * row_bytes;
    kernel(rows, out);
    y[r - r0] = out[0];
  }
}

// Dot products of four rows of T (float, bfloat16_t or float16_t) with f32 x; two FMA chains
// per row keep both FMA ports busy.
template <typename T>
HWY_INLINE void DotRows4(const uint8_t* const rows[4], const float* x, size_t cols, float out[4]) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<T, decltype(df)> dt;
  const size_t N = hn::Lanes(df);
  const T* r[4];
  for (size_t s = 0; s < 4; ++s) r[s] = reinterpret_cast<const T*>(rows[s]);
  auto load = [&](const T* p) {
    if constexpr (std::is_same_v<T, float>) {
      return hn::LoadU(df, p);
    } else {
      return hn::PromoteTo(df, hn::LoadU(dt, p));
    }
  };
  auto a0 = hn::Zero(df), a1 = hn::Zero(df), a2 = hn::Zero(df), a3 = hn::Zero(df);
  auto b0 = hn::Zero(df), b1 = hn::Zero(df), b2 = hn::Zero(df), b3 = hn::Zero(df);
  size_t i = 0;
  constexpr size_t kAhead = AFM_MATVEC_PREFETCH_BYTES / sizeof(T);
  for (; i + 2 * N <= cols; i += 2 * N) {
    for (size_t s = 0; s < 4; ++s) hwy::Prefetch(r[s] + i + kAhead);
    const auto x0 = hn::LoadU(df, x + i), x1 = hn::LoadU(df, x + i + N);
    a0 = hn::MulAdd(load(r[0] + i), x0, a0);
    a1 = hn::MulAdd(load(r[1] + i), x0, a1);
    a2 = hn::MulAdd(load(r[2] + i), x0, a2);
    a3 = hn::MulAdd(load(r[3] + i), x0, a3);
    b0 = hn::MulAdd(load(r[0] + i + N), x1, b0);
    b1 = hn::MulAdd(load(r[1] + i + N), x1, b1);
    b2 = hn::MulAdd(load(r[2] + i + N), x1, b2);
    b3 = hn::MulAdd(load(r[3] + i + N), x1, b3);
  }
  for (; i + N <= cols; i += N) {
    const auto x0 = hn::LoadU(df, x + i);
    a0 = hn::MulAdd(load(r[0] + i), x0, a0);
    a1 = hn::MulAdd(load(r[1] + i), x0, a1);
    a2 = hn::MulAdd(load(r[2] + i), x0, a2);
    a3 = hn::MulAdd(load(r[3] + i), x0, a3);
  }
  out[0] = hn::GetLane(hn::SumOfLanes(df, hn::Add(a0, b0)));
  out[1] = hn::GetLane(hn::SumOfLanes(df, hn::Add(a1, b1)));
  out[2] = hn::GetLane(hn::SumOfLanes(df, hn::Add(a2, b2)));
  out[3] = hn::GetLane(hn::SumOfLanes(df, hn::Add(a3, b3)));
  if (i < cols) {  // fewer than one vector left: widen one element at a time
    const hn::CappedTag<float, 1> d1;
    const hn::Rebind<T, decltype(d1)> t1;
    for (; i < cols; ++i)
      for (size_t s = 0; s < 4; ++s) {
        float v;
        if constexpr (std::is_same_v<T, float>) {
          v = r[s][i];
        } else {
          v = hn::GetLane(hn::PromoteTo(d1, hn::LoadU(t1, r[s] + i)));
        }
        out[s] += v * x[i];
      }
  }
}

template <typename T>
void MatvecFloat(const void* w, size_t row_bytes, size_t cols, const float* x, float* y, size_t r0,
                 size_t r1) {
  MatvecStripes(w, row_bytes, y, r0, r1, [&](const uint8_t* const rows[4], float out[4]) {
    DotRows4<T>(rows, x, cols, out);
  });
}

// Quantizes the n floats at x (n a multiple of the float vector length) to integers T (int8_t or
// int16_t) on the grid amax / qmax, exactly as the scalar q = lrintf(x * (qmax / amax)) (round
// half to even) with amax = max |x|: the integer kernels' activation, which each product
// prepares once on the calling thread while the others wait, so a scalar loop there showed up
// in decode. Returns amax; *sum (if not null) receives the sum of the integers.
template <typename T>
HWY_INLINE float QuantizeActBlock(const float* x, size_t n, T* q, int32_t* sum,
                                  float qmax = 127.0f) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di32;
  const hn::Rebind<T, decltype(df)> dq;
  const size_t N = hn::Lanes(df);
  auto m = hn::Zero(df);
  for (size_t i = 0; i < n; i += N) m = hn::Max(m, hn::Abs(hn::LoadU(df, x + i)));
  const float amax = hn::GetLane(hn::MaxOfLanes(df, m));
  const auto id = hn::Set(df, amax != 0.0f ? qmax / amax : 0.0f);
  auto s = hn::Zero(di32);
  for (size_t i = 0; i < n; i += N) {
    const auto qi = hn::NearestInt(hn::Mul(hn::LoadU(df, x + i), id));
    s = hn::Add(s, qi);
    hn::StoreU(hn::DemoteTo(dq, qi), dq, q + i);
  }
  if (sum) *sum = hn::GetLane(hn::SumOfLanes(di32, s));
  return amax;
}
