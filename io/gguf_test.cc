// GGUF writer/reader round trip, and every fault the reader must turn into a clear error:
// truncation at every byte, corrupt headers, overflowing counts, unknown types, bad offsets.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "afm/error.h"
#include "afm/gguf.h"

namespace afm {
namespace {

std::string tmp_path(const std::string& name) {
  return ::testing::TempDir() + "afm_gguf_" + name + ".gguf";
}

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A small file with every metadata type and two tensors.
std::vector<uint8_t> sample_file() {
  const std::string path = tmp_path("sample");
  gguf_writer w;
  w.set("general.architecture", gguf_value::str("afm"));
  w.set("u8", {gguf_type::u8, gguf_type::u8, uint64_t{200}});
  w.set("i8", {gguf_type::i8, gguf_type::u8, int64_t{-100}});
  w.set("u16", {gguf_type::u16, gguf_type::u8, uint64_t{60000}});
  w.set("i16", {gguf_type::i16, gguf_type::u8, int64_t{-30000}});
  w.set("u32", gguf_value::u32(4000000000u));
  w.set("i32", gguf_value::i32(-2000000000));
  w.set("f32", gguf_value::f32(1.5f));
  w.set("bool", gguf_value::boolean(true));
  w.set("u64", gguf_value::u64(1ull << 40));
  w.set("i64", {gguf_type::i64, gguf_type::u8, int64_t{-(1ll << 40)}});
  w.set("f64", {gguf_type::f64, gguf_type::u8, 2.25});
  w.set("arr", gguf_value::array(gguf_type::string, {gguf_value::str("a"), gguf_value::str("bc")}));
  w.set("nested", gguf_value::array(gguf_type::array,
                                    {gguf_value::array(gguf_type::i32, {gguf_value::i32(7)})}));
  w.add_tensor("a", dtype::f32, {3, 2});
  w.add_tensor("b", dtype::q8_0, {64});
  w.write_header(path);
  const float a[6] = {1, 2, 3, 4, 5, 6};
  w.write_tensor(a, sizeof a);
  std::vector<uint8_t> b(68, 0x11);
  w.write_tensor(b.data(), b.size());
  w.finish();
  return slurp(path);
}

gguf_file parse(const std::vector<uint8_t>& bytes) {
  return gguf_file::parse(bytes.data(), bytes.size(), "test.gguf");
}

void expect_error(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  try {
    parse(bytes);
    FAIL() << "expected an error containing '" << fragment << "'";
  } catch (const error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("test.gguf"), std::string::npos) << e.what();
  }
}

TEST(Gguf, RoundTripsEveryType) {
  const auto bytes = sample_file();
  const gguf_file f = parse(bytes);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get_string("general.architecture"), "afm");
  EXPECT_EQ(f.get_uint("u8"), 200u);
  EXPECT_EQ(f.get_int("i8"), -100);
  EXPECT_EQ(f.get_uint("u16"), 60000u);
  EXPECT_EQ(f.get_int("i16"), -30000);
  EXPECT_EQ(f.get_uint("u32"), 4000000000u);
  EXPECT_EQ(f.get_int("i32"), -2000000000);
  EXPECT_EQ(f.get_float("f32"), 1.5);
  EXPECT_TRUE(f.get_bool("bool"));
  EXPECT_EQ(f.get_uint("u64"), 1ull << 40);
  EXPECT_EQ(f.get_int("i64"), -(1ll << 40));
  EXPECT_EQ(f.get_float("f64"), 2.25);
  ASSERT_EQ(f.get_array("arr").size(), 2u);
  EXPECT_EQ(std::get<std::string>(f.get_array("arr")[1].v), "bc");
  EXPECT_EQ(f.find("nested")->array_type, gguf_type::array);
  EXPECT_EQ(f.get_uint("missing", 9), 9u);
  EXPECT_THROW(f.get_string("u8"), error);
  EXPECT_THROW(f.get_uint("nope"), error);
  EXPECT_THROW(f.get_uint("i8"), error);  // negative is not a uint

