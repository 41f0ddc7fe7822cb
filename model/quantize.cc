// `afm quantize`: re-encodes a model file tensor by tensor (include/afm/quantize.h).
#include "afm/quantize.h"

#include <cmath>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <vector>

#include "afm/error.h"
#include "afm/gguf.h"
#include "afm/model.h"
#include "formats/format.h"
#include "formats/matmul.h"
#include "model/architecture.h"
#include "model/low_rank.h"

namespace afm {

dtype parse_weight_format(const std::string& spec) {
  if (spec == "f32" || spec == "bf16" || spec == "f16" || spec == "q8" || spec == "q8_0" ||
      spec == "q4" || spec == "q2" || spec == "astc" || spec == "pal2" || spec == "pal4")
    return parse_dtype(spec);
  fail("unknown weight format '", spec,
       "' (expected f32, bf16, f16, q8, q4, q2, astc, pal2 or pal4; --weights also takes "
       "astc:svd=R and pal:BITS)");
}

weight_spec parse_weight_spec(const std::string& spec) {
  if (spec.rfind("pal:", 0) == 0) {
    const std::string b = spec.substr(4);
    char* end = nullptr;
    const double bits = b.empty() ? 0.0 : std::strtod(b.c_str(), &end);
    if (b.empty() || *end != '\0' || !(bits >= 2.1 && bits <= 4.0))
      fail(
          "weight format '", spec,
          "': pal:BITS takes a mean between 2.1 and 4.0 bits per weight (pal2 is 2.03, pal4 4.06)");
    return {dtype::afm_pal4, 0, bits};
  }
  const std::string prefix = "astc:svd=";
  if (spec.rfind(prefix, 0) != 0) {
    if (spec.rfind("astc:", 0) == 0)
      fail("weight format '", spec, "': astc takes one option, svd=R (e.g. astc:svd=8)");
    return {parse_weight_format(spec), 0};
  }
  const std::string r = spec.substr(prefix.size());
  if (r.empty() || r.size() > 6 || r.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(r) == 0)
    fail("weight format '", spec, "': the SVD rank must be a positive integer");
  return {dtype::afm_astc, std::stoul(r)};
}

namespace {

// ||back - v||^2 / ||v||^2 (0 for an all-zero v).
double relative_sq_error(const std::vector<float>& v, const std::vector<float>& back) {
  double e = 0.0, n = 0.0;
  for (size_t i = 0; i < v.size(); ++i) {
    e += (static_cast<double>(back[i]) - v[i]) * (static_cast<double>(back[i]) - v[i]);
    n += static_cast<double>(v[i]) * v[i];
  }
  return n > 0.0 ? e / n : 0.0;
}

// The relative squared error of v, the values of a tensor of dims ne, encoded in format t.
double relative_sq_error(const std::vector<float>& v, const gguf_tensor_info& info, dtype t,
                         thread_pool& pool) {
  std::vector<uint8_t> bytes(tensor_bytes(t, info.ne.data(), info.n_dims));
  formats::encode_tensor(*formats::find_format(t), v.data(), info.ne.data(), info.n_dims,
                         bytes.data(), pool);
  tensor coded = make_tensor(bytes.data(), t, {info.ne[0], info.ne[1], info.ne[2], info.ne[3]});
  std::vector<float> back(v.size());
  formats::decode_tensor(coded, back.data(), pool);
  return relative_sq_error(v, back);
}

// pal:BITS: every matrix starts at pal4; the ones whose measured relative squared error grows
// least per bit saved move to pal2, until the matrices average at most `bits` bits per weight.
std::map<std::string, dtype> choose_palette_bits(
    const gguf_file& f, const std::function<bool(const gguf_tensor_info&)>& is_matrix, double bits,
    thread_pool& pool) {
  struct candidate {
    std::string name;
    size_t bytes4, bytes2;
    double cost;  // increase of relative squared error per bit saved
  };
  std::vector<candidate> c;
  double total_bits = 0.0, elements = 0.0;
  for (const gguf_tensor_info& info : f.tensors()) {
    if (!is_matrix(info)) continue;
    const tensor src = f.get_tensor(info.name);
    std::vector<float> v(static_cast<size_t>(src.elements()));
    formats::decode_tensor(src, v.data(), pool);
    const size_t b4 = tensor_bytes(dtype::afm_pal4, info.ne.data(), info.n_dims);
    const size_t b2 = tensor_bytes(dtype::afm_pal2, info.ne.data(), info.n_dims);
    const double grow = relative_sq_error(v, info, dtype::afm_pal2, pool) -
                        relative_sq_error(v, info, dtype::afm_pal4, pool);
    c.push_back({info.name, b4, b2, grow / (8.0 * static_cast<double>(b4 - b2))});
    total_bits += 8.0 * static_cast<double>(b4);
    elements += static_cast<double>(v.size());
  }
  std::sort(c.begin(), c.end(),
            [](const candidate& a, const candidate& b) { return a.cost < b.cost; });
  std::map<std::string, dtype> chosen;
  for (const candidate& t : c) {
    const bool fits = total_bits <= bits * elements;
    chosen[t.name] = fits ? dtype::afm_pal4 : dtype::afm_pal2;
    if (!fits) total_bits -= 8.0 * static_cast<double>(t.bytes4 - t.bytes2);
  }
  return chosen;
}

}  // namespace

quantize_report quantize_model(const std::string& in, const std::string& out,
                               const quantize_options& o, thread_pool& pool,
                               const std::function<void(size_t, size_t)>& progress) {
  // The input stays mapped while the output is written: writing over it would pull the
  // weights from under the reader.
  std::error_code ec;
  if (std::filesystem::equivalent(in, out, ec))
    fail("the output ", out, " is the input file; write to another path");
  const std::unique_ptr<model> m = load_model(in, gguf_load::map);  // validates the input fully
  // The compact weight formats keep a row-addressable 4-bit table for the embedding lookup.
  const bool compact = o.weights == dtype::afm_q2 || o.weights == dtype::afm_astc ||
                       o.weights == dtype::afm_pal2 || o.weights == dtype::afm_pal4;
  const dtype embed = o.embed_set ? o.embed : compact ? dtype::afm_q4 : o.weights;
  std::map<std::string, tensor_role> roles;
  for (const tensor_slot& s : m->arch->tensors(m->cfg, nullptr)) roles[s.name] = s.role;
  auto is_matrix = [&](const gguf_tensor_info& t) {
    const auto it = roles.find(t.name);
    return it != roles.end() && it->second != tensor_role::norm &&
           it->second != tensor_role::embedding && t.n_dims >= 2;
  };
  const std::map<std::string, dtype> mixed =
      o.pal_bits > 0 ? choose_palette_bits(m->file, is_matrix, o.pal_bits, pool)
                     : std::map<std::string, dtype>{};
  auto type_for = [&](const gguf_tensor_info& t) {
    const auto it = roles.find(t.name);
    if (it == roles.end() || it->second == tensor_role::norm || t.n_dims < 2) return t.type;
    if (it->second == tensor_role::embedding) return embed;
    return mixed.empty() ? o.weights : mixed.at(t.name);
  };

  // The SVD split applies to the astc matrices (not the embedding table, not expert stacks).
  auto split = [&](const gguf_tensor_info& t) {
    return o.svd_rank > 0 && type_for(t) == dtype::afm_astc && t.n_dims == 2 && is_matrix(t);
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
    if (fmt->tile_rows == 1 && t.ne[0] % static_cast<int64_t>(fmt->block_elems) != 0)
      fail("tensor '", t.name, "' has rows of ", t.ne[0], " values, which ", fmt->name,
           " cannot store (its blocks hold ", fmt->block_elems, " values)");
    w.add_tensor(t.name, type, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims));
    if (!split(t)) continue;
    const int64_t rank = static_cast<int64_t>(o.svd_rank);
    if (f.find_tensor(t.name + ".lora_a"))
      fail("tensor '", t.name, "' already has a low-rank part; split the original model instead");
    if (rank > std::min(t.ne[0], t.ne[1]))
      fail("tensor '", t.name, "' (", t.ne[1], " x ", t.ne[0],
           ") cannot take an SVD split of rank ", rank);
    w.add_tensor(t.name + ".lora_a", dtype::f16, {t.ne[0], rank});
    w.add_tensor(t.name + ".lora_b", dtype::f16, {rank, t.ne[1]});
  }
  w.write_header(out);

