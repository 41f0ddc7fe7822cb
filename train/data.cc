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

void token_stream::append(const std::vector<int32_t>& t, const std::vector<uint8_t>& c) {
  tokens.insert(tokens.end(), t.begin(), t.end());
  if (c.empty()) {
    counts.insert(counts.end(), t.size(), 1);
  } else {
    if (c.size() != t.size()) fail("training data: a loss mask's length differs from its tokens'");
    counts.insert(counts.end(), c.begin(), c.end());
  }
}

token_document chat_document(const tokenizer& tok, const std::vector<chat_entry>& t) {
  if (t.empty()) fail("training data: an empty chat transcript");
  const std::vector<chat_entry> prompt(t.begin(), t.end() - 1);
  token_document d;
  d.tokens = encode_chat(tok, chat_family::afm, t, false);
  const size_t n_prompt = encode_chat(tok, chat_family::afm, prompt, true).size();
  d.counts.assign(d.tokens.size(), 1);
  std::fill(d.counts.begin(), d.counts.begin() + static_cast<std::ptrdiff_t>(n_prompt), 0);
  return d;
}

corpus build_corpus(const std::vector<std::string>& files, const tokenizer& tok,
                    const corpus_options& o, const std::function<void(size_t, size_t)>& progress) {
  if (files.empty() && o.token_documents.empty()) fail("training data: no files");
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
  // The held-out split is text only (token documents, such as synthetic tasks, have their own
  // evaluation); then the training text and the token documents are shuffled together.
  shuffle_with(docs, o.seed);
  const size_t held = static_cast<size_t>(static_cast<double>(docs.size()) * o.heldout_fraction);
  if (o.heldout_fraction > 0.0 && (held == 0 || held == docs.size()))
    fail("training data: ", docs.size(), " documents cannot be split with a held-out fraction of ",
         o.heldout_fraction);
  std::vector<int32_t> toks;
  const std::vector<uint8_t> none;
  auto add_text = [&](token_stream& out, const std::string& d) {
    toks.clear();
    tok.encode(d, special_tokens::as_text, toks);
    out.append(toks, none);
    out.append({o.boundary}, none);
  };
  const size_t n_text = docs.size() - held, n = n_text + o.token_documents.size();
  for (size_t i = n_text; i < docs.size(); ++i) add_text(c.heldout, docs[i]);
  c.heldout_documents = held;
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  if (!o.token_documents.empty()) shuffle_with(order, o.seed + 1);
  for (const uint32_t i : order) {
    if (i < n_text) {
      add_text(c.train, docs[i]);
    } else {
      const token_document& d = o.token_documents[i - n_text];
      const size_t at = c.train.tokens.size() % (o.align ? o.align : 1);
      if (o.align && at + d.tokens.size() + 1 > o.align && at > 0) {
        const size_t gap = o.align - at;
        c.train.tokens.insert(c.train.tokens.end(), gap, o.boundary);
        c.train.counts.insert(c.train.counts.end(), gap, 0);
      }
      c.train.append(d.tokens, d.counts);
      c.train.append({o.boundary}, none);
    }
  }
  c.train_documents = n;
  return c;
}

sequence_loader::sequence_loader(const token_stream& stream, size_t seq_len, uint64_t seed)
    : stream_(stream), seq_len_(seq_len), n_(stream.tokens.size() / (seq_len + 1)), seed_(seed) {
  if (seq_len == 0) fail("training data: sequence length must be positive");
  if (n_ == 0)
    fail("training data: ", stream.tokens.size(), " tokens make no sequence of ", seq_len + 1);
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

batch sequence_loader::next_batch(size_t count) {
  const std::vector<int64_t> shape{static_cast<int64_t>(count), static_cast<int64_t>(seq_len_ + 1)};
  batch out{torch::empty(shape, torch::kInt64), torch::empty(shape, torch::kFloat32)};
  int64_t* p = out.tokens.data_ptr<int64_t>();
  float* m = out.counts.data_ptr<float>();
  for (size_t b = 0; b < count; ++b) {
    if (at_.index == n_) {
      ++at_.epoch;
      at_.index = 0;
      shuffle();
    }
    const size_t start = static_cast<size_t>(order_[at_.index++]) * (seq_len_ + 1);
    for (size_t i = 0; i <= seq_len_; ++i) {
      *p++ = stream_.tokens[start + i];
      *m++ = static_cast<float>(stream_.counts[start + i]);
    }
  }
  return out;
}

}  // namespace afm::train
