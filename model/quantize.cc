// `afm quantize`: re-encodes a model file tensor by tensor (include/afm/quantize.h).
#include "afm/quantize.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <vector>

#include "afm/error.h"
#include "afm/gguf.h"
#include "afm/model.h"
#include "formats/format.h"
#include "model/architecture.h"

namespace afm {

dtype parse_weight_format(const std::string& spec) {
  if (spec == "f32" || spec == "bf16" || spec == "f16" || spec == "q8" || spec == "q8_0" ||
      spec == "q4" || spec == "q2")
    return parse_dtype(spec);
  if (spec.rfind("pal", 0) == 0 || spec.rfind("astc", 0) == 0)
    fail("weight format '", spec,
         "' (palettization / ASTC) is not built yet; available: f32, bf16, f16, q8, q4, q2");
  fail("unknown weight format '", spec, "' (expected f32, bf16, f16, q8, q4 or q2)");
}

quantize_report quantize_model(const std::string& in, const std::string& out,
                               const quantize_options& o, thread_pool& pool,
                               const std::function<void(size_t, size_t)>& progress) {
  // The input stays mapped while the output is written: writing over it would pull the
  // weights from under the reader.
  std::error_code ec;
  if (std::filesystem::equivalent(in, out, ec))
    fail("the output ", out, " is the input file; write to another path");
  const std::unique_ptr<model> m = load_model(in);  // validates the input fully
  const dtype embed = o.embed_set                  ? o.embed
                      : o.weights == dtype::afm_q2 ? dtype::afm_q4
                                                   : o.weights;
  std::map<std::string, tensor_role> roles;
  for (const tensor_slot& s : m->arch->tensors(m->cfg, nullptr)) roles[s.name] = s.role;
  auto type_for = [&](const gguf_tensor_info& t) {
    const auto it = roles.find(t.name);
    if (it == roles.end() || it->second == tensor_role::norm || t.n_dims < 2) return t.type;
    return it->second == tensor_role::embedding ? embed : o.weights;
  };

  const gguf_file& f = m->file;
  gguf_writer w(f.alignment());
  for (const auto& [key, value] : f.metadata())
    if (key != "general.alignment") w.set(key, value);
  w.set("general.file_type", gguf_value::u32(static_cast<uint32_t>(o.weights)));
  if (!o.kv.empty()) {
    if (o.kv != "q8" && o.kv != "f32")
      fail("unknown KV cache type '", o.kv, "' (expected q8 or f32)");
    w.set("afm.kv_cache_type", gguf_value::str(o.kv));
  }
  for (const gguf_tensor_info& t : f.tensors()) {
    const dtype type = type_for(t);
    const formats::weight_format* fmt = formats::find_format(type);
    if (!fmt) fail("no weight format for ", dtype_name(type));
    if (t.ne[0] % static_cast<int64_t>(fmt->block_elems) != 0)
      fail("tensor '", t.name, "' has rows of ", t.ne[0], " values, which ", fmt->name,
           " cannot store (its blocks hold ", fmt->block_elems, " values)");
    w.add_tensor(t.name, type, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims));
  }
  w.write_header(out);

  quantize_report report;
  std::vector<float> values, back;
  std::vector<uint8_t> encoded;
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const gguf_tensor_info& info = f.tensors()[i];
    const tensor src = f.get_tensor(info.name);
    const dtype type = type_for(info);
    const formats::weight_format& from = formats::format_of(src);
    const formats::weight_format& to = *formats::find_format(type);
    const size_t cols = static_cast<size_t>(src.ne[0]);
    const size_t rows = static_cast<size_t>(src.elements()) / cols;
    values.resize(rows * cols);
    back.resize(rows * cols);
    encoded.resize(dtype_bytes(type, rows * cols));
    const size_t out_row = encoded.size() / rows;
    std::vector<double> err(rows), norm(rows);
    pool.parallel_for(rows, 8, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r) {
        float* v = values.data() + r * cols;
        from.decode(src.row(static_cast<int64_t>(r)), cols, v);
        uint8_t* e = encoded.data() + r * out_row;
        if (type == src.type) {
          std::memcpy(e, src.row(static_cast<int64_t>(r)), out_row);  // no generation loss
        } else {
          to.encode(v, cols, e);
        }
        to.decode(e, cols, back.data() + r * cols);
        for (size_t c = 0; c < cols; ++c) {
          const double d = static_cast<double>(back[r * cols + c]) - v[c];
          err[r] += d * d;
          norm[r] += static_cast<double>(v[c]) * v[c];
        }
      }
    });
    double e2 = 0.0, n2 = 0.0;
    for (size_t r = 0; r < rows; ++r) e2 += err[r], n2 += norm[r];
    w.write_tensor(encoded.data(), encoded.size());
    report.tensors.push_back(
        {info.name, type, rows * cols, encoded.size(), n2 > 0 ? std::sqrt(e2 / n2) : 0.0});
    report.elements += rows * cols;
    report.bytes += encoded.size();
    if (progress) progress(i + 1, f.tensors().size());
  }
  w.finish();
  return report;
}

}  // namespace afm
