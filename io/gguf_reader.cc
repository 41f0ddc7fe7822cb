// GGUF reader: every read goes through a bounds-checked cursor, so no input can make it read
// outside the file. See include/afm/gguf.h.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "afm/error.h"
#include "afm/gguf.h"

namespace afm {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read little-endian
constexpr int kMaxDims = 4;
constexpr uint64_t kMaxNesting = 4;

class cursor {
 public:
  cursor(const uint8_t* p, size_t size, const std::string& name)
      : p_(p), size_(size), name_(name) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  void need(uint64_t n, const char* what) const {
    if (n > remaining())
      fail(name_, ": truncated or corrupt file: ", what, " needs ", n, " bytes at offset ", pos_,
           " but only ", remaining(), " remain");
  }
  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(const char* what) {
    const uint64_t len = read<uint64_t>(what);
    need(len, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }

 private:
  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& name_;
};

size_t scalar_size(gguf_type t) {
  switch (t) {
    case gguf_type::u8:
    case gguf_type::i8:
    case gguf_type::boolean:
      return 1;
    case gguf_type::u16:
    case gguf_type::i16:
      return 2;
    case gguf_type::u32:
    case gguf_type::i32:
    case gguf_type::f32:
      return 4;
    case gguf_type::u64:
    case gguf_type::i64:
    case gguf_type::f64:
    case gguf_type::string:  // at least its 8-byte length
    case gguf_type::array:   // at least type + count
      return 8;
  }
  return 0;
}

gguf_value read_value(cursor& c, gguf_type type, const std::string& key, const std::string& file,
                      uint64_t depth) {
  gguf_value v;
  v.type = type;
  switch (type) {
    case gguf_type::u8:
      v.v = uint64_t{c.read<uint8_t>("a u8 value")};
      break;
    case gguf_type::i8:
      v.v = int64_t{c.read<int8_t>("an i8 value")};
      break;
    case gguf_type::u16:
      v.v = uint64_t{c.read<uint16_t>("a u16 value")};
      break;
    case gguf_type::i16:
      v.v = int64_t{c.read<int16_t>("an i16 value")};
      break;
    case gguf_type::u32:
      v.v = uint64_t{c.read<uint32_t>("a u32 value")};
      break;
    case gguf_type::i32:
      v.v = int64_t{c.read<int32_t>("an i32 value")};
      break;
    case gguf_type::f32:
      v.v = double{c.read<float>("an f32 value")};
      break;
    case gguf_type::u64:
      v.v = c.read<uint64_t>("a u64 value");
      break;
    case gguf_type::i64:
      v.v = c.read<int64_t>("an i64 value");
      break;
    case gguf_type::f64:
      v.v = c.read<double>("an f64 value");
      break;
    case gguf_type::boolean: {
      const uint8_t b = c.read<uint8_t>("a bool value");
      if (b > 1) fail(file, ": key '", key, "': bool value ", int{b}, " is neither 0 nor 1");
      v.v = b == 1;
      break;
    }
    case gguf_type::string:
      v.v = c.read_string("a string value");
      break;
    case gguf_type::array: {
      if (depth >= kMaxNesting) fail(file, ": key '", key, "': arrays nested too deeply");
      const uint32_t et = c.read<uint32_t>("an array element type");
      if (et > static_cast<uint32_t>(gguf_type::f64))
        fail(file, ": key '", key, "': unknown array element type ", et);
      v.array_type = static_cast<gguf_type>(et);
      const uint64_t n = c.read<uint64_t>("an array length");
      // Each element takes at least scalar_size bytes, so a count the file cannot hold is
      // rejected before anything is allocated.
      if (n > c.remaining() / scalar_size(v.array_type))
        fail(file, ": key '", key, "': array count ", n, " overflows the ", c.remaining(),
             " bytes left in the file");
      std::vector<gguf_value> xs;
      xs.reserve(static_cast<size_t>(n));
      for (uint64_t i = 0; i < n; ++i)
        xs.push_back(read_value(c, v.array_type, key, file, depth + 1));
      v.v = std::move(xs);
      break;
    }
    default:
      fail(file, ": key '", key, "': unknown value type ", static_cast<uint32_t>(type));
  }
  return v;
}

struct fd_closer {
  int fd;
  ~fd_closer() { ::close(fd); }
};

struct unmapper {
  size_t size;
  void operator()(void* p) const {
    if (p) munmap(p, size);
  }
};

// The file's bytes in private anonymous memory, 2 MiB aligned and advised to use huge pages
// (gguf_load::read).
std::shared_ptr<void> read_into_huge_pages(int fd, size_t size, const std::string& path) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t reserved = (size + 2 * kHuge - 1) / kHuge * kHuge;  // room to align the start
  void* r = mmap(nullptr, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (r == MAP_FAILED)
    fail(path, ": cannot allocate ", size, " bytes to read the file into: ", std::strerror(errno));
  // Trim to a 2 MiB-aligned start, so every full 2 MiB of the file can be one page.
  const auto base = reinterpret_cast<uintptr_t>(r);
  const uintptr_t start = (base + kHuge - 1) / kHuge * kHuge;
  const size_t length = (size + kHuge - 1) / kHuge * kHuge;
  if (start > base) munmap(r, start - base);
  if (base + reserved > start + length)
    munmap(reinterpret_cast<void*>(start + length), base + reserved - (start + length));
  std::shared_ptr<void> mem(reinterpret_cast<void*>(start), unmapper{length});
  madvise(mem.get(), length, MADV_HUGEPAGE);  // advice only: no huge pages is still correct
  // Most of the time goes to the kernel zeroing each new page as it is first written, so one
  // thread per hardware thread reads its share of whole 2 MiB pages.
  auto* dst = static_cast<uint8_t*>(mem.get());
  const size_t pages = length / kHuge;
  const size_t n = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, pages);
  std::vector<std::string> errors(n);
  auto read_share = [&](size_t t) {
    const size_t end = std::min(size, pages * (t + 1) / n * kHuge);
    for (size_t done = pages * t / n * kHuge; done < end;) {
      const ssize_t got = pread(fd, dst + done, std::min<size_t>(end - done, size_t{1} << 30),
                                static_cast<off_t>(done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        errors[t] = got < 0 ? std::string("cannot read: ") + std::strerror(errno)
                            : "file shrank while being read";
        return;
      }
      done += static_cast<size_t>(got);
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n; ++t) threads.emplace_back(read_share, t);
  read_share(0);
  for (std::thread& th : threads) th.join();
  for (const std::string& e : errors)
    if (!e.empty()) fail(path, ": ", e);
  return mem;
}

}  // namespace

const char* gguf_type_name(gguf_type t) {
  static const char* const names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                      "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < sizeof(names) / sizeof(names[0]) ? names[i] : "unknown";
}

gguf_file gguf_file::open(const std::string& path, gguf_load load) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, ": cannot open: ", std::strerror(errno));
  const fd_closer closer{fd};  // the mapping or the copy outlives the descriptor
  struct stat st {};
  if (fstat(fd, &st) != 0) fail(path, ": cannot stat: ", std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(path, ": not a regular file");
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) fail(path, ": file is empty (expected a GGUF model file)");
  std::shared_ptr<void> mapping;
  if (load == gguf_load::map) {
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) fail(path, ": cannot map: ", std::strerror(errno));
    mapping.reset(p, unmapper{size});
  } else {
    mapping = read_into_huge_pages(fd, size, path);
  }
  gguf_file f = parse(static_cast<const uint8_t*>(mapping.get()), size, path);
  f.mapping_ = std::move(mapping);
  f.load_ = load;
  return f;
}

