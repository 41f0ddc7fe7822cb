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

#include "afm/chat_format.h"
#include "afm/tokenizer.h"

namespace afm::train {

// A token stream and, per token, whether predicting it counts in the loss (1) or not (0): the
// prompt side of a chat transcript does not count in SFT.
struct token_stream {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> counts;
  void append(const std::vector<int32_t>& t, const std::vector<uint8_t>& c);
};

struct corpus {
  token_stream train, heldout;  // each document followed by `boundary`
  size_t train_documents = 0, heldout_documents = 0;
  size_t bytes = 0;
};

// A document already in tokens (a chat transcript), with its loss mask (same length).
struct token_document {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> counts;
};

// A chat transcript (AFM format) as a training document: every token, with only the last
// entry — the response to learn — and its closing token counted in the loss.
token_document chat_document(const tokenizer& tok, const std::vector<chat_entry>& transcript);

struct corpus_options {
  int32_t boundary = 0;           // token appended after every document
  uint64_t seed = 1;              // document shuffle
  double heldout_fraction = 0.0;  // the last documents after shuffling, kept out of training
  // Documents in tokens, shuffled in with the files' documents.
  std::vector<token_document> token_documents = {};
  // When > 0 (a sequence's length, seq_len + 1): a token document that would straddle a multiple
  // of `align` starts at the next one instead, the gap filled with uncounted boundary tokens, so
  // a chat transcript is trained with its whole prompt in view.
  size_t align = 0;
};

// Reads the files (a missing or empty one is an error naming it), splits each into documents at
// blank lines and shuffles them; the last heldout_fraction of them is the held-out stream. The
// rest, tokenized (plain text: special-token spellings are not specials), are shuffled together
// with o.token_documents into the training stream. Text counts in the loss everywhere.
// `progress(done, total)` counts files.
corpus build_corpus(const std::vector<std::string>& files, const tokenizer& tok,
                    const corpus_options& o,
                    const std::function<void(size_t, size_t)>& progress = {});

// A batch of sequences: tokens [B][seq_len + 1] int64 (inputs, and targets shifted by one) and
// counts [B][seq_len + 1] float, 1 where predicting that token counts in the loss.
struct batch {
  torch::Tensor tokens, counts;
};

// Sequences of seq_len + 1 tokens cut back to back from a stream, visited in a permutation
// drawn from (seed, epoch).
class sequence_loader {
 public:
  struct cursor {
    uint64_t epoch = 0, index = 0;
  };
  sequence_loader(const token_stream& stream, size_t seq_len, uint64_t seed);

  size_t sequences_per_epoch() const { return n_; }
  // The next `n` sequences; advances the cursor (into the next epoch, with a new order, when
  // this one runs out).
  batch next_batch(size_t n);
  cursor position() const { return at_; }
  void seek(cursor c);

 private:
  void shuffle();
  const token_stream& stream_;
  size_t seq_len_, n_;
  uint64_t seed_;
  cursor at_;
  std::vector<uint32_t> order_;
};

}  // namespace afm::train
