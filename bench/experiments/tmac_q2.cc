// Stop 29's measurement of a T-MAC-style q2 inner loop against the shape of today's AVX2 kernel
// (formats/balanced_bits-inl.h), one thread, weights resident in L2/L3. Not part of the build
// and not a kernel afm runs: it decides whether the lookup layout is worth a format change
// (docs/design.md, "A T-MAC lookup for q2, measured"). Build and run by hand:
//   g++ -O3 -mavx2 -mfma -o /tmp/tmac_q2 bench/experiments/tmac_q2.cc && /tmp/tmac_q2 1
// The argument scales the columns (3072 each); rows are 1024. (a) reads 4 rows of 64-byte blocks,
// one shift, mask and pmaddubsw a field; (b) reads tiles of 16 rows whose 32-byte vectors hold, for
// two groups of 4 columns, each row's two bit planes in adjacent bytes (low nibble group g, high
// nibble group g + 1), looks them up in int8 tables of the 16 sums of each group's 4 activations
// (pshufb) and adds 2 * plane1 + plane0 with one pmaddubsw. The int8 tables need activations in
// [-31, 31] (6 bits), which is the format change's cost in precision. Each run checks (b) against
// a scalar reading of its own layout for three rows and exits 1 on a mismatch.
#include <immintrin.h>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
int main(int argc, char** argv) {
  const size_t rows = 1024,
               cols = 3072 * (argc > 1 ? atoi(argv[1]) : 1);  // weights bytes = rows*cols/4
  const size_t nb = cols / 256;
  std::vector<uint8_t> w(rows * cols / 4 + 64);
  for (auto& b : w) b = rand();
  std::vector<int8_t> x(cols);
  for (auto& v : x) v = (rand() % 63) - 31;
  std::vector<float> y(rows), sc(rows * nb, 1.0f);
  // (a) current style: row-major code bytes, 64 per block, field f of byte j = weight f*64+j.
  auto run_a = [&]() {
    const __m256i m3 = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    for (size_t r = 0; r < rows; r += 4) {
      __m256 f[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
      for (size_t b = 0; b < nb; ++b) {
        __m256i a[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                        _mm256_setzero_si256()};
        for (size_t k = 0; k < 2; ++k) {
          __m256i v[4];
          for (int s = 0; s < 4; ++s)
            v[s] = _mm256_loadu_si256((const __m256i*)&w[(r + s) * cols / 4 + b * 64 + k * 32]);
          for (int fi = 0; fi < 4; ++fi) {
            __m256i xv = _mm256_loadu_si256((const __m256i*)&x[b * 256 + fi * 64 + k * 32]);
            for (int s = 0; s < 4; ++s) {
              __m256i c = fi == 0 ? _mm256_and_si256(v[s], m3)
                                  : _mm256_and_si256(_mm256_srli_epi16(v[s], 2 * fi), m3);
              a[s] = _mm256_add_epi16(a[s], _mm256_maddubs_epi16(c, xv));
              asm("" : "+x"(a[s]));
            }
          }
        }
        for (int s = 0; s < 4; ++s)
          f[s] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(a[s], ones)),
                                 _mm256_set1_ps(sc[(r + s) * nb + b]), f[s]);
      }
      for (int s = 0; s < 4; ++s) {
        float t[8];
        _mm256_storeu_ps(t, f[s]);
        float z = 0;
        for (float q : t) z += q;
        y[r + s] = z;
      }
    }
  };
  // (b) T-MAC style: tiles of 16 rows; per pair of 4-column groups g, g + 1, 32 bytes in which
  // byte 16h + 2i holds row 8h + i's high code bits (plane1) and byte 16h + 2i + 1 its low ones
  // (plane0), each byte's low nibble for group g and its high nibble for group g + 1. tab[16g + m]:
  // the sum of group g's activations selected by the bits of m.
  std::vector<int8_t> tab(cols / 4 * 16);
  auto build = [&]() {
    for (size_t g = 0; g < cols / 4; ++g)
      for (int m = 0; m < 16; ++m) {
        int t = 0;
        for (int i = 0; i < 4; ++i)
          if (m >> i & 1) t += x[g * 4 + i];
        tab[g * 16 + m] = (int8_t)t;
      }
  };
  auto run_b = [&]() {
    const __m256i m15 = _mm256_set1_epi8(15),
                  pat = _mm256_set1_epi16(0x0102);  // lane even (plane1) x2, odd (plane0) x1
    for (size_t r = 0; r < rows; r += 16) {
      const uint8_t* tile = &w[r * cols / 4];
      const float* tile_sc = &sc[r * nb];  // 16 scales a block, as a tiled file would hold them
      __m256 f0 = _mm256_setzero_ps(), f1 = _mm256_setzero_ps();
      for (size_t b = 0; b < nb; ++b) {
        __m256i acc = _mm256_setzero_si256(), acc2 = _mm256_setzero_si256();
        for (size_t gp = 0; gp < 32; ++gp) {  // 64 groups a block, two a load
          const size_t g = b * 64 + gp * 2;
          __m256i v = _mm256_loadu_si256((const __m256i*)(tile + (b * 32 + gp) * 32));
          __m256i t0 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)&tab[g * 16]));
          __m256i t1 =
              _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)&tab[(g + 1) * 16]));
          __m256i lo = _mm256_and_si256(v, m15),
                  hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m15);
          acc = _mm256_add_epi16(acc, _mm256_maddubs_epi16(pat, _mm256_shuffle_epi8(t0, lo)));
          acc2 = _mm256_add_epi16(acc2, _mm256_maddubs_epi16(pat, _mm256_shuffle_epi8(t1, hi)));
        }
        acc = _mm256_add_epi16(acc, acc2);  // 16 int16 lanes: rows 0-7 (half 0), 8-15 (half 1)
        __m256i lo32 = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc)),
                hi32 = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc, 1));
        f0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lo32), _mm256_loadu_ps(tile_sc + b * 16), f0);
        f1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(hi32), _mm256_loadu_ps(tile_sc + b * 16 + 8), f1);
      }
      _mm256_storeu_ps(&y[r], f0);
      _mm256_storeu_ps(&y[r + 8], f1);
    }
  };
  for (int rep = 0; rep < 3; ++rep) {
    double bytes = rows * cols / 4.0;
    int it = 50;
    double t = now();
    for (int i = 0; i < it; ++i) run_a();
    double ta = (now() - t) / it;
    build();
    t = now();
    for (int i = 0; i < it; ++i) run_b();
    double tb = (now() - t) / it;
    t = now();
    for (int i = 0; i < it; ++i) build();
    double tt = (now() - t) / it;
    printf("table build %.1f us, kernel b %.1f us  ", tt * 1e6, tb * 1e6);
    printf(
        "weights %.1f MiB  shift/mask/pmaddubsw %.2f GB/s   T-MAC lookup (kernel only) %.2f GB/s   "
        "ratio %.2f   y0 %g\n",
        bytes / 1048576, bytes / ta / 1e9, bytes / tb / 1e9, ta / tb, y[0]);
    // (b) against a scalar reading of its layout (scales 1): the sum of c_i x_i, c = 2 * bit1 +
    // bit0.
    for (size_t rr : {size_t(0), size_t(9), size_t(1023)}) {
      const size_t tr = rr / 16 * 16, ri = rr % 16, h = ri / 8, i = ri % 8;
      const uint8_t* tile = &w[tr * cols / 4];
      long ref = 0;
      for (size_t g = 0; g < cols / 4; ++g) {
        const size_t b = g / 64, gp = (g % 64) / 2, hi = g % 2;
        const uint8_t* v = tile + (b * 32 + gp) * 32 + h * 16;
        int m1 = (v[2 * i] >> (4 * hi)) & 15, m0 = (v[2 * i + 1] >> (4 * hi)) & 15;
        for (int k = 0; k < 4; ++k) ref += (2 * (m1 >> k & 1) + (m0 >> k & 1)) * x[g * 4 + k];
      }
      printf("row %zu: kernel %g reference %ld\n", rr, y[rr], ref);
      if (y[rr] != static_cast<float>(ref)) return 1;
    }
  }
}
