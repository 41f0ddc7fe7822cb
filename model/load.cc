// Loading a model file: pick the architecture named by general.architecture, read its config,
// bind every expected tensor to its view in the mapped file after checking shape and type.
#include <cmath>
#include <set>
#include <sstream>

#include "afm/error.h"
#include "afm/model.h"
#include "formats/format.h"
#include "formats/q2_tiles.h"
#include "model/architecture.h"

namespace afm {
namespace {

std::string shape_str(const int64_t* ne, int n) {
  std::ostringstream os;
  os << "[";
  for (int i = 0; i < n; ++i) os << (i ? ", " : "") << ne[i];
  os << "]";
  return os.str();
}

void build_rope_tables(model& m) {
  const size_t half = static_cast<size_t>(m.cfg.head_dim / 2);
  const size_t n_ctx = static_cast<size_t>(m.cfg.n_ctx);
  m.rope_cos.resize(n_ctx * half);
  m.rope_sin.resize(n_ctx * half);
  for (size_t i = 0; i < half; ++i) {
    // theta_i = base^(-2i / head_dim), angles computed in double so long positions stay exact.
    const double theta =
        std::pow(static_cast<double>(m.cfg.rope_base),
                 -2.0 * static_cast<double>(i) / static_cast<double>(m.cfg.head_dim));
    for (size_t p = 0; p < n_ctx; ++p) {
      const double angle = static_cast<double>(p) * theta;
      m.rope_cos[p * half + i] = static_cast<float>(std::cos(angle));
      m.rope_sin[p * half + i] = static_cast<float>(std::sin(angle));
    }
  }
}

// Binds "<name>.lora_a" [rank x cols] and "<name>.lora_b" [rows x rank] to w, if the file has
// them (both, in a row format).
void bind_low_rank(model& m, const std::string& path, tensor& w) {
  const gguf_tensor_info* a = m.file.find_tensor(w.name + ".lora_a");
  const gguf_tensor_info* b = m.file.find_tensor(w.name + ".lora_b");
  if (!a && !b) return;
  if (!a || !b) fail(path, ": tensor '", w.name, "' has only one of its .lora_a / .lora_b parts");
  const int64_t rank = a->ne[1];
  if (a->n_dims != 2 || b->n_dims != 2 || w.n_dims != 2 || a->ne[0] != w.ne[0] ||
      b->ne[0] != rank || b->ne[1] != w.ne[1])
    fail(path, ": low-rank parts of '", w.name, "' have shapes ",
         shape_str(a->ne.data(), a->n_dims), " and ", shape_str(b->ne.data(), b->n_dims),
         ", expected [", w.ne[0], ", r] and [r, ", w.ne[1], "]");
  for (const gguf_tensor_info* t : {a, b}) {
    const formats::weight_format* fmt = formats::find_format(t->type);
    if (!fmt || fmt->tile_rows > 1)
      fail(path, ": tensor '", t->name, "' has type ", dtype_name(t->type),
           ", which a low-rank part cannot take (f32, f16, bf16, q8_0)");
  }
  m.low_rank.push_back(m.file.get_tensor(a->name));
  w.lora_a = &m.low_rank.back();
  m.low_rank.push_back(m.file.get_tensor(b->name));
  w.lora_b = &m.low_rank.back();
}

}  // namespace

std::unique_ptr<model> load_model(const std::string& path, gguf_load load, q2_layout q2) {
  auto m = std::make_unique<model>();
  m->file = gguf_file::open(path, load);
  const gguf_file& f = m->file;
  const std::string arch = f.get_string("general.architecture");
  m->arch = find_architecture(arch);
  if (!m->arch)
    fail(path, ": unsupported architecture '", arch, "' (afm runs: ", architecture_names(), ")");
  m->cfg.arch = arch;
  if (f.has("general.name")) m->cfg.name = f.get_string("general.name");
  m->arch->read_config(f, m->cfg);
  try {
    validate_config(m->cfg);
  } catch (const error& e) {
    fail(path, ": ", e.what());
  }

  m->layers.resize(static_cast<size_t>(m->cfg.n_tracks * m->cfg.n_layers));
  std::set<const void*> retiled;
  const bool tile_q2 = q2 == q2_layout::tiles ||
                       (q2 == q2_layout::automatic && formats::q2_tiles::lookup_preferred());
  for (const tensor_slot& s : m->arch->tensors(m->cfg, m.get())) {
    const gguf_tensor_info* info = f.find_tensor(s.name);
    const int n_dims = static_cast<int>(s.ne.size());
    if (!info)
      fail(path, ": missing tensor '", s.name, "' (expected shape ", shape_str(s.ne.data(), n_dims),
           ")");
    bool same = info->n_dims == n_dims;
    for (int d = 0; same && d < n_dims; ++d)
      same = info->ne[static_cast<size_t>(d)] == s.ne[static_cast<size_t>(d)];
    if (!same)
      fail(path, ": tensor '", s.name, "' has shape ", shape_str(info->ne.data(), info->n_dims),
           ", expected ", shape_str(s.ne.data(), n_dims));
    if (s.role == tensor_role::norm && info->type != dtype::f32)
      fail(path, ": tensor '", s.name, "' has type ", dtype_name(info->type), ", expected f32");
    if (!formats::find_format(info->type))
      fail(path, ": tensor '", s.name, "' has type ", dtype_name(info->type),
           ", which afm cannot run (supported: f32, f16, bf16, q8_0)");
    *s.slot = f.get_tensor(s.name);
    // Only a private image may be rewritten: a mapped file is read-only and shared. A tensor two
    // slots bind is re-laid once. Embedding tables keep their rows for the row lookup.
    if (tile_q2 && load == gguf_load::read && s.role != tensor_role::embedding &&
        formats::q2_tiles::can_retile(*s.slot)) {
      if (retiled.insert(s.slot->data).second) {
        formats::q2_tiles::retile(*s.slot);
      } else {
        s.slot->type = dtype::afm_q2_tiles;
        set_contiguous_strides(*s.slot);
      }
    }
    if (s.role != tensor_role::norm) bind_low_rank(*m, path, *s.slot);
  }
  if (m->cfg.tied_output) m->output = m->tok_embd;
  build_rope_tables(*m);
  return m;
}

size_t model::weight_bytes() const {
  size_t b = 0;
  for (const tensor_slot& s : arch->tensors(cfg, const_cast<model*>(this))) b += s.slot->bytes();
  for (const tensor& t : low_rank) b += t.bytes();
  return b;
}

size_t model::decode_weight_bytes() const {
  // Every matrix is streamed once per token; the embedding table only when it is also the head;
  // of an MoE layer's experts, only the k a token is routed to.
  size_t idle_experts = 0;
  for (const layer_weights& L : layers)
    if (!L.gate_exps.empty())
      idle_experts += (L.gate_exps.bytes() + L.up_exps.bytes() + L.down_exps.bytes()) /
                      static_cast<size_t>(cfg.n_experts) *
                      static_cast<size_t>(cfg.n_experts - cfg.n_experts_used);
  return weight_bytes() - (cfg.tied_output ? 0 : tok_embd.bytes()) - idle_experts;
}

int64_t model::n_params() const {
  int64_t n = 0;
  for (const tensor_slot& s : arch->tensors(cfg, const_cast<model*>(this))) n += s.slot->elements();
  for (const tensor& t : low_rank) n += t.elements();
  return n;
}

}  // namespace afm
