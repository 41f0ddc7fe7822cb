// Stop 30's look at what limits q2_tiles' AVX2 inner loop (formats/q2_tiles.cc) on an AVX2 host
// whose 256-bit integer ops are slow. Not part of the build; not a kernel afm runs. Build and run
// by hand (TILES: 1056-byte tiles of codes read per pass; 8 stays in L1):
//   g++ -O3 -mavx2 -mfma -o /tmp/q2_tiles_loop bench/experiments/q2_tiles_loop.cc
//   TILES=8 /tmp/q2_tiles_loop
// It prints GB/s of codes for the kept loop and for variants that drop or halve one kind of op,
// three rounds. The variants compute wrong sums on purpose: they time, they do not check.
#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// 0: the kept loop. 1: no vpmaddubsw. 2: vpxor in place of vpshufb. 3: both lookups added in
// int8 before one vpmaddubsw.
template <int kVariant>
__attribute__((noinline)) void run(const uint8_t* codes, const int8_t* tab, size_t tiles,
                                   int16_t* out) {
  const __m256i low4 = _mm256_set1_epi8(15), planes = _mm256_set1_epi16(0x0102);
  __m256i a = _mm256_setzero_si256(), e = a;
  for (size_t t = 0; t < tiles; ++t) {
    const uint8_t* c = codes + t * 1056 + 32;
    for (size_t k = 0; k < 32; ++k) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 32 * k));
      const __m256i ilo = _mm256_and_si256(v, low4);
      const __m256i ihi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
      const __m256i tl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tab + 32 * k));
      const __m256i th = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tab + 1024 + 32 * k));
      if (kVariant == 0) {
        a = _mm256_add_epi16(a, _mm256_maddubs_epi16(planes, _mm256_shuffle_epi8(tl, ilo)));
        e = _mm256_add_epi16(e, _mm256_maddubs_epi16(planes, _mm256_shuffle_epi8(th, ihi)));
      } else if (kVariant == 1) {
        a = _mm256_add_epi16(a, _mm256_shuffle_epi8(tl, ilo));
        e = _mm256_add_epi16(e, _mm256_shuffle_epi8(th, ihi));
      } else if (kVariant == 2) {
        a = _mm256_add_epi16(a, _mm256_maddubs_epi16(planes, _mm256_xor_si256(tl, ilo)));
        e = _mm256_add_epi16(e, _mm256_maddubs_epi16(planes, _mm256_xor_si256(th, ihi)));
      } else {
        const __m256i s =
            _mm256_add_epi8(_mm256_shuffle_epi8(tl, ilo), _mm256_shuffle_epi8(th, ihi));
        a = _mm256_add_epi16(a, _mm256_maddubs_epi16(planes, s));
      }
      asm("" : "+x"(a), "+x"(e));
    }
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_add_epi16(a, e));
}

int main() {
  const char* env = getenv("TILES");
  const size_t tiles = env ? static_cast<size_t>(atol(env)) : 8;
  std::vector<uint8_t> codes(tiles * 1056);
  for (auto& b : codes) b = static_cast<uint8_t>(rand());
  std::vector<int8_t> tab(2048);
  for (auto& b : tab) b = static_cast<int8_t>(rand() % 100);
  int16_t out[16];
  const size_t reps = (256u << 20) / (tiles * 1024) + 1;
  auto bench = [&](auto f, const char* name) {
    f();
    const double t0 = now();
    for (size_t i = 0; i < reps; ++i) f();
    printf("%s %.2f GB/s of codes\n", name,
           static_cast<double>(reps * tiles * 1024) / (now() - t0) / 1e9);
  };
  for (int round = 0; round < 3; ++round) {
    bench([&] { run<0>(codes.data(), tab.data(), tiles, out); }, "kept loop              ");
    bench([&] { run<1>(codes.data(), tab.data(), tiles, out); }, "no vpmaddubsw          ");
    bench([&] { run<2>(codes.data(), tab.data(), tiles, out); }, "vpxor for vpshufb      ");
    bench([&] { run<3>(codes.data(), tab.data(), tiles, out); }, "one vpmaddubsw of two  ");
  }
  printf("(%d)\n", out[0]);
}
