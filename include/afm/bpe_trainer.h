// Byte-level BPE training: learns merges from a corpus, deterministically (ties go to the
// smaller pair of token ids), and returns a tokenizer whose first 256 ids are the bytes in
// order, then one id per merge, then the reserved special tokens.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "afm/tokenizer.h"

namespace afm {

struct bpe_train_options {
  size_t vocab_size = 16384;          // including the 256 bytes and the special tokens
  std::string split = "o200k";        // pre-tokenizer (text/pretokenizer.h names)
  std::vector<std::string> specials;  // reserved at the end of the vocabulary
  uint64_t min_frequency = 2;         // stop when the best pair occurs fewer times
  int threads = 0;                    // for counting pieces; 0 = all
  // Called with (stage, done, total): "count" over corpus bytes, then "merge" over merges.
  std::function<void(const char*, size_t, size_t)> progress;
};

tokenizer train_bpe(const std::vector<std::string>& corpus_files, const bpe_train_options& o);

}  // namespace afm
