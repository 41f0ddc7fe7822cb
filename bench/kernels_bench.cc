// Kernel benchmarks. Matvec runs on up to three sizes per format: 64 rows that fit in L2 (compute
// plus the per-product overhead: activation preparation and the thread pool), 8 MiB past L2
// (compute: the kernel's own ceiling where the last-level cache holds it), and 1 GiB of weights
// (memory bound), so the ceilings can be told apart. Bytes/s are weight bytes read. The
// read-bandwidth and FMA-peak probes are the ceilings afm bench uses.
#include <astcenc.h>
#include <benchmark/benchmark.h>

#include <hwy/targets.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "afm/rng.h"
#include "afm/thread_pool.h"
#include "core/kernels.h"
#include "core/probe.h"
#include "formats/astc.h"
#include "formats/astc_block.h"
#include "formats/format.h"
#include "formats/matmul.h"

namespace afm {
namespace {

struct weights {
  std::vector<uint8_t> bytes;
  tensor t;
};

std::unique_ptr<weights> make_weights(dtype type, size_t rows, size_t cols) {
  auto w = std::make_unique<weights>();
  const formats::weight_format& f = *formats::find_format(type);
  // Encode up to 288 distinct rows (whole strips of every tiled format) and repeat them:
  // gigabyte-sized low-bit weights would take minutes to encode, and the kernels' speed does
  // not depend on the values.
  constexpr size_t kDistinct = 288;
  rows = rows > kDistinct ? rows / kDistinct * kDistinct : rows;
  const int64_t ne[2] = {static_cast<int64_t>(cols), static_cast<int64_t>(rows)};
  w->bytes.resize(tensor_bytes(type, ne, 2));
  const size_t head = std::min(rows, kDistinct);
  std::vector<float> values(head * cols);
  rng g(1);
  for (auto& v : values) v = static_cast<float>(g.normal() * 0.02);
  thread_pool pool(1);
  const int64_t head_ne[2] = {ne[0], static_cast<int64_t>(head)};
  formats::encode_tensor(f, values.data(), head_ne, 2, w->bytes.data(), pool);
  const size_t head_bytes = tensor_bytes(type, head_ne, 2);
  for (size_t at = head_bytes; at < w->bytes.size(); at += head_bytes)
    std::memcpy(w->bytes.data() + at, w->bytes.data(), std::min(head_bytes, w->bytes.size() - at));
  w->t = make_tensor(w->bytes.data(), type, {ne[0], ne[1]});
  return w;
}

enum class matrix_size { l2, l3, stream };

void BM_Matvec(benchmark::State& state, dtype type, matrix_size size) {
  const size_t cols = 2048, threads = static_cast<size_t>(state.range(0));
  // Tiled formats decode through libastcenc or a palette: 64 MiB (past the caches) is plenty.
  // q2_tiles encodes as fast as q2 and is compared with it on the same 1 GiB.
  const bool slow_encode = formats::find_format(type)->tile_rows > 1 && type != dtype::afm_q2_tiles;
  const size_t stream_bytes = slow_encode ? size_t{1} << 26 : size_t{1} << 30;
  const size_t bytes = size == matrix_size::stream ? stream_bytes : size_t{8} << 20;
  const size_t rows = size == matrix_size::l2 ? 64 : bytes / dtype_bytes(type, cols);
  auto w = make_weights(type, rows, cols);
  thread_pool pool(static_cast<int>(threads));
  std::vector<float> x(cols, 0.5f), y(rows);
  for (auto _ : state) {
    formats::matmul(w->t, x.data(), cols, 1, y.data(), rows, pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w->bytes.size()));
}

void BM_Gemm(benchmark::State& state, dtype type) {
  const size_t n = static_cast<size_t>(state.range(0)), rows = 2048, cols = 2048;
  auto w = make_weights(type, rows, cols);
  thread_pool pool(static_cast<int>(state.range(1)));
  std::vector<float> x(n * cols, 0.5f), y(n * rows);
  for (auto _ : state) {
    formats::matmul(w->t, x.data(), cols, n, y.data(), rows, pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * static_cast<double>(n * rows * cols) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

// astc block decoding alone, one thread, on the blocks of 288 x 2048 Gaussian weights (16 K
// blocks, in L2/L3): the format's strip decoder (afm's own block decoder, libastcenc for the
// blocks it does not take) against libastcenc's decompressor over the same blocks as one image.
// Weights/s; the ratio of the two is the decoder's gain.
void BM_AstcDecode(benchmark::State& state, bool own) {
  namespace astc = formats::astc;
  const size_t rows = 288, cols = 2048, nbx = (cols + 5) / 6, strips = rows / 6;
  auto w = make_weights(dtype::afm_astc, rows, cols);
  const formats::weight_format& f = *formats::find_format(dtype::afm_astc);
  std::vector<float> residual(6 * cols), offsets(nbx);
  std::vector<uint8_t> blocks(strips * nbx * astc::kAstcBytes);
  for (size_t i = 0; i < strips * nbx; ++i)
    std::memcpy(blocks.data() + i * astc::kAstcBytes, w->bytes.data() + i * astc::kBlockBytes,
                astc::kAstcBytes);
  astcenc_config cfg;
  astcenc_config_init(ASTCENC_PRF_HDR, 6, 6, 1, ASTCENC_PRE_FASTEST, ASTCENC_FLG_DECOMPRESS_ONLY,
                      &cfg);
  astcenc_context* ctx = nullptr;
  astcenc_context_alloc(&cfg, 1, &ctx);
  std::vector<float> rgba(6 * nbx * 6 * 4);
  void* slice = rgba.data();
  astcenc_image img{static_cast<unsigned>(nbx * 6), 6, 1, ASTCENC_TYPE_F32, &slice};
  const astcenc_swizzle swz{ASTCENC_SWZ_R, ASTCENC_SWZ_G, ASTCENC_SWZ_B, ASTCENC_SWZ_A};
  size_t own_blocks = 0;
  float texels[6 * astc::kRowSpan];
  for (size_t i = 0; i < strips * nbx; ++i)
    own_blocks +=
        astc::decode_luminance_block(blocks.data() + i * astc::kAstcBytes, texels, astc::kRowSpan);
  for (auto _ : state) {
    for (size_t s = 0; s < strips; ++s) {
      if (own) {
        f.decode_strip(w->bytes.data() + s * nbx * astc::kBlockBytes, cols, residual.data(),
                       offsets.data());
        benchmark::DoNotOptimize(residual.data());
      } else {
        astcenc_decompress_image(ctx, blocks.data() + s * nbx * astc::kAstcBytes,
                                 nbx * astc::kAstcBytes, &img, &swz, 0);
        astcenc_decompress_reset(ctx);
        benchmark::DoNotOptimize(rgba.data());
      }
    }
  }
  astcenc_context_free(ctx);
  state.counters["weights/s"] =
      benchmark::Counter(static_cast<double>(rows * cols) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
  state.counters["own_share"] = static_cast<double>(own_blocks) / static_cast<double>(strips * nbx);
}

void BM_ReadBandwidth(benchmark::State& state) {
  thread_pool pool(static_cast<int>(state.range(0)));
  double bw = 0;
  for (auto _ : state) bw = probe::read_bandwidth(pool, size_t{1} << 30, 3);
  state.counters["GB/s"] = bw / 1e9;
}

void BM_FmaPeak(benchmark::State& state) {
  thread_pool pool(static_cast<int>(state.range(0)));
  double f = 0;
  for (auto _ : state) f = probe::fma_peak(pool);
  state.counters["GFLOP/s"] = f / 1e9;
}

// Streams and 8 MiB products on one thread and on two, timed by the wall clock.
void one_and_two_threads(benchmark::internal::Benchmark* b) {
  b->Arg(1)->Arg(2)->UseRealTime();
}

BENCHMARK_CAPTURE(BM_Matvec, f32_l2, dtype::f32, matrix_size::l2)->Arg(1);
BENCHMARK_CAPTURE(BM_Matvec, bf16_l2, dtype::bf16, matrix_size::l2)->Arg(1);
BENCHMARK_CAPTURE(BM_Matvec, f16_l2, dtype::f16, matrix_size::l2)->Arg(1);
BENCHMARK_CAPTURE(BM_Matvec, q8_l2, dtype::q8_0, matrix_size::l2)->Arg(1);
BENCHMARK_CAPTURE(BM_Matvec, f32_stream, dtype::f32, matrix_size::stream)
    ->Apply(one_and_two_threads);
BENCHMARK_CAPTURE(BM_Matvec, bf16_stream, dtype::bf16, matrix_size::stream)
    ->Apply(one_and_two_threads);
BENCHMARK_CAPTURE(BM_Matvec, q8_stream, dtype::q8_0, matrix_size::stream)
    ->Apply(one_and_two_threads);
BENCHMARK_CAPTURE(BM_Matvec, q4_l2, dtype::afm_q4, matrix_size::l2)->Arg(1);
BENCHMARK_CAPTURE(BM_Matvec, q2_l2, dtype::afm_q2, matrix_size::l2)->Arg(1);
BENCHMARK_CAPTURE(BM_Matvec, q8_l3, dtype::q8_0, matrix_size::l3)->Apply(one_and_two_threads);
BENCHMARK_CAPTURE(BM_Matvec, q4_l3, dtype::afm_q4, matrix_size::l3)->Apply(one_and_two_threads);
BENCHMARK_CAPTURE(BM_Matvec, q2_l3, dtype::afm_q2, matrix_size::l3)->Apply(one_and_two_threads);
// q2 re-laid for the table lookup, as load_model runs it (formats/q2_tiles.h).
BENCHMARK_CAPTURE(BM_Matvec, q2_tiles_l2, dtype::afm_q2_tiles, matrix_size::l2)->Arg(1);
BENCHMARK_CAPTURE(BM_Matvec, q2_tiles_l3, dtype::afm_q2_tiles, matrix_size::l3)
    ->Apply(one_and_two_threads);
BENCHMARK_CAPTURE(BM_Matvec, q4_stream, dtype::afm_q4, matrix_size::stream)
    ->Apply(one_and_two_threads);
BENCHMARK_CAPTURE(BM_Matvec, q2_stream, dtype::afm_q2, matrix_size::stream)
    ->Apply(one_and_two_threads);
BENCHMARK_CAPTURE(BM_Matvec, q2_tiles_stream, dtype::afm_q2_tiles, matrix_size::stream)
    ->Apply(one_and_two_threads);
BENCHMARK_CAPTURE(BM_Matvec, astc_stream, dtype::afm_astc, matrix_size::stream)
    ->Apply(one_and_two_threads);
BENCHMARK_CAPTURE(BM_Matvec, pal4_stream, dtype::afm_pal4, matrix_size::stream)
    ->Apply(one_and_two_threads);
BENCHMARK_CAPTURE(BM_Matvec, pal2_stream, dtype::afm_pal2, matrix_size::stream)
    ->Apply(one_and_two_threads);
BENCHMARK_CAPTURE(BM_AstcDecode, own, true);
BENCHMARK_CAPTURE(BM_AstcDecode, libastcenc, false);
BENCHMARK_CAPTURE(BM_Gemm, f32, dtype::f32)
    ->Args({64, 1})
    ->Args({256, 1})
    ->Args({256, 2})
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Gemm, bf16, dtype::bf16)->Args({256, 2})->UseRealTime();
BENCHMARK_CAPTURE(BM_Gemm, q8, dtype::q8_0)->Args({256, 2})->UseRealTime();
BENCHMARK_CAPTURE(BM_Gemm, q4, dtype::afm_q4)->Args({256, 2})->UseRealTime();
BENCHMARK_CAPTURE(BM_Gemm, q2, dtype::afm_q2)->Args({256, 2})->UseRealTime();
BENCHMARK_CAPTURE(BM_Gemm, q2_tiles, dtype::afm_q2_tiles)->Args({256, 2})->UseRealTime();
BENCHMARK_CAPTURE(BM_Gemm, astc, dtype::afm_astc)->Args({256, 2})->UseRealTime();
BENCHMARK_CAPTURE(BM_Gemm, pal4, dtype::afm_pal4)->Args({256, 2})->UseRealTime();
BENCHMARK(BM_ReadBandwidth)->Arg(1)->Arg(2)->Iterations(1)->UseRealTime();
BENCHMARK(BM_FmaPeak)->Arg(1)->Arg(2)->Iterations(1)->UseRealTime();

}  // namespace
}  // namespace afm

// BENCHMARK_MAIN plus --simd_target=NAME (a name as hwy::TargetName prints it, e.g. AVX2), which
// forces the dispatcher onto that target, so an AVX-512 host can also time the kernels the
// AVX2 hosts run.
int main(int argc, char** argv) {
  std::vector<char*> args;
  const std::string flag = "--simd_target=";
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help")
      std::fprintf(stderr,
                   "  [--simd_target=NAME]  time the kernels of one Highway target (e.g. AVX2)\n");
    if (a.rfind(flag, 0) != 0) {
      args.push_back(argv[i]);
      continue;
    }
    const std::string name = a.substr(flag.size());
    int64_t chosen = 0;
    std::string known;
    for (const int64_t t : hwy::SupportedAndGeneratedTargets()) {
      if (name == hwy::TargetName(t)) chosen = t;
      known += std::string(known.empty() ? "" : ", ") + hwy::TargetName(t);
    }
    if (chosen == 0) {
      std::fprintf(stderr,
                   "afm_kernels_bench: --simd_target=%s is not a target this build has and "
                   "this CPU runs (%s)\n",
                   name.c_str(), known.c_str());
      return 2;
    }
    hwy::SetSupportedTargetsForTest(chosen);
  }
  std::fprintf(stderr, "SIMD target: %s\n", afm::kernels::simd_target());
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
