// GGUF model files (version 2 and 3): a reader that maps the file, or reads it into memory
// backed by 2 MiB pages, and hands out tensor views without further copies, and a writer that
// streams tensors to disk one at a time.
//
// The reader validates everything before use: every count, length, dimension and offset is
// checked against the file's size, so a truncated or corrupt file is an afm::error naming the
// file and what was expected, never a crash or an out-of-bounds read.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "afm/dtype.h"
#include "afm/tensor.h"

namespace afm {

// GGUF metadata value types, with the specification's numbering.
enum class gguf_type : uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};
const char* gguf_type_name(gguf_type t);

// One metadata value. Integers are widened to 64 bits and floats to double; `type` keeps the
// stored type so that a file can be written back unchanged.
struct gguf_value {
  gguf_type type = gguf_type::u32;
  gguf_type array_type = gguf_type::u8;  // element type when type == array
  std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<gguf_value>> v;

  static gguf_value u32(uint32_t x) { return {gguf_type::u32, gguf_type::u8, uint64_t{x}}; }
  static gguf_value i32(int32_t x) { return {gguf_type::i32, gguf_type::u8, int64_t{x}}; }
  static gguf_value u64(uint64_t x) { return {gguf_type::u64, gguf_type::u8, x}; }
  static gguf_value f32(float x) { return {gguf_type::f32, gguf_type::u8, double{x}}; }
  static gguf_value boolean(bool x) { return {gguf_type::boolean, gguf_type::u8, x}; }
  static gguf_value str(std::string x) { return {gguf_type::string, gguf_type::u8, std::move(x)}; }
  static gguf_value array(gguf_type elem, std::vector<gguf_value> xs) {
    return {gguf_type::array, elem, std::move(xs)};
  }
};

struct gguf_tensor_info {
  std::string name;
  dtype type = dtype::f32;
  int n_dims = 0;
  std::array<int64_t, 4> ne{1, 1, 1, 1};
  uint64_t offset = 0;  // from the start of the data section
  size_t bytes = 0;
};

// How gguf_file::open brings a file into memory.
enum class gguf_load {
  // mmap the file: nothing is copied, the page cache is shared, and bytes are paged in as they
  // are first read. Page-cache pages are 4 KiB, so a pass over the weights crosses a page
  // boundary every 4 KiB: a TLB miss each time, and hardware prefetchers stop there. For files
  // read once (quantize, tokenizers, training's import).
  map,
  // Read the whole file into anonymous memory that asks the kernel for 2 MiB pages
  // (madvise MADV_HUGEPAGE; it gets them when transparent huge pages are "always" or
  // "madvise"). Costs one copy at open and the file's size in private memory; decode, which
  // streams every weight once a token, ran 1.5x faster on q2 (docs/performance.md, stop 22).
  read,
};

class gguf_file {
 public:
  // Maps (or reads, see gguf_load) and parses `path`; throws afm::error on any fault.
  static gguf_file open(const std::string& path, gguf_load load = gguf_load::map);
  // Parses an in-memory image (not copied; must outlive the result). `name` is used in errors.
  static gguf_file parse(const uint8_t* data, size_t size, std::string name);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  size_t file_size() const { return size_; }
  gguf_load load() const { return load_; }
  // Bytes of the file's image that the kernel backs with huge pages (AnonHugePages in
  // /proc/self/smaps for a gguf_load::read image); 0 for a mapped or parsed file, or where
  // /proc cannot tell.
  size_t huge_page_bytes() const;

  const std::vector<std::pair<std::string, gguf_value>>& metadata() const { return kv_; }
  const gguf_value* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }
  // Typed getters; throw naming the file and key when the key is missing or of another type.
  uint64_t get_uint(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  const std::vector<gguf_value>& get_array(const std::string& key) const;
  // With a default for an absent key (a present key of the wrong type still throws).
  uint64_t get_uint(const std::string& key, uint64_t def) const;
  double get_float(const std::string& key, double def) const;

  const std::vector<gguf_tensor_info>& tensors() const { return tensors_; }
  const gguf_tensor_info* find_tensor(const std::string& name) const;
  // A view of a tensor's data; throws if it is missing.
  tensor get_tensor(const std::string& name) const;

 private:
  std::string path_;
  std::shared_ptr<void> mapping_;  // keeps the mapping alive; views point into it
  gguf_load load_ = gguf_load::map;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::vector<std::pair<std::string, gguf_value>> kv_;
  std::vector<gguf_tensor_info> tensors_;
};

// Writes a GGUF v3 file: set metadata and declare every tensor first, then write_header(), then
// each tensor's bytes in declaration order, then finish().
class gguf_writer {
 public:
  explicit gguf_writer(size_t alignment = 32) : alignment_(alignment) {}
  void set(const std::string& key, gguf_value value);
  void add_tensor(const std::string& name, dtype type, const std::vector<int64_t>& ne);
  void write_header(const std::string& path);
  void write_tensor(const void* data, size_t bytes);
  void finish();
  ~gguf_writer();

 private:
  void put(const void* p, size_t n);
  void put_zeros(size_t n);
  size_t alignment_;
  std::vector<std::pair<std::string, gguf_value>> kv_;
  std::vector<gguf_tensor_info> tensors_;
  std::FILE* file_ = nullptr;
  std::string path_;
  size_t next_tensor_ = 0;
  size_t written_ = 0;
};

}  // namespace afm