  quantize_report report;
  std::vector<float> values, back;
  std::vector<uint8_t> encoded;
  size_t total = 0;  // progress counts weights, as afm create's does (model/create.cc)
  for (const gguf_tensor_info& info : f.tensors())
    total += static_cast<size_t>(f.get_tensor(info.name).elements());
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const gguf_tensor_info& info = f.tensors()[i];
    const tensor src = f.get_tensor(info.name);
    const dtype type = type_for(info);
    const formats::weight_format& to = *formats::find_format(type);
    const size_t cols = static_cast<size_t>(src.ne[0]);
    const size_t rows = static_cast<size_t>(src.elements()) / cols;
    values.resize(rows * cols);
    back.resize(rows * cols);
    formats::decode_tensor(src, values.data(), pool);
    std::vector<float> original;
    low_rank_split parts;
    if (split(info)) {
      original = values;
      parts = split_low_rank(values.data(), rows, cols, o.svd_rank);
    }
    encoded.resize(tensor_bytes(type, info.ne.data(), info.n_dims));
    if (type == src.type)
      std::memcpy(encoded.data(), src.data, encoded.size());  // no generation loss
    else
      formats::encode_tensor(to, values.data(), info.ne.data(), info.n_dims, encoded.data(), pool);
    tensor coded = src;
    coded.type = type;
    coded.data = encoded.data();
    set_contiguous_strides(coded);
    formats::decode_tensor(coded, back.data(), pool);
    if (parts.rank > 0) {  // judge W_res + B A against the original W
      values.swap(original);
      pool.parallel_for(rows, 16, [&](size_t r0, size_t r1) {
        for (size_t r = r0; r < r1; ++r)
          for (size_t c = 0; c < cols; ++c)
            for (size_t k = 0; k < parts.rank; ++k)
              back[r * cols + c] += parts.b[r * parts.rank + k] * parts.a[k * cols + c];
      });
    }
    w.write_tensor(encoded.data(), encoded.size());
    size_t bytes = encoded.size();
    for (const std::vector<float>* part : {&parts.a, &parts.b}) {
      if (part->empty()) continue;
      std::vector<uint16_t> half(part->size());
      for (size_t k = 0; k < half.size(); ++k) half[k] = f32_to_f16((*part)[k]);
      w.write_tensor(half.data(), half.size() * 2);
      bytes += half.size() * 2;
    }
    report.tensors.push_back(
        {info.name, type, rows * cols, bytes, std::sqrt(relative_sq_error(values, back))});
    report.elements += rows * cols;
    report.bytes += bytes;
    if (progress) progress(report.elements, total);
  }
  w.finish();
  return report;
}

}  // namespace afm
