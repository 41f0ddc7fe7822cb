// GGUF v3 writer: header, metadata and tensor infos first (offsets follow from the declared
// sizes), then tensor data streamed in declaration order, each padded to the alignment.
#include <cerrno>
#include <cstring>

#include "afm/error.h"
#include "afm/gguf.h"

namespace afm {

void gguf_writer::set(const std::string& key, gguf_value value) {
  for (auto& [k, v] : kv_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  kv_.emplace_back(key, std::move(value));
}

void gguf_writer::add_tensor(const std::string& name, dtype type, const std::vector<int64_t>& ne) {
  if (file_) fail("gguf_writer: tensor '", name, "' declared after the header was written");
  if (ne.empty() || ne.size() > 4) fail("gguf_writer: tensor '", name, "' needs 1 to 4 dimensions");
  const dtype_layout* layout = find_dtype_layout(static_cast<uint32_t>(type));
  if (layout && layout->runtime_only)
    fail("gguf_writer: tensor '", name, "' has type ", layout->name,
         ", a memory layout that files do not hold");
  gguf_tensor_info t;
  t.name = name;
  t.type = type;
  t.n_dims = static_cast<int>(ne.size());
  for (size_t d = 0; d < ne.size(); ++d) t.ne[d] = ne[d];
  t.bytes = tensor_bytes(type, t.ne.data(), t.n_dims);
  t.offset = 0;
  if (!tensors_.empty()) {
    const auto& prev = tensors_.back();
    t.offset = (prev.offset + prev.bytes + alignment_ - 1) / alignment_ * alignment_;
  }
  tensors_.push_back(std::move(t));
}

void gguf_writer::put(const void* p, size_t n) {
  if (n && std::fwrite(p, 1, n, file_) != n) fail(path_, ": write failed: ", std::strerror(errno));
  written_ += n;
}

void gguf_writer::put_zeros(size_t n) {
  static const uint8_t zeros[256] = {};
  for (; n > sizeof zeros; n -= sizeof zeros) put(zeros, sizeof zeros);
  put(zeros, n);
}

void gguf_writer::write_header(const std::string& path) {
  path_ = path;
  file_ = std::fopen(path.c_str(), "wb");
  if (!file_) fail(path, ": cannot create: ", std::strerror(errno));
  if (alignment_ != 32)
    set("general.alignment", gguf_value::u32(static_cast<uint32_t>(alignment_)));

  auto u32 = [&](uint32_t v) { put(&v, 4); };
  auto u64 = [&](uint64_t v) { put(&v, 8); };
  auto str = [&](const std::string& s) {
    u64(s.size());
    put(s.data(), s.size());
  };
  auto scalar = [&](const gguf_value& v, gguf_type type, auto& self) -> void {
    switch (type) {
      case gguf_type::u8: {
        uint8_t x = static_cast<uint8_t>(std::get<uint64_t>(v.v));
        put(&x, 1);
        break;
      }
      case gguf_type::i8: {
        int8_t x = static_cast<int8_t>(std::get<int64_t>(v.v));
        put(&x, 1);
        break;
      }
      case gguf_type::u16: {
        uint16_t x = static_cast<uint16_t>(std::get<uint64_t>(v.v));
        put(&x, 2);
        break;
      }
      case gguf_type::i16: {
        int16_t x = static_cast<int16_t>(std::get<int64_t>(v.v));
        put(&x, 2);
        break;
      }
      case gguf_type::u32:
        u32(static_cast<uint32_t>(std::get<uint64_t>(v.v)));
        break;
      case gguf_type::i32: {
        int32_t x = static_cast<int32_t>(std::get<int64_t>(v.v));
        put(&x, 4);
        break;
      }
      case gguf_type::f32: {
        float x = static_cast<float>(std::get<double>(v.v));
        put(&x, 4);
        break;
      }
      case gguf_type::boolean: {
        uint8_t x = std::get<bool>(v.v) ? 1 : 0;
        put(&x, 1);
        break;
      }
      case gguf_type::string:
        str(std::get<std::string>(v.v));
        break;
      case gguf_type::u64:
        u64(std::get<uint64_t>(v.v));
        break;
      case gguf_type::i64: {
        int64_t x = std::get<int64_t>(v.v);
        put(&x, 8);
        break;
      }
      case gguf_type::f64: {
        double x = std::get<double>(v.v);
        put(&x, 8);
        break;
      }
      case gguf_type::array: {
        const auto& xs = std::get<std::vector<gguf_value>>(v.v);
        u32(static_cast<uint32_t>(v.array_type));
        u64(xs.size());
        for (const auto& x : xs) self(x, v.array_type, self);
        break;
      }
    }
  };

  u32(0x46554747);  // "GGUF"
  u32(3);
  u64(tensors_.size());
  u64(kv_.size());
  for (const auto& [k, v] : kv_) {
    str(k);
    u32(static_cast<uint32_t>(v.type));
    scalar(v, v.type, scalar);
  }
  for (const auto& t : tensors_) {
    str(t.name);
    u32(static_cast<uint32_t>(t.n_dims));
    for (int d = 0; d < t.n_dims; ++d) u64(static_cast<uint64_t>(t.ne[d]));
    u32(static_cast<uint32_t>(t.type));
    u64(t.offset);
  }
  put_zeros((alignment_ - written_ % alignment_) % alignment_);
  written_ = 0;  // now counts bytes of the data section
}

void gguf_writer::write_tensor(const void* data, size_t bytes) {
  if (!file_) fail("gguf_writer: write_header() must come before tensor data");
  if (next_tensor_ >= tensors_.size()) fail(path_, ": more tensors written than declared");
  const auto& t = tensors_[next_tensor_];
  if (bytes != t.bytes)
    fail(path_, ": tensor '", t.name, "' has ", bytes, " bytes, declared ", t.bytes);
  put_zeros(t.offset - written_);
  put(data, bytes);
  ++next_tensor_;
}

void gguf_writer::finish() {
  if (!file_) fail("gguf_writer: finish() before write_header()");
  if (next_tensor_ != tensors_.size())
    fail(path_, ": ", tensors_.size() - next_tensor_, " declared tensors were not written");
  const bool ok = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!ok) fail(path_, ": close failed: ", std::strerror(errno));
}

gguf_writer::~gguf_writer() {
  if (file_) std::fclose(file_);
}

}  // namespace afm