size_t gguf_file::huge_page_bytes() const {
  if (load_ != gguf_load::read || !mapping_) return 0;
  // smaps lists each mapping as a "start-end perms ..." line followed by its fields.
  std::ifstream smaps("/proc/self/smaps");
  const auto start = reinterpret_cast<uintptr_t>(mapping_.get());
  std::string line;
  bool ours = false;
  while (std::getline(smaps, line)) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) &&
        line.find('-') != std::string::npos && line.find(':') > line.find(' ')) {
      ours = std::strtoull(line.c_str(), nullptr, 16) == start;
    } else if (ours && line.rfind("AnonHugePages:", 0) == 0) {
      // The last page may run past the file's end.
      return std::min<size_t>(size_, std::strtoull(line.c_str() + 14, nullptr, 10) * 1024);
    }
  }
  return 0;
}

gguf_file gguf_file::parse(const uint8_t* data, size_t size, std::string name) {
  gguf_file f;
  f.path_ = std::move(name);
  f.base_ = data;
  f.size_ = size;
  const std::string& file = f.path_;
  cursor c(data, size, file);

  const uint32_t magic = c.read<uint32_t>("the GGUF magic");
  if (magic != kMagic) fail(file, ": not a GGUF file (bad magic)");
  f.version_ = c.read<uint32_t>("the version");
  if (f.version_ != 2 && f.version_ != 3)
    fail(file, ": unsupported GGUF version ", f.version_, " (expected 2 or 3)");
  const uint64_t n_tensors = c.read<uint64_t>("the tensor count");
  const uint64_t n_kv = c.read<uint64_t>("the metadata count");
  // A key-value pair takes at least 20 bytes and a tensor info at least 28.
  if (n_kv > c.remaining() / 20)
    fail(file, ": truncated or corrupt file: metadata count ", n_kv, " overflows the file size ",
         size);
  if (n_tensors > c.remaining() / 28)
    fail(file, ": truncated or corrupt file: tensor count ", n_tensors, " overflows the file size ",
         size);

  std::unordered_set<std::string> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.read_string("a metadata key");
    if (!keys.insert(key).second) fail(file, ": duplicate metadata key '", key, "'");
    const uint32_t type = c.read<uint32_t>("a metadata value type");
    if (type > static_cast<uint32_t>(gguf_type::f64))
      fail(file, ": key '", key, "' has unknown value type ", type);
    gguf_value v = read_value(c, static_cast<gguf_type>(type), key, file, 0);
    f.kv_.emplace_back(std::move(key), std::move(v));
  }

  if (const gguf_value* a = f.find("general.alignment")) {
    if (a->type != gguf_type::u32) fail(file, ": general.alignment must be a u32");
    const uint64_t al = std::get<uint64_t>(a->v);
    if (al == 0 || (al & (al - 1)) != 0)
      fail(file, ": general.alignment ", al, " is not a power of two");
    f.alignment_ = static_cast<size_t>(al);
  }

  std::unordered_set<std::string> names;
  f.tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    gguf_tensor_info t;
    t.name = c.read_string("a tensor name");
    if (!names.insert(t.name).second) fail(file, ": duplicate tensor '", t.name, "'");
    const uint32_t n_dims = c.read<uint32_t>("a tensor's dimension count");
    if (n_dims == 0 || n_dims > kMaxDims)
      fail(file, ": tensor '", t.name, "' has ", n_dims, " dimensions (expected 1 to ", kMaxDims,
           ")");
    t.n_dims = static_cast<int>(n_dims);
    uint64_t count = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = c.read<uint64_t>("a tensor dimension");
      if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          count > (uint64_t{1} << 62) / ne)
        fail(file, ": tensor '", t.name, "' dimension ", d, " = ", ne, " is zero or overflows");
      count *= ne;
      t.ne[d] = static_cast<int64_t>(ne);
    }
    const uint32_t type = c.read<uint32_t>("a tensor type");
    const dtype_layout* layout = find_dtype_layout(type);
    if (!layout || layout->runtime_only)
      fail(file, ": tensor '", t.name, "' has unknown type ", type);
    t.type = static_cast<dtype>(type);
    if (layout->tile_rows == 1 && t.ne[0] % layout->block_elems != 0)
      fail(file, ": tensor '", t.name, "' row of ", t.ne[0], " elements is not a whole number of ",
           layout->name, " blocks of ", layout->block_elems);
    t.bytes = tensor_bytes(t.type, t.ne.data(), t.n_dims);
    t.offset = c.read<uint64_t>("a tensor offset");
    if (t.offset % f.alignment_ != 0)
      fail(file, ": tensor '", t.name, "' offset ", t.offset, " is not aligned to ", f.alignment_);
    f.tensors_.push_back(std::move(t));
  }

  const size_t header_end = c.pos();
  f.data_offset_ = (header_end + f.alignment_ - 1) / f.alignment_ * f.alignment_;
  const size_t data_size = f.data_offset_ <= size ? size - f.data_offset_ : 0;
  for (const auto& t : f.tensors_) {
    if (t.offset > data_size || t.bytes > data_size - t.offset)
      fail(file, ": tensor '", t.name, "' data [", t.offset, ", ", t.offset + t.bytes,
           ") lies outside the ", data_size, "-byte data section (truncated file?)");
  }
  return f;
}