  const tensor a = f.get_tensor("a");
  EXPECT_EQ(a.cols(), 3);
  EXPECT_EQ(a.rows(), 2);
  EXPECT_EQ(static_cast<const float*>(a.data)[5], 6.0f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data) % 32,
            reinterpret_cast<uintptr_t>(bytes.data()) % 32);
  const tensor b = f.get_tensor("b");
  EXPECT_EQ(b.type, dtype::q8_0);
  EXPECT_EQ(b.bytes(), 68u);
  EXPECT_EQ(static_cast<const uint8_t*>(b.data)[67], 0x11);
  EXPECT_THROW(f.get_tensor("c"), error);
}

TEST(Gguf, OpenMapsAFile) {
  sample_file();
  const gguf_file f = gguf_file::open(tmp_path("sample"));
  EXPECT_EQ(f.tensors().size(), 2u);
  EXPECT_THROW(gguf_file::open(tmp_path("does-not-exist")), error);
  { std::ofstream(tmp_path("empty")); }
  EXPECT_THROW(gguf_file::open(tmp_path("empty")), error);
}

// gguf_load::read gives the same file as the mapping, in memory of its own: 2 MiB aligned, so
// the tensors keep their alignment, and in huge pages wherever the kernel's transparent huge
// pages are on.
TEST(Gguf, ReadIntoHugePagesMatchesTheMapping) {
  const std::string path = tmp_path("large");
  gguf_writer w(64);
  w.set("general.architecture", gguf_value::str("afm"));
  const size_t n = size_t{3} << 20;  // 12 MiB of f32: at least 4 whole 2 MiB pages
  w.add_tensor("small", dtype::f32, {3});
  w.add_tensor("big", dtype::f32, {static_cast<int64_t>(n)});
  w.write_header(path);
  const float small[3] = {1, 2, 3};
  std::vector<float> big(n);
  for (size_t i = 0; i < n; ++i) big[i] = static_cast<float>(i % 1000) - 500.0f;
  w.write_tensor(small, sizeof small);
  w.write_tensor(big.data(), n * sizeof(float));
  w.finish();

  const gguf_file mapped = gguf_file::open(path, gguf_load::map);
  const gguf_file read = gguf_file::open(path, gguf_load::read);
  EXPECT_EQ(mapped.load(), gguf_load::map);
  EXPECT_EQ(read.load(), gguf_load::read);
  EXPECT_EQ(mapped.huge_page_bytes(), 0u);
  EXPECT_LE(read.huge_page_bytes(), read.file_size());
  ASSERT_EQ(read.file_size(), mapped.file_size());
  ASSERT_EQ(read.tensors().size(), 2u);
  const tensor a = read.get_tensor("big"), b = mapped.get_tensor("big");
  EXPECT_NE(a.data, b.data);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data) % 64, 0u);
  EXPECT_EQ(std::memcmp(a.data, big.data(), n * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(read.get_tensor("small").data, small, sizeof small), 0);

  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode((std::istreambuf_iterator<char>(thp)), {});
  if (mode.find("[always]") != std::string::npos || mode.find("[madvise]") != std::string::npos) {
    EXPECT_GE(read.huge_page_bytes(), size_t{2} << 20) << "transparent huge pages: " << mode;
  }

  EXPECT_THROW(gguf_file::open(tmp_path("does-not-exist"), gguf_load::read), error);
  { std::ofstream(tmp_path("empty")); }
  EXPECT_THROW(gguf_file::open(tmp_path("empty"), gguf_load::read), error);
  std::remove(path.c_str());
}

TEST(Gguf, EveryTruncationIsAnError) {
  const auto bytes = sample_file();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW(parse(cut), error) << "truncated to " << n << " bytes";
  }
}

TEST(Gguf, CorruptHeaders) {
  const auto good = sample_file();
  auto bad = good;
  bad[0] = 'X';
  expect_error(bad, "bad magic");
  bad = good;
  bad[4] = 9;
  expect_error(bad, "unsupported GGUF version 9");
  bad = good;
  std::memset(&bad[8], 0xff, 8);  // tensor count
  expect_error(bad, "tensor count");
  bad = good;
  std::memset(&bad[16], 0xff, 8);  // metadata count
  expect_error(bad, "metadata count");
  bad = good;
  std::memset(&bad[24], 0xff, 8);  // first key's length
  expect_error(bad, "truncated or corrupt");
}

