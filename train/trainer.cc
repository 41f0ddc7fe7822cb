#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "afm/error.h"

namespace afm::train {
namespace {

namespace fs = std::filesystem;

torch::Tensor sequence_loss(const torch_model& m, const torch::Tensor& seq) {
  const int64_t S = seq.size(0) - 1;
  const torch::Tensor logits = forward(m, seq.slice(0, 0, S));
  return torch::nn::functional::cross_entropy(logits, seq.slice(0, 1));
}

struct checkpoint_paths {
  fs::path dir, weights, optimizer, state;
  explicit checkpoint_paths(const std::string& out)
      : dir(fs::path(out) / "checkpoint"),
        weights(dir / "weights.pt"),
        optimizer(dir / "optimizer.pt"),
        state(dir / "state.json") {}
};

}  // namespace

double learning_rate(const train_options& o, int64_t step) {
  if (step < o.warmup) return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup);
  const double span = static_cast<double>(std::max<int64_t>(1, o.steps - o.warmup));
  const double t = std::min(1.0, static_cast<double>(step - o.warmup) / span);
  return o.min_lr + 0.5 * (o.lr - o.min_lr) * (1.0 + std::cos(M_PI * t));
}

void train(torch_model& m, sequence_loader& data, const train_options& o,
           const std::function<void(const step_report&)>& on_step) {
  if (o.out_dir.empty()) fail("train: no output directory");
  const checkpoint_paths ck(o.out_dir);
  fs::create_directories(ck.dir);
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
  }
  std::vector<torch::Tensor> params = m.parameters();
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  if (fs::exists(ck.optimizer)) torch::load(opt, ck.optimizer.string());

  // The log keeps the rows up to the resumed step, so a resumed run's log reads as one run.
  const fs::path log_path = fs::path(o.out_dir) / "log.csv";
  std::vector<std::string> kept;
  if (step > 0 && fs::exists(log_path)) {
    std::ifstream in(log_path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line))
      if (std::stoll(line.substr(0, line.find(','))) <= step) kept.push_back(line);
  }
  std::ofstream log(log_path, std::ios::trunc);
  log << "step,tokens,loss,lr,grad_norm,tokens_per_s,elapsed_s\n";
  for (const std::string& l : kept) log << l << "\n";

  auto save = [&] {
    torch::save(m.parameters(), ck.weights.string());
    torch::save(opt, ck.optimizer.string());
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
    const torch::Tensor batch = data.next_batch(static_cast<size_t>(o.batch));
    double loss = 0;
    for (int64_t b = 0; b < o.batch; ++b) {  // gradient accumulation over the batch
      torch::Tensor l = sequence_loss(m, batch[b]) / static_cast<double>(o.batch);
      l.backward();
      loss += l.item<double>();
    }
    const double norm = o.clip > 0 ? torch::nn::utils::clip_grad_norm_(params, o.clip)
                                   : torch::nn::utils::clip_grad_norm_(params, 1e30);
    opt.step();
    ++step;
    const double n_tok = static_cast<double>(o.batch * (batch.size(1) - 1));
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
    log << step << ',' << tokens << ',' << loss << ',' << lr << ',' << norm << ',' << r.tokens_per_s
        << ',' << r.elapsed_s << "\n";
    log.flush();
    if (on_step) on_step(r);
    if (step == last || (o.checkpoint_every > 0 && step % o.checkpoint_every == 0)) save();
  }
}

double mean_loss(const torch_model& m, const std::vector<int32_t>& stream, size_t seq_len,
                 size_t max_sequences) {
  torch::NoGradGuard no_grad;
  const size_t n = std::min(max_sequences, stream.size() / (seq_len + 1));
  if (n == 0) fail("train: too few held-out tokens (", stream.size(), ") for one sequence");
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    std::vector<int64_t> seq(stream.begin() + static_cast<long>(i * (seq_len + 1)),
                             stream.begin() + static_cast<long>((i + 1) * (seq_len + 1)));
    total += sequence_loss(m, torch::tensor(seq, torch::kInt64)).item<double>();
  }
  return total / static_cast<double>(n);
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