const gguf_value* gguf_file::find(const std::string& key) const {
  for (const auto& [k, v] : kv_)
    if (k == key) return &v;
  return nullptr;
}

namespace {
const gguf_value& require(const gguf_file& f, const std::string& key) {
  const gguf_value* v = f.find(key);
  if (!v) fail(f.path(), ": missing metadata key '", key, "'");
  return *v;
}
[[noreturn]] void wrong_type(const gguf_file& f, const std::string& key, const gguf_value& v,
                             const char* expected) {
  fail(f.path(), ": metadata key '", key, "' has type ", gguf_type_name(v.type), ", expected ",
       expected);
}
}  // namespace

uint64_t gguf_file::get_uint(const std::string& key) const {
  const gguf_value& v = require(*this, key);
  if (const auto* u = std::get_if<uint64_t>(&v.v)) return *u;
  if (const auto* i = std::get_if<int64_t>(&v.v); i && *i >= 0) return static_cast<uint64_t>(*i);
  wrong_type(*this, key, v, "a non-negative integer");
}

int64_t gguf_file::get_int(const std::string& key) const {
  const gguf_value& v = require(*this, key);
  if (const auto* i = std::get_if<int64_t>(&v.v)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&v.v);
      u && *u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return static_cast<int64_t>(*u);
  wrong_type(*this, key, v, "an integer");
}

