// afm::grammar_matcher — constrained decoding: which tokens may come next under a grammar.
//
//   auto vocab = afm::token_vocabulary::build(token_bytes, /*eos=*/{eos_id}, /*excluded=*/{});
//   afm::grammar_matcher m(afm::compile_json_schema(schema), vocab);
//   std::vector<uint32_t> mask(vocab->mask_words());
//   while (true) {
//     m.fill_next_token_mask(mask);     // bit t of mask = token t allowed
//     int32_t t = sample_under(mask);   // the caller's sampler
//     if (!m.accept_token(t) || m.is_terminated()) break;
//   }
//
// How masks are made fast (docs/guided.md): a token is context-independent at a grammar state
// when its bytes are accepted or rejected without leaving the current rule; those verdicts
// are computed once per state (lazily, then cached in token_masks and shared by every matcher
// on the same grammar and vocabulary). Only the few tokens that run past the rule's end are
// checked against the live parse stack each step. Tokens made only of plain JSON-string
// characters are grouped into precomputed "slice" bitsets by length, so states inside strings
// add them with one bitset OR instead of walking them.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "afm/grammar.h"

namespace afm {

// A byte trie in preorder: node i has byte[i], depth[i] (1 for the root's children), the end of
// its subtree end[i], and token[i] (a token whose bytes end here, or -1; equal-byte tokens
// chain through token_vocabulary::same_bytes).
struct token_trie {
  std::vector<uint8_t> byte;
  std::vector<uint16_t> depth;
  std::vector<int32_t> end;
  std::vector<int32_t> token;
  int32_t max_depth = 0;
};

struct token_vocabulary {
  // token_bytes[i] are token i's bytes. eos tokens are allowed exactly when the grammar is
  // complete; excluded tokens (other control tokens, empty tokens) are never allowed.
  static std::shared_ptr<const token_vocabulary> build(std::vector<std::string> token_bytes,
                                                       std::vector<int32_t> eos,
                                                       std::vector<int32_t> excluded);

  int32_t size = 0;
  std::vector<std::string> bytes;
  std::vector<int32_t> eos;
  std::vector<uint8_t> excluded;
  std::vector<int32_t> same_bytes;  // next token with identical bytes, or -1
  token_trie all;                   // every grammar-visible token
  token_trie unsliced;              // those not in the string slice
  // The string slice: tokens that are whole UTF-8 text of code points >= U+0020 other than
  // '"' and '\'. slice_chars[t] = its code point count, 0 if not in the slice.
  std::vector<uint16_t> slice_chars;
  static constexpr int kSliceBuckets = 16;
  std::vector<std::vector<uint32_t>> slice_upto;  // [k]: slice tokens with <= k chars, k<=16
  std::vector<uint32_t> slice_all;
  std::vector<int32_t> slice_long;  // slice tokens with > 16 chars, by char count
  int32_t slice_max_chars = 0;
  std::array<int32_t, 256> single_byte{};  // the token that is exactly this byte, or -1

  size_t mask_words() const { return (static_cast<size_t>(size) + 31) / 32; }
};

// Per-state token verdicts of one grammar over one vocabulary, filled on first use and shared
// by matchers (thread-safe).
class token_masks {
 public:
  token_masks(std::shared_ptr<const grammar> g, std::shared_ptr<const token_vocabulary> v);
  ~token_masks();
  const grammar& grammar_ref() const { return *g_; }
  const token_vocabulary& vocab() const { return *v_; }
  struct entry;
  const entry& at(int32_t state);
  size_t states_filled() const { return filled_; }

 private:
  std::shared_ptr<const grammar> g_;
  std::shared_ptr<const token_vocabulary> v_;
  struct state_facts;
  std::unique_ptr<const state_facts> facts_;
  friend class grammar_matcher;
  std::vector<std::unique_ptr<entry>> entries_;
  std::mutex mu_;
  size_t filled_ = 0;
};

class grammar_matcher {
 public:
  grammar_matcher(std::shared_ptr<const grammar> g, std::shared_ptr<const token_vocabulary> v);
  explicit grammar_matcher(std::shared_ptr<token_masks> masks);
  ~grammar_matcher();
  grammar_matcher(grammar_matcher&&) noexcept;

  // Sets bit t (mask[t / 32] >> (t % 32)) for every token allowed next; mask needs
  // vocab.mask_words() words. EOS bits are set only when the grammar is complete.
  void fill_next_token_mask(std::span<uint32_t> mask);
  // Advances by one token. Returns false, leaving the state unchanged, if it is not allowed.
  bool accept_token(int32_t token);
  // Advances by raw bytes (counts as one step for rollback). False and unchanged if rejected.
  bool accept_bytes(std::string_view bytes);
  // Undoes the last k accepted steps (tokens or accept_bytes calls).
  void rollback(size_t k);
  void reset();
  size_t steps() const;

  // The grammar may end here (EOS is allowed).
  bool can_end() const;
  // Ended: EOS was accepted, or the grammar is complete and no byte may follow.
  bool is_terminated() const;
  // The bytes that must come next when exactly one byte sequence can follow (stops where a
  // choice, or the end, becomes possible). Empty if the next byte is not forced.
  std::string forced_continuation() const;
  // Fewest bytes that complete the grammar from here (a guide for samplers and tests).
  int64_t distance_to_end() const;

  const token_masks& masks() const { return *masks_; }

 private:
  struct impl;
  std::shared_ptr<token_masks> masks_;
  std::unique_ptr<impl> p_;
};

}  // namespace afm
