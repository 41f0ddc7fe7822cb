// `afm create`: random weights from a config, streamed to a GGUF file tensor by tensor so even
// multi-gigabyte benchmark models never sit whole in memory.
#include <cmath>
#include <vector>

#include "afm/error.h"
#include "afm/model.h"
#include "afm/rng.h"
#include "formats/format.h"
#include "formats/matmul.h"
#include "model/architecture.h"

namespace afm {

void write_model_file(const model_config& c, dtype type, const std::string& path, thread_pool& pool,
                      const std::function<void(size_t, size_t, float*)>& fill,
                      const std::function<void(size_t, size_t)>& progress,
                      const std::function<void(gguf_writer&)>& metadata) {
  validate_config(c);
  const architecture* arch = find_architecture(c.arch);
  const formats::weight_format* fmt = formats::find_format(type);
  if (!fmt) fail("no weight format for dtype ", dtype_name(type));
  const std::vector<tensor_slot> slots = arch->tensors(c, nullptr);

  gguf_writer w;
  w.set("general.architecture", gguf_value::str(c.arch));
  w.set("general.name", gguf_value::str(c.name.empty() ? "afm" : c.name));
  w.set("general.file_type", gguf_value::u32(static_cast<uint32_t>(type)));
  arch->write_config(c, w);
  if (metadata) metadata(w);
  auto type_of = [&](const tensor_slot& s) {
    return s.role == tensor_role::norm ? dtype::f32 : type;
  };
  for (const tensor_slot& s : slots) {
    const dtype t = type_of(s);
    const formats::weight_format* f = formats::find_format(t);
    if (f->tile_rows == 1 && s.ne[0] % static_cast<int64_t>(f->block_elems) != 0)
      fail("tensor '", s.name, "' rows of ", s.ne[0], " values cannot be stored as ", dtype_name(t),
           " (needs a multiple of ", f->block_elems, ")");
    w.add_tensor(s.name, t, s.ne);
  }
  w.write_header(path);

  // Progress counts weights, not tensors: the first tensor (the embedding) can be a twentieth
  // of the model, so a count of tensors made the first ETA many times too long.
  auto elements_of = [](const tensor_slot& s) {
    size_t n = 1;
    for (int64_t d : s.ne) n *= static_cast<size_t>(d);
    return n;
  };
  size_t total = 0, done = 0;
  for (const tensor_slot& s : slots) total += elements_of(s);
  std::vector<float> values;
  std::vector<uint8_t> encoded;
  for (size_t i = 0; i < slots.size(); ++i) {
    const tensor_slot& s = slots[i];
    const formats::weight_format& f = *formats::find_format(type_of(s));
    const size_t cols = static_cast<size_t>(s.ne[0]);
    size_t rows = 1;
    for (size_t d = 1; d < s.ne.size(); ++d) rows *= static_cast<size_t>(s.ne[d]);
    values.resize(rows * cols);
    encoded.resize(tensor_bytes(f.type, s.ne.data(), static_cast<int>(s.ne.size())));
    pool.parallel_for(rows, 16, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r) fill(i, r, values.data() + r * cols);
    });
    formats::encode_tensor(f, values.data(), s.ne.data(), static_cast<int>(s.ne.size()),
                           encoded.data(), pool);
    w.write_tensor(encoded.data(), encoded.size());
    done += elements_of(s);
    if (progress) progress(done, total);
  }
  w.finish();
}

void create_random_model(const model_config& c, const create_options& o, const std::string& path,
                         thread_pool& pool, const std::function<void(size_t, size_t)>& progress,
                         const std::function<void(gguf_writer&)>& metadata) {
  validate_config(c);
  const std::vector<tensor_slot> slots = find_architecture(c.arch)->tensors(c, nullptr);
  const double out_std = o.std / std::sqrt(2.0 * static_cast<double>(c.n_layers));
  model_config named = c;
  if (named.name.empty()) named.name = "afm-random";
  // Rows are drawn from streams keyed by (seed, tensor, row), so threads can fill any row.
  auto fill = [&](size_t i, size_t r, float* row) {
    const tensor_slot& s = slots[i];
    const double mean = s.role == tensor_role::norm ? 1.0 : 0.0;
    const double sd = s.role == tensor_role::norm           ? 0.1
                      : s.role == tensor_role::residual_out ? out_std
                                                            : o.std;
    uint64_t key = o.seed ^ (0x51ed270b1d6f3a4bull * (i + 1)) ^ (0x2545f4914f6cdd1dull * (r + 1));
    rng g(splitmix64(key));
    for (int64_t k = 0; k < s.ne[0]; ++k) row[k] = static_cast<float>(mean + sd * g.normal());
  };
  write_model_file(named, o.type, path, pool, fill, progress, [&](gguf_writer& w) {
    w.set("afm.init.seed", gguf_value::u64(o.seed));
    w.set("afm.init.std", gguf_value::f32(static_cast<float>(o.std)));
    if (metadata) metadata(w);
  });
}

}  // namespace afm
