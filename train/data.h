// The training data pipeline: text files -> documents -> the project's BPE tokenizer -> one
// shuffled token stream with a boundary token after every document -> fixed-length sequences in
// a seeded order per epoch. Deterministic (same files, tokenizer and seed: same batches) and
// resumable (a cursor of epoch and index says where the next batch starts).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "afm/tokenizer.h"

namespace afm::train {

struct corpus {
  std::vector<int32_t> train, heldout;  // token streams, each document followed by `boundary`
  size_t train_documents = 0, heldout_documents = 0;
  size_t bytes = 0;
};

struct corpus_options {
  int32_t boundary = 0;           // token appended after every document
  uint64_t seed = 1;              // document shuffle
  double heldout_fraction = 0.0;  // the last documents after shuffling, kept out of training
};

// Reads the files (a missing or empty one is an error naming it), splits each into documents at
// blank lines, shuffles the documents, tokenizes them (plain text: special-token spellings are
// not specials) and concatenates them. `progress(done, total)` counts files.
corpus build_corpus(const std::vector<std::string>& files, const tokenizer& tok,
                    const corpus_options& o,
                    const std::function<void(size_t, size_t)>& progress = {});

// Sequences of seq_len + 1 tokens (inputs, and targets shifted by one) cut back to back from a
// stream, visited in a permutation drawn from (seed, epoch).
class sequence_loader {
 public:
  struct cursor {
    uint64_t epoch = 0, index = 0;
  };
  sequence_loader(const std::vector<int32_t>& stream, size_t seq_len, uint64_t seed);

  size_t sequences_per_epoch() const { return n_; }
  // The next `batch` sequences, [batch][seq_len + 1] int64; advances the cursor (into the next
  // epoch, with a new order, when this one runs out).
  torch::Tensor next_batch(size_t batch);
  cursor position() const { return at_; }
  void seek(cursor c);

 private:
  void shuffle();
  const std::vector<int32_t>& stream_;
  size_t seq_len_, n_;
  uint64_t seed_;
  cursor at_;
  std::vector<uint32_t> order_;
};

}  // namespace afm::train