// Raw little-endian bytes, for files the writer would refuse to produce.
struct raw_bytes {
  std::vector<uint8_t> b;
  void put(const void* p, size_t n) {
    b.insert(b.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
  }
  void u32(uint32_t v) { put(&v, 4); }
  void u64(uint64_t v) { put(&v, 8); }
};

// Writes one tensor described by raw fields, to exercise the tensor-info checks.
std::vector<uint8_t> one_tensor(uint32_t n_dims, std::vector<uint64_t> dims, uint32_t type,
                                uint64_t offset, size_t data_bytes) {
  raw_bytes r;
  std::vector<uint8_t>& b = r.b;
  r.u32(0x46554747);
  r.u32(3);
  r.u64(1);
  r.u64(0);
  r.u64(1);
  r.put("t", 1);
  r.u32(n_dims);
  for (uint64_t d : dims) r.u64(d);
  r.u32(type);
  r.u64(offset);
  while (b.size() % 32) b.push_back(0);
  b.resize(b.size() + data_bytes, 0);
  return b;
}

TEST(Gguf, TensorInfoFaults) {
  EXPECT_NO_THROW(parse(one_tensor(2, {4, 2}, 0, 0, 32)));
  expect_error(one_tensor(5, {1, 1, 1, 1, 1}, 0, 0, 32), "5 dimensions");
  expect_error(one_tensor(0, {}, 0, 0, 32), "0 dimensions");
  expect_error(one_tensor(2, {4, 2}, 77, 0, 32), "unknown type 77");
  // afm_q2_tiles is a memory layout of q2 (formats/q2_tiles.h) that no file may hold.
  expect_error(one_tensor(2, {256, 16}, 1100, 0, 1056), "unknown type 1100");
  expect_error(one_tensor(2, {4, 0}, 0, 0, 32), "is zero or overflows");
  expect_error(one_tensor(2, {1ull << 40, 1ull << 40}, 0, 0, 32), "is zero or overflows");
  expect_error(one_tensor(1, {33}, 8, 0, 64), "whole number of q8_0 blocks");
  expect_error(one_tensor(2, {4, 2}, 0, 4, 64), "not aligned");
  expect_error(one_tensor(2, {4, 2}, 0, 0, 31), "outside the");
  expect_error(one_tensor(2, {4, 2}, 0, 1ull << 62, 32), "outside the");
}

TEST(Gguf, OverflowingArrayCount) {
  raw_bytes r;
  std::vector<uint8_t>& b = r.b;
  r.u32(0x46554747);
  r.u32(3);
  r.u64(0);  // tensors
  r.u64(1);  // metadata
  r.u64(3);
  r.put("arr", 3);
  r.u32(static_cast<uint32_t>(gguf_type::array));
  r.u32(static_cast<uint32_t>(gguf_type::u64));
  r.u64(1ull << 61);  // 2^61 elements of 8 bytes: must be refused before any allocation
  b.resize(b.size() + 64, 0);
  expect_error(b, "array count 2305843009213693952 overflows");
}

TEST(Gguf, HonoursNonDefaultAlignment) {
  const std::string path = tmp_path("align");
  gguf_writer w(256);
  w.set("general.architecture", gguf_value::str("afm"));
  w.add_tensor("a", dtype::f32, {3});
  w.add_tensor("b", dtype::f32, {5});
  w.write_header(path);
  const float a[3] = {1, 2, 3}, b[5] = {4, 5, 6, 7, 8};
  w.write_tensor(a, sizeof a);
  w.write_tensor(b, sizeof b);
  w.finish();
  const gguf_file f = gguf_file::open(path);
  EXPECT_EQ(f.alignment(), 256u);
  EXPECT_EQ(f.find_tensor("b")->offset, 256u);
  EXPECT_EQ(static_cast<const float*>(f.get_tensor("b").data)[4], 8.0f);
}

TEST(Gguf, WriterChecksItsCaller) {
  gguf_writer w;
  w.add_tensor("x", dtype::f32, {4});
  EXPECT_THROW(w.add_tensor("y", dtype::q8_0, {31}), error);
  EXPECT_THROW(w.add_tensor("z", dtype::afm_q2_tiles, {256, 16}), error);
  w.write_header(tmp_path("writer"));
  const float v[4] = {};
  EXPECT_THROW(w.write_tensor(v, 8), error);
  EXPECT_THROW(w.finish(), error);
}

}  // namespace
}  // namespace afm
