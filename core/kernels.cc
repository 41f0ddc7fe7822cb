// SIMD implementations of core/kernels.h, compiled once per Highway target (foreach_target.h)
// and chosen at run time with HWY_DYNAMIC_DISPATCH.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/kernels.h"

HWY_BEFORE_NAMESPACE();
namespace afm::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;

float DotImpl(const float* a, const float* b, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
    s1 = hn::MulAdd(hn::LoadU(d, a + i + N), hn::LoadU(d, b + i + N), s1);
    s2 = hn::MulAdd(hn::LoadU(d, a + i + 2 * N), hn::LoadU(d, b + i + 2 * N), s2);
    s3 = hn::MulAdd(hn::LoadU(d, a + i + 3 * N), hn::LoadU(d, b + i + 3 * N), s3);
  }
  for (; i + N <= n; i += N) s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void RmsNormImpl(const float* x, const float* w, float* y, size_t n, float eps) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const float ms = DotImpl(x, x, n) / static_cast<float>(n);
  const float scale = 1.0f / std::sqrt(ms + eps);
  const auto vs = hn::Set(d, scale);
  size_t i = 0;
  for (; i + N <= n; i += N)
    hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(d, x + i), vs), hn::LoadU(d, w + i)), d, y + i);
  for (; i < n; ++i) y[i] = x[i] * scale * w[i];
}

void SoftmaxImpl(float* x, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  float mx = -INFINITY;
  for (size_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  const auto vmx = hn::Set(d, mx);
  auto vsum = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vmx));
    hn::StoreU(e, d, x + i);
    vsum = hn::Add(vsum, e);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, vsum));
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  const auto vinv = hn::Set(d, inv);
  i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), vinv), d, x + i);
  for (; i < n; ++i) x[i] *= inv;
}

void SwigluImpl(const float* gate, const float* up, float* out, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const auto one = hn::Set(d, 1.0f);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto g = hn::LoadU(d, gate + i);
    const auto sig = hn::Div(one, hn::Add(one, hn::Exp(d, hn::Neg(g))));
    hn::StoreU(hn::Mul(hn::Mul(g, sig), hn::LoadU(d, up + i)), d, out + i);
  }
  for (; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void AxpyImpl(float a, const float* x, float* y, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const auto va = hn::Set(d, a);
  size_t i = 0;
  for (; i + N <= n; i += N)
    hn::StoreU(hn::MulAdd(va, hn::LoadU(d, x + i), hn::LoadU(d, y + i)), d, y + i);
  for (; i < n; ++i) y[i] += a * x[i];
}

// dot(a, b) and y += a * b for int8 b: the 8-bit KV cache, widened lane by lane as it is read.
float DotI8Impl(const float* a, const int8_t* b, size_t n) {
  const DF d;
  const hn::Rebind<int32_t, DF> di32;
  const hn::Rebind<int8_t, DF> di8;
  const size_t N = hn::Lanes(d);
  auto widen = [&](const int8_t* p) {
    return hn::ConvertTo(d, hn::PromoteTo(di32, hn::LoadU(di8, p)));
  };
  auto s0 = hn::Zero(d), s1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    s0 = hn::MulAdd(hn::LoadU(d, a + i), widen(b + i), s0);
    s1 = hn::MulAdd(hn::LoadU(d, a + i + N), widen(b + i + N), s1);
  }
  for (; i + N <= n; i += N) s0 = hn::MulAdd(hn::LoadU(d, a + i), widen(b + i), s0);
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
  for (; i < n; ++i) s += a[i] * static_cast<float>(b[i]);
  return s;
}

void AxpyI8Impl(float a, const int8_t* x, float* y, size_t n) {
  const DF d;
  const hn::Rebind<int32_t, DF> di32;
  const hn::Rebind<int8_t, DF> di8;
  const size_t N = hn::Lanes(d);
  const auto va = hn::Set(d, a);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto xv = hn::ConvertTo(d, hn::PromoteTo(di32, hn::LoadU(di8, x + i)));
    hn::StoreU(hn::MulAdd(va, xv, hn::LoadU(d, y + i)), d, y + i);
  }
  for (; i < n; ++i) y[i] += a * static_cast<float>(x[i]);
}

void AddImpl(float* y, const float* x, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N)
    hn::StoreU(hn::Add(hn::LoadU(d, y + i), hn::LoadU(d, x + i)), d, y + i);
  for (; i < n; ++i) y[i] += x[i];
}

// ---- gemm: packed panels of NR = 2 vectors of output rows, K blocked by kKc --------------------

constexpr size_t kKc = 256;                             // K block: a packed panel stays in L1
constexpr size_t kMaxNR = 2 * HWY_MAX_BYTES / 4;        // widest panel of any target
constexpr size_t kMR = HWY_LANES(float) >= 16 ? 8 : 4;  // tokens per micro-tile: fits the registers