double gguf_file::get_float(const std::string& key) const {
  const gguf_value& v = require(*this, key);
  if (const auto* d = std::get_if<double>(&v.v)) return *d;
  wrong_type(*this, key, v, "a float");
}

bool gguf_file::get_bool(const std::string& key) const {
  const gguf_value& v = require(*this, key);
  if (const auto* b = std::get_if<bool>(&v.v)) return *b;
  wrong_type(*this, key, v, "a bool");
}

const std::string& gguf_file::get_string(const std::string& key) const {
  const gguf_value& v = require(*this, key);
  if (const auto* s = std::get_if<std::string>(&v.v)) return *s;
  wrong_type(*this, key, v, "a string");
}

const std::vector<gguf_value>& gguf_file::get_array(const std::string& key) const {
  const gguf_value& v = require(*this, key);
  if (const auto* a = std::get_if<std::vector<gguf_value>>(&v.v)) return *a;
  wrong_type(*this, key, v, "an array");
}

uint64_t gguf_file::get_uint(const std::string& key, uint64_t def) const {
  return has(key) ? get_uint(key) : def;
}

double gguf_file::get_float(const std::string& key, double def) const {
  return has(key) ? get_float(key) : def;
}

const gguf_tensor_info* gguf_file::find_tensor(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

tensor gguf_file::get_tensor(const std::string& name) const {
  const gguf_tensor_info* info = find_tensor(name);
  if (!info) fail(path_, ": missing tensor '", name, "'");
  tensor t;
  t.data = const_cast<uint8_t*>(base_ + data_offset_ + info->offset);  // read-only mapping
  t.type = info->type;
  t.n_dims = info->n_dims;
  t.ne = info->ne;
  t.name = info->name;
  set_contiguous_strides(t);
  return t;
}

}  // namespace afm
