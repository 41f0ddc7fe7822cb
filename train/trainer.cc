#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <ATen/autocast_mode.h>
#include <nlohmann/json.hpp>

#include "afm/error.h"

namespace afm::train {
namespace {

namespace fs = std::filesystem;

// The next-token loss of a batch's rows, summed over the counted targets: cross-entropy, mixed
// with the KL divergence to a teacher's distribution when o has a teacher.
torch::Tensor summed_loss(const torch_model& m, const torch::Tensor& tokens,
                          const torch::Tensor& counts, const train_options* o = nullptr) {
  const int64_t S = tokens.size(1) - 1;
  const torch::Tensor inputs = tokens.slice(1, 0, S);
  const torch::Tensor logits = (o && o->qat    ? forward(o->qat->fake_quantized(m), inputs)
                                : o && o->lora ? forward(o->lora->applied(m), inputs)
                                               : forward(m, inputs))
                                   .to(torch::kFloat32)
                                   .flatten(0, 1);
  torch::Tensor loss = torch::nn::functional::cross_entropy(
      logits, tokens.slice(1, 1).flatten(),
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  if (o && o->teacher) {
    torch::Tensor teacher;
    {
      torch::NoGradGuard no_grad;
      teacher = forward(*o->teacher, inputs).to(torch::kFloat32).flatten(0, 1);
    }
    const double T = o->distill_temperature, a = o->distill_alpha;
    const torch::Tensor log_t = torch::log_softmax(teacher / T, -1);
    const torch::Tensor kl = (log_t.exp() * (log_t - torch::log_softmax(logits / T, -1))).sum(-1);
    loss = a * T * T * kl + (1.0 - a) * loss;
  }
  return (loss * counts.slice(1, 1).flatten()).sum();
}

// CPU autocast to bfloat16 while it lives.
struct autocast_scope {
  bool on;
  explicit autocast_scope(bool enable) : on(enable) {
    if (!on) return;
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
  ~autocast_scope() {
    if (!on) return;
    at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
  }
};

// Sums every gradient over the ranks in one collective call (a parameter a rank's rows did not
// reach, such as an idle expert, contributes zeros).
void all_reduce_gradients(const std::vector<torch::Tensor>& params, const collective& comm) {
  std::vector<torch::Tensor> flat;
  for (const torch::Tensor& p : params)
    flat.push_back(p.grad().defined() ? p.grad().flatten() : torch::zeros({p.numel()}));
  torch::Tensor all = torch::cat(flat);
  comm.all_reduce_sum(all);
  int64_t at = 0;
  for (const torch::Tensor& p : params) {
    torch::Tensor g = all.slice(0, at, at + p.numel()).view_as(p);
    if (p.grad().defined()) {
      p.mutable_grad().copy_(g);
    } else {
      p.mutable_grad() = g.clone();
    }
    at += p.numel();
  }
}

struct checkpoint_paths {
  fs::path dir, weights, optimizer, state, qat, lora;
  explicit checkpoint_paths(const std::string& out)
      : dir(fs::path(out) / "checkpoint"),
        weights(dir / "weights.pt"),
        optimizer(dir / "optimizer.pt"),
        state(dir / "state.json"),
        qat(dir / "qat.pt"),
        lora(dir / "lora.pt") {}
};

}  // namespace

double learning_rate(const train_options& o, int64_t step) {
  if (step < o.warmup) return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup);
  const double span = static_cast<double>(std::max<int64_t>(1, o.steps - o.warmup));
  const double t = std::min(1.0, static_cast<double>(step - o.warmup) / span);
  return o.min_lr + 0.5 * (o.lr - o.min_lr) * (1.0 + std::cos(M_PI * t));
}

bool cpu_has_native_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
#else
  return false;  // not measured on other CPUs: f32 is the safe default there
#endif
}

void train(torch_model& m, sequence_loader& data, const train_options& o,
           const std::function<void(const step_report&)>& on_step) {
  if (o.out_dir.empty()) fail("train: no output directory");
  const int rank = o.comm ? o.comm->rank : 0, ranks = o.comm ? o.comm->size : 1;
  const checkpoint_paths ck(o.out_dir);
  if (rank == 0) fs::create_directories(ck.dir);
  int64_t step = 0;
  double tokens = 0;
  if (fs::exists(ck.state)) {  // resume: weights before the optimizer is built over them
    std::ifstream in(ck.state);
    const nlohmann::json st = nlohmann::json::parse(in);
    step = st.at("step").get<int64_t>();
    tokens = st.at("tokens").get<double>();
    data.seek({st.at("epoch").get<uint64_t>(), st.at("index").get<uint64_t>()});
    std::vector<torch::Tensor> saved;
    torch::load(saved, ck.weights.string());
    if (saved.size() != m.names.size())
      fail("train: checkpoint ", ck.weights.string(), " holds ", saved.size(),
           " tensors, the model ", m.names.size());
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < saved.size(); ++i) m.w[m.names[i]].copy_(saved[i]);
    if (o.qat) {
      std::vector<torch::Tensor> q;
      torch::load(q, ck.qat.string());
      o.qat->load_state(q);
    }
    if (o.lora) {
      std::vector<torch::Tensor> l;
      torch::load(l, ck.lora.string());
      o.lora->load_state(l);
    }
  }
  // With adapters only they train; the base stays as imported.
  std::vector<torch::Tensor> params = o.lora ? o.lora->parameters() : m.parameters();
  if (o.qat)
    for (const torch::Tensor& f : o.qat->parameters()) params.push_back(f);
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  if (fs::exists(ck.optimizer)) torch::load(opt, ck.optimizer.string());

