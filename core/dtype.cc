// Type table and scalar conversions for afm::dtype (see include/afm/dtype.h).
#include "afm/dtype.h"

#include <array>

#include "afm/error.h"
#include "afm/tensor.h"

namespace afm {
namespace {

struct known_type {
  uint32_t id;
  dtype_layout layout;
};

// Sizes of GGML's types, from the GGUF specification.
constexpr std::array<known_type, 26> kTypes{{
    {0, {"f32", 1, 4}},
    {1, {"f16", 1, 2}},
    {2, {"q4_0", 32, 18}},
    {3, {"q4_1", 32, 20}},
    {6, {"q5_0", 32, 22}},
    {7, {"q5_1", 32, 24}},
    {8, {"q8_0", 32, 34}},
    {9, {"q8_1", 32, 36}},
    {10, {"q2_k", 256, 84}},
    {11, {"q3_k", 256, 110}},
    {12, {"q4_k", 256, 144}},
    {13, {"q5_k", 256, 176}},
    {14, {"q6_k", 256, 210}},
    {15, {"q8_k", 256, 292}},
    {24, {"i8", 1, 1}},
    {25, {"i16", 1, 2}},
    {26, {"i32", 1, 4}},
    {27, {"i64", 1, 8}},
    {28, {"f64", 1, 8}},
    {30, {"bf16", 1, 2}},
    {1000, {"q2", 256, 66}},
    {1001, {"q4", 256, 130}},
    {1002, {"astc", 6, 3, 6}},
    {1003, {"pal2", 256, 65, 16}},
    {1004, {"pal4", 256, 130, 16}},
    {1100, {"q2_tiles", 256, 66, 16, true}},
}};

}  // namespace

const dtype_layout* find_dtype_layout(uint32_t id) {
  for (const auto& t : kTypes)
    if (t.id == id) return &t.layout;
  return nullptr;
}

std::string dtype_name(dtype t) {
  const dtype_layout* l = find_dtype_layout(static_cast<uint32_t>(t));
  return l ? l->name : "type#" + std::to_string(static_cast<uint32_t>(t));
}

dtype parse_dtype(const std::string& name) {
  if (name == "f32") return dtype::f32;
  if (name == "f16") return dtype::f16;
  if (name == "bf16") return dtype::bf16;
  if (name == "q8" || name == "q8_0") return dtype::q8_0;
  if (name == "q4") return dtype::afm_q4;
  if (name == "q2") return dtype::afm_q2;
  if (name == "astc") return dtype::afm_astc;
  if (name == "pal2") return dtype::afm_pal2;
  if (name == "pal4") return dtype::afm_pal4;
  fail("unknown dtype '", name, "' (expected f32, bf16, f16, q8, q4, q2, astc, pal2 or pal4)");
}

size_t dtype_bytes(dtype t, uint64_t n) {
  const dtype_layout* l = find_dtype_layout(static_cast<uint32_t>(t));
  if (!l) fail("unknown tensor type ", static_cast<uint32_t>(t));
  if (l->tile_rows > 1)
    return static_cast<size_t>((n + l->block_elems - 1) / l->block_elems) * l->block_bytes;
  if (n % l->block_elems != 0)
    fail(n, " elements of ", l->name, " are not a whole number of ", l->block_elems,
         "-element blocks");
  return static_cast<size_t>(n / l->block_elems) * l->block_bytes;
}

uint32_t dtype_tile_rows(dtype t) {
  const dtype_layout* l = find_dtype_layout(static_cast<uint32_t>(t));
  return l ? l->tile_rows : 1;
}

size_t tensor_bytes(dtype t, const int64_t* ne, int n_dims) {
  uint64_t rows = 1, matrices = 1;
  for (int d = 1; d < n_dims; ++d) (d == 1 ? rows : matrices) *= static_cast<uint64_t>(ne[d]);
  const uint64_t tile = dtype_tile_rows(t);
  if (n_dims < 1) return 0;
  return dtype_bytes(t, static_cast<uint64_t>(ne[0])) * ((rows + tile - 1) / tile * tile) *
         matrices;
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 : 0);  // inf / nan
  if (abs >= 0x477ff000u) return sign | 0x7c00;  // rounds to a value above the f16 maximum
  if (abs < 0x38800000u) {                       // below the smallest normal: subnormal or 0
    if (abs < 0x33000000u) return sign;
    const uint32_t e = abs >> 23;
    const uint32_t m = (abs & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - e;  // value = m * 2^(e-150); counted in units of 2^-24
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return sign | static_cast<uint16_t>(q);
  }
  uint32_t r = abs - 0x38000000u;  // rebias exponent 127 -> 15
  const uint32_t rem = r & 0x1fff;
  r >>= 13;
  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) ++r;
  return sign | static_cast<uint16_t>(r);
}

uint16_t f32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // nan
  x += 0x7fff + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

void set_contiguous_strides(tensor& t) {
  const dtype_layout* layout = find_dtype_layout(static_cast<uint32_t>(t.type));
  if (!layout) fail("tensor '", t.name, "' has unknown type ", static_cast<uint32_t>(t.type));
  t.nb[0] = layout->block_bytes;
  t.nb[1] = dtype_bytes(t.type, static_cast<uint64_t>(t.ne[0]));
  const size_t tile = layout->tile_rows;  // a tiled type pads every matrix to whole strips
  t.nb[2] = t.nb[1] * ((static_cast<size_t>(t.ne[1]) + tile - 1) / tile * tile);
  t.nb[3] = t.nb[2] * static_cast<size_t>(t.ne[2]);
}

tensor make_tensor(void* data, dtype type, std::initializer_list<int64_t> dims, std::string name) {
  tensor t;
  t.data = data;
  t.type = type;
  t.name = std::move(name);
  int i = 0;
  for (int64_t d : dims) t.ne[i++] = d;
  t.n_dims = i;
  set_contiguous_strides(t);
  return t;
}

}  // namespace afm