// acc += x[0..MR) (x) panel over kb steps; then y (+)= acc for the first nr columns.
template <size_t MR>
HWY_INLINE void MicroTile(const float* x, size_t ldx, const float* panel, size_t kb, float* y,
                          size_t ldy, size_t nr, bool accumulate) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const size_t NR = 2 * N;
  using V = hn::Vec<DF>;
  V acc0[MR], acc1[MR];
  for (size_t i = 0; i < MR; ++i) acc0[i] = acc1[i] = hn::Zero(d);
  for (size_t k = 0; k < kb; ++k) {
    const V b0 = hn::Load(d, panel + k * NR);
    const V b1 = hn::Load(d, panel + k * NR + N);
    for (size_t i = 0; i < MR; ++i) {
      const V xi = hn::Set(d, x[i * ldx + k]);
      acc0[i] = hn::MulAdd(xi, b0, acc0[i]);
      acc1[i] = hn::MulAdd(xi, b1, acc1[i]);
    }
  }
  HWY_ALIGN float tmp[kMaxNR];
  for (size_t i = 0; i < MR; ++i) {
    float* yi = y + i * ldy;
    if (nr == NR) {
      if (accumulate) {
        hn::StoreU(hn::Add(acc0[i], hn::LoadU(d, yi)), d, yi);
        hn::StoreU(hn::Add(acc1[i], hn::LoadU(d, yi + N)), d, yi + N);
      } else {
        hn::StoreU(acc0[i], d, yi);
        hn::StoreU(acc1[i], d, yi + N);
      }
    } else {
      hn::Store(acc0[i], d, tmp);
      hn::Store(acc1[i], d, tmp + N);
      for (size_t c = 0; c < nr; ++c) yi[c] = accumulate ? yi[c] + tmp[c] : tmp[c];
    }
  }
}

template <size_t MR>
HWY_INLINE void TileTail(size_t mr, const float* x, size_t ldx, const float* panel, size_t kb,
                         float* y, size_t ldy, size_t nr, bool accumulate) {
  if constexpr (MR > 0) {
    if (mr == MR) return MicroTile<MR>(x, ldx, panel, kb, y, ldy, nr, accumulate);
    return TileTail<MR - 1>(mr, x, ldx, panel, kb, y, ldy, nr, accumulate);
  }
}

void GemmImpl(const float* x, size_t ldx, size_t n, const gemm_weights& w, float* y, size_t ldy,
              size_t o_begin, size_t o_end) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const size_t NR = 2 * N;
  alignas(64) static thread_local float panel[kKc * kMaxNR];
  alignas(64) static thread_local float row[kKc];
  const size_t K = w.cols;
  for (size_t o0 = o_begin; o0 < o_end; o0 += NR) {
    const size_t nr = std::min(NR, o_end - o0);
    for (size_t kc = 0; kc < K; kc += kKc) {
      const size_t kb = std::min(kKc, K - kc);
      // Pack W[o0 + r][kc .. kc + kb) into panel[k][r], zero-padding missing rows.
      for (size_t r = 0; r < NR; ++r) {
        if (r >= nr) {
          for (size_t k = 0; k < kb; ++k) panel[k * NR + r] = 0.0f;
          continue;
        }
        const uint8_t* src = static_cast<const uint8_t*>(w.data) + (o0 + r) * w.row_bytes;
        const float* vals;
        if (w.decode) {
          w.decode(src + kc / w.block_elems * w.block_bytes, kb, row);
          vals = row;
        } else {
          vals = reinterpret_cast<const float*>(src) + kc;
        }
        for (size_t k = 0; k < kb; ++k) panel[k * NR + r] = vals[k];
      }
      size_t t = 0;
      for (; t + kMR <= n; t += kMR)
        MicroTile<kMR>(x + t * ldx + kc, ldx, panel, kb, y + t * ldy + o0, ldy, nr, kc > 0);
      if (t < n)
        TileTail<kMR>(n - t, x + t * ldx + kc, ldx, panel, kb, y + t * ldy + o0, ldy, nr, kc > 0);
    }
  }
}

// ---- attention ----------------------------------------------------------------------------------