  // The log keeps the rows up to the resumed step, so a resumed run's log reads as one run.
  const fs::path log_path = fs::path(o.out_dir) / "log.csv";
  std::vector<std::string> kept;
  if (rank == 0 && step > 0 && fs::exists(log_path)) {
    std::ifstream in(log_path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line))
      if (std::stoll(line.substr(0, line.find(','))) <= step) kept.push_back(line);
  }
  std::ofstream log;
  if (rank == 0) {
    log.open(log_path, std::ios::trunc);
    log << "step,tokens,loss,lr,grad_norm,tokens_per_s,elapsed_s\n";
    for (const std::string& l : kept) log << l << "\n";
  }

  auto save = [&] {
    if (rank != 0) return;
    torch::save(m.parameters(), ck.weights.string());
    torch::save(opt, ck.optimizer.string());
    if (o.qat) torch::save(o.qat->state(), ck.qat.string());
    if (o.lora) torch::save(o.lora->state(), ck.lora.string());
    const auto c = data.position();
    std::ofstream(ck.state) << nlohmann::json{
        {"step", step},
        {"tokens", tokens},
        {"epoch", c.epoch},
        {"index", c.index}}.dump(2);
  };
  const auto start = std::chrono::steady_clock::now();
  double run_tokens = 0;
  const int64_t last = o.stop_at > 0 ? std::min(o.stop_at, o.steps) : o.steps;
  while (step < last) {
    const double lr = learning_rate(o, step);
    for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    opt.zero_grad();
    // Every rank reads the whole global batch (the same on all) and runs rows rank, rank +
    // ranks, ...; losses are divided by the global count of targets, so summing gradients over
    // ranks gives the one-process gradient.
    const batch b = data.next_batch(static_cast<size_t>(o.batch));
    const double targets = b.counts.slice(1, 1).sum().item<double>();
    const torch::Tensor mine = torch::arange(rank, o.batch, ranks);
    const int64_t micro = o.micro_batch > 0 ? o.micro_batch : mine.numel();
    torch::Tensor loss_sum = torch::zeros({1}, torch::kFloat64);
    for (int64_t at = 0; at < mine.numel() && targets > 0; at += micro) {
      const torch::Tensor rows = mine.slice(0, at, std::min(at + micro, mine.numel()));
      torch::Tensor l;
      {
        autocast_scope autocast(o.bf16);
        l = summed_loss(m, b.tokens.index_select(0, rows), b.counts.index_select(0, rows), &o) /
            targets;
      }
      l.backward();
      loss_sum += l.item<double>();
    }
    if (o.comm) {
      all_reduce_gradients(params, *o.comm);
      o.comm->all_reduce_sum(loss_sum);
    }
    const double loss = loss_sum.item<double>();
    if (o.qat) o.qat->scale_factor_gradients();
    const double norm = o.clip > 0 ? torch::nn::utils::clip_grad_norm_(params, o.clip)
                                   : torch::nn::utils::clip_grad_norm_(params, 1e30);
    opt.step();
    if (o.qat) o.qat->update_ema(m);
    ++step;
    const double n_tok = static_cast<double>(o.batch * (b.tokens.size(1) - 1));
    tokens += n_tok;
    run_tokens += n_tok;
    step_report r;
    r.step = step;
    r.steps = o.steps;
    r.loss = loss;
    r.lr = lr;
    r.grad_norm = norm;
    r.tokens = tokens;
    r.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.tokens_per_s = run_tokens / std::max(r.elapsed_s, 1e-9);
    if (rank == 0) {
      log << step << ',' << tokens << ',' << loss << ',' << lr << ',' << norm << ','
          << r.tokens_per_s << ',' << r.elapsed_s << "\n";
      log.flush();
    }
    if (on_step) on_step(r);
    if (step == last || (o.checkpoint_every > 0 && step % o.checkpoint_every == 0)) save();
  }
}

