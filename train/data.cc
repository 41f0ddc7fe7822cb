#include "train/data.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "afm/error.h"
#include "afm/rng.h"

namespace afm::train {
namespace {

// Fisher-Yates with the project's generator, so orders match on every standard library.
template <typename T>
void shuffle_with(std::vector<T>& v, uint64_t seed) {
  rng g(seed);
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[g.next() % i]);
}

std::vector<std::string> documents_of(const std::string& text) {
  std::vector<std::string> docs;
  std::string cur;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const bool blank = line.find_first_not_of(" \t\r") == std::string::npos;
    if (blank) {
      if (!cur.empty()) docs.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += line;
      cur += '\n';
    }
  }
  if (!cur.empty()) docs.push_back(std::move(cur));
  return docs;
}

}  // namespace

corpus build_corpus(const std::vector<std::string>& files, const tokenizer& tok,
                    const corpus_options& o, const std::function<void(size_t, size_t)>& progress) {
  if (files.empty()) fail("training data: no files");
  std::vector<std::string> docs;
  corpus c;
  for (size_t i = 0; i < files.size(); ++i) {
    std::ifstream in(files[i], std::ios::binary);
    if (!in) fail("training data: cannot open ", files[i]);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    if (text.empty()) fail("training data: ", files[i], " is empty");
    c.bytes += text.size();
    for (std::string& d : documents_of(text)) docs.push_back(std::move(d));
    if (progress) progress(i + 1, files.size());
  }
  shuffle_with(docs, o.seed);
  const size_t held = static_cast<size_t>(static_cast<double>(docs.size()) * o.heldout_fraction);
  if (o.heldout_fraction > 0.0 && (held == 0 || held == docs.size()))
    fail("training data: ", docs.size(), " documents cannot be split with a held-out fraction of ",
         o.heldout_fraction);
  for (size_t i = 0; i < docs.size(); ++i) {
    const bool is_held = i >= docs.size() - held;
    std::vector<int32_t>& out = is_held ? c.heldout : c.train;
    tok.encode(docs[i], special_tokens::as_text, out);
    out.push_back(o.boundary);
    ++(is_held ? c.heldout_documents : c.train_documents);
  }
  return c;
}

sequence_loader::sequence_loader(const std::vector<int32_t>& stream, size_t seq_len, uint64_t seed)
    : stream_(stream), seq_len_(seq_len), n_(stream.size() / (seq_len + 1)), seed_(seed) {
  if (seq_len == 0) fail("training data: sequence length must be positive");
  if (n_ == 0) fail("training data: ", stream.size(), " tokens make no sequence of ", seq_len + 1);
  shuffle();
}

void sequence_loader::shuffle() {
  order_.resize(n_);
  for (size_t i = 0; i < n_; ++i) order_[i] = static_cast<uint32_t>(i);
  shuffle_with(order_, seed_ * 0x9e3779b97f4a7c15ull + at_.epoch + 1);
}

void sequence_loader::seek(cursor c) {
  at_ = c;
  if (at_.index > n_) fail("training data: cursor ", at_.index, " is past ", n_, " sequences");
  shuffle();
}

torch::Tensor sequence_loader::next_batch(size_t batch) {
  torch::Tensor out = torch::empty(
      {static_cast<int64_t>(batch), static_cast<int64_t>(seq_len_ + 1)}, torch::kInt64);
  int64_t* p = out.data_ptr<int64_t>();
  for (size_t b = 0; b < batch; ++b) {
    if (at_.index == n_) {
      ++at_.epoch;
      at_.index = 0;
      shuffle();
    }
    const size_t start = static_cast<size_t>(order_[at_.index++]) * (seq_len_ + 1);
    for (size_t i = 0; i <= seq_len_; ++i) *p++ = stream_[start + i];
  }
  return out;
}

}  // namespace afm::train