void AttentionImpl(const attention_args& a, size_t task_begin, size_t task_end, float* scores) {
  const size_t group = a.n_heads / a.n_kv_heads;
  const size_t hd = a.head_dim;
  for (size_t task = task_begin; task < task_end; ++task) {
    const size_t t = task / a.n_heads, h = task % a.n_heads, kvh = h / group;
    const float* q = a.q + t * a.q_stride + h * hd;
    const size_t p = a.pos0 + t;
    const size_t first = a.window && p + 1 > a.window ? p + 1 - a.window : 0;
    const size_t n_keys = p + 1 - first;
    // The keys are at most two runs of slots: from first % ring to the ring's end, then from 0.
    const size_t s0 = first % a.ring;
    const size_t run0 = std::min(n_keys, a.ring - s0);
    auto slot = [&](size_t j) { return j < run0 ? s0 + j : j - run0; };
    float* out = a.out + t * a.out_stride + h * hd;
    std::memset(out, 0, hd * sizeof(float));
    if (a.k8) {
      const int8_t* kb = a.k8 + kvh * a.kv_head_stride;
      const int8_t* vb = a.v8 + kvh * a.kv_head_stride;
      const float* ks = a.k_scale + kvh * (a.kv_head_stride / hd);
      const float* vs = a.v_scale + kvh * (a.kv_head_stride / hd);
      for (size_t j = 0; j < n_keys; ++j)
        scores[j] = DotI8Impl(q, kb + slot(j) * hd, hd) * (ks[slot(j)] * a.scale);
      SoftmaxImpl(scores, n_keys);
      for (size_t j = 0; j < n_keys; ++j)
        AxpyI8Impl(scores[j] * vs[slot(j)], vb + slot(j) * hd, out, hd);
      continue;
    }
    const float* kb = a.k + kvh * a.kv_head_stride;
    const float* vb = a.v + kvh * a.kv_head_stride;
    for (size_t j = 0; j < run0; ++j) scores[j] = DotImpl(q, kb + (s0 + j) * hd, hd) * a.scale;
    for (size_t j = run0; j < n_keys; ++j)
      scores[j] = DotImpl(q, kb + (j - run0) * hd, hd) * a.scale;
    SoftmaxImpl(scores, n_keys);
    for (size_t j = 0; j < run0; ++j) AxpyImpl(scores[j], vb + (s0 + j) * hd, out, hd);
    for (size_t j = run0; j < n_keys; ++j) AxpyImpl(scores[j], vb + (j - run0) * hd, out, hd);
  }
}

const char* TargetName() {
  return hwy::TargetName(HWY_TARGET);
}

}  // namespace HWY_NAMESPACE
}  // namespace afm::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace afm::kernels {

HWY_EXPORT(DotImpl);
HWY_EXPORT(RmsNormImpl);
HWY_EXPORT(SoftmaxImpl);
HWY_EXPORT(SwigluImpl);
HWY_EXPORT(AxpyImpl);
HWY_EXPORT(AddImpl);
HWY_EXPORT(GemmImpl);
HWY_EXPORT(AttentionImpl);
HWY_EXPORT(TargetName);

float dot(const float* a, const float* b, size_t n) {
  return HWY_DYNAMIC_DISPATCH(DotImpl)(a, b, n);
}
void rms_norm(const float* x, const float* w, float* y, size_t n, float eps) {
  HWY_DYNAMIC_DISPATCH(RmsNormImpl)(x, w, y, n, eps);
}
void softmax(float* x, size_t n) {
  HWY_DYNAMIC_DISPATCH(SoftmaxImpl)(x, n);
}
void swiglu(const float* gate, const float* up, float* out, size_t n) {
  HWY_DYNAMIC_DISPATCH(SwigluImpl)(gate, up, out, n);
}
void axpy(float a, const float* x, float* y, size_t n) {
  HWY_DYNAMIC_DISPATCH(AxpyImpl)(a, x, y, n);
}
void add(float* y, const float* x, size_t n) {
  HWY_DYNAMIC_DISPATCH(AddImpl)(y, x, n);
}
void gemm(const float* x, size_t ldx, size_t n, const gemm_weights& w, float* y, size_t ldy,
          size_t o_begin, size_t o_end) {
  HWY_DYNAMIC_DISPATCH(GemmImpl)(x, ldx, n, w, y, ldy, o_begin, o_end);
}
void attention(const attention_args& a, size_t task_begin, size_t task_end, float* scores) {
  HWY_DYNAMIC_DISPATCH(AttentionImpl)(a, task_begin, task_end, scores);
}
float quantize_i8(const float* x, size_t n, int8_t* q) {
  float amax = 0.0f;
  for (size_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float inv = amax != 0.0f ? 127.0f / amax : 0.0f;
  for (size_t i = 0; i < n; ++i) q[i] = static_cast<int8_t>(std::lrintf(x[i] * inv));
  return amax / 127.0f;
}
const char* simd_target() {
  return HWY_DYNAMIC_DISPATCH(TargetName)();
}

void rope(float* x, size_t n_heads, size_t head_dim, const float* cos, const float* sin,
          rope_style style) {
  const size_t half = head_dim / 2;
  for (size_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    for (size_t i = 0; i < half; ++i) {
      const size_t i0 = style == rope_style::interleaved ? 2 * i : i;
      const size_t i1 = style == rope_style::interleaved ? 2 * i + 1 : i + half;
      const float x0 = v[i0], x1 = v[i1];
      v[i0] = x0 * cos[i] - x1 * sin[i];
      v[i1] = x0 * sin[i] + x1 * cos[i];
    }
  }
}

}  // namespace afm::kernels
#endif  // HWY_ONCE
