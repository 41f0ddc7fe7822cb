// The engine: splits a prefill into batches (all but the last only fill the KV cache), checks
// the context, and calls the architecture's forward pass.
#include "afm/engine.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "afm/error.h"
#include "model/architecture.h"
#include "runtime/kv_cache.h"

namespace afm {

engine::engine(const afm::model& m, engine_options o)
    : m_(m),
      n_ctx_(o.n_ctx ? o.n_ctx : static_cast<size_t>(m.cfg.n_ctx)),
      batch_(std::max<size_t>(1, o.batch)),
      exec_(o.exec),
      pool_(o.n_threads > 0 ? o.n_threads
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))) {
  if (n_ctx_ > static_cast<size_t>(m.cfg.n_ctx))
    fail("context size ", n_ctx_, " exceeds the model's context length ", m.cfg.n_ctx);
  bool kv8 = o.kv_type == kv_cache_type::q8;
  if (o.kv_type == kv_cache_type::model_default && m.file.has("afm.kv_cache_type")) {
    const std::string& t = m.file.get_string("afm.kv_cache_type");
    if (t != "q8" && t != "f32")
      fail(m.file.path(), ": afm.kv_cache_type is '", t, "', expected 'q8' or 'f32'");
    kv8 = t == "q8";
  }
  kv_ = std::make_unique<kv_cache>(*m.arch, m.cfg, n_ctx_, batch_, kv8);
  if (m.cfg.moe_every > 0)
    expert_load_.assign(static_cast<size_t>(m.cfg.n_tracks * m.cfg.n_layers * m.cfg.n_experts), 0);
  const int threads = pool_.size();
  if (m.arch->parallel_tracks && exec_ == execution::track_parallel && m.cfg.n_tracks > 1) {
    // G = min(T, threads) groups; worker i of pool_ runs its tracks on group i's pool, which has
    // extra threads of its own when there are more threads than tracks.
    const int groups = static_cast<int>(std::min<int64_t>(m.cfg.n_tracks, threads));
    for (int i = 0; i < groups; ++i)
      worker_pools_.push_back(
          std::make_unique<thread_pool>(threads / groups + (i < threads % groups ? 1 : 0)));
  }
  if (m.arch->parallel_tracks && exec_ == execution::layer_parallel)
    for (int i = 0; i < threads; ++i) worker_pools_.push_back(std::make_unique<thread_pool>(1));
  for (auto& p : worker_pools_) worker_pool_ptrs_.push_back(p.get());
  scratch_.reserve(m.arch->scratch_bytes(m.cfg, batch_, static_cast<size_t>(threads)));
}

engine::~engine() = default;

size_t engine::kv_bytes() const {
  return kv_->bytes;
}
size_t engine::kv_bytes_per_token() const {
  return kv_->bytes_per_token;
}
bool engine::kv_8bit() const {
  return kv_->q8;
}

bool engine::can_truncate(size_t n) const {
  return kv_->can_truncate(pos_, n);
}

void engine::truncate(size_t n) {
  if (n > pos_) fail("cannot truncate a sequence of ", pos_, " positions to ", n);
  if (!can_truncate(n))
    fail("cannot truncate a sequence of ", pos_, " positions to ", n,
         ": a sliding-window KV ring buffer no longer holds the window before position ", n);
  pos_ = n;
}

std::span<const float> engine::prefill(std::span<const int32_t> tokens) {
  return run(tokens, false);
}
std::span<const float> engine::prefill_all(std::span<const int32_t> tokens) {
  return run(tokens, true);
}

std::span<const float> engine::run(std::span<const int32_t> tokens, bool all) {
  if (tokens.empty()) fail("prefill needs at least one token");
  if (pos_ + tokens.size() > n_ctx_)
    fail("context overflow: ", pos_, " tokens in the sequence plus ", tokens.size(),
         " new ones exceed the context size of ", n_ctx_);
  const size_t vocab = static_cast<size_t>(m_.cfg.n_vocab);
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || static_cast<size_t>(tokens[i]) >= vocab)
      fail("token id ", tokens[i], " at index ", i, " is outside the vocabulary [0, ", vocab, ")");
  logits_.resize((all ? tokens.size() : 1) * vocab);
  forward_context ctx{pool_, scratch_, exec_, worker_pool_ptrs_,
                      expert_load_.empty() ? nullptr : expert_load_.data()};
  for (size_t b = 0; b < tokens.size(); b += batch_) {
    const size_t n = std::min(batch_, tokens.size() - b);
    const bool last = b + n == tokens.size();
    const logits_mode mode = all ? logits_mode::all : last ? logits_mode::last : logits_mode::none;
    const forward_args a{
        tokens.data() + b, n,    pos_,
        kv_->views.data(), mode, all ? logits_.data() + b * vocab : logits_.data()};
    m_.arch->forward(m_, a, ctx);
    flops_ += m_.arch->flops(m_.cfg, n, pos_, mode);
    pos_ += n;
  }
  return logits_;
}

}  // namespace afm