double mean_loss(const torch_model& m, const token_stream& stream, size_t seq_len,
                 size_t max_sequences) {
  torch::NoGradGuard no_grad;
  const size_t n = std::min(max_sequences, stream.tokens.size() / (seq_len + 1));
  if (n == 0) fail("train: too few held-out tokens (", stream.tokens.size(), ") for one sequence");
  double total = 0, targets = 0;
  for (size_t i = 0; i < n; i += 8) {  // 8 sequences per forward pass
    const size_t rows = std::min<size_t>(8, n - i);
    const auto first = static_cast<long>(i * (seq_len + 1));
    const auto last = static_cast<long>((i + rows) * (seq_len + 1));
    const std::vector<int64_t> ids(stream.tokens.begin() + first, stream.tokens.begin() + last);
    const std::vector<float> counts(stream.counts.begin() + first, stream.counts.begin() + last);
    const int64_t R = static_cast<int64_t>(rows), W = static_cast<int64_t>(seq_len + 1);
    const torch::Tensor c = torch::tensor(counts).view({R, W});
    total += summed_loss(m, torch::tensor(ids, torch::kInt64).view({R, W}), c).item<double>();
    targets += c.slice(1, 1).sum().item<double>();
  }
  if (targets == 0) fail("train: the held-out sequences have no counted tokens");
  return total / targets;
}

void write_loss_svg(const std::string& csv_path, const std::string& svg_path) {
  std::ifstream in(csv_path);
  if (!in) fail("train: cannot read ", csv_path);
  std::string line;
  std::getline(in, line);
  std::vector<std::pair<double, double>> pts;  // (step, loss)
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string step, tok, loss;
    std::getline(ss, step, ',');
    std::getline(ss, tok, ',');
    std::getline(ss, loss, ',');
    pts.emplace_back(std::stod(step), std::stod(loss));
  }
  if (pts.empty()) fail("train: ", csv_path, " has no rows");
  double lo = pts[0].second, hi = lo;
  for (const auto& p : pts) lo = std::min(lo, p.second), hi = std::max(hi, p.second);
  if (hi - lo < 1e-9) hi = lo + 1;
  const double W = 640, H = 360, L = 60, R = 20, T = 20, B = 40;
  const double last = std::max(1.0, pts.back().first);
  std::ofstream out(svg_path);
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - R << "\" y2=\"" << H - B
      << "\" stroke=\"black\"/>\n<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L
      << "\" y2=\"" << H - B << "\" stroke=\"black\"/>\n"
      << "<text x=\"" << L << "\" y=\"" << H - 10 << "\">step 0</text><text x=\"" << W - R - 80
      << "\" y=\"" << H - 10 << "\">step " << pts.back().first << "</text>\n"
      << "<text x=\"4\" y=\"" << T + 10 << "\">" << hi << "</text><text x=\"4\" y=\"" << H - B
      << "\">" << lo << "</text>\n<text x=\"" << W / 2 - 40 << "\" y=\"" << T + 4
      << "\">training loss</text>\n<polyline fill=\"none\" stroke=\"steelblue\" points=\"";
  for (const auto& [s, l] : pts)
    out << L + (W - L - R) * s / last << ',' << T + (H - T - B) * (hi - l) / (hi - lo) << ' ';
  out << "\"/>\n</svg>\n";
}

}  // namespace afm::train
