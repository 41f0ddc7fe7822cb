// afm::tokenizer — byte-level BPE, exact against the reference encoders: tiktoken rank files
// (cl100k_base, o200k_base), GPT-2's encoder.json + vocab.bpe, and the "gpt2"-model vocabularies
// inside GGUF files (pre-tokenizers gpt-2, llama-bpe, qwen2, gpt-4o); and SentencePiece BPE
// ("llama"-model GGUF vocabularies: scores, byte fallback, the leading-space rule).
//
//   auto tok = afm::tokenizer::from_tiktoken("cl100k_base.tiktoken", "cl100k_base");
//   std::vector<int32_t> ids = tok.encode("Hello world");
//   std::string text = tok.decode(ids);
//
// Any byte string encodes and decodes back to itself with byte-level BPE: invalid UTF-8 bytes
// split as single characters of no Unicode class and are encoded through their byte tokens.
// SentencePiece round-trips too (through byte fallback), except that a text's own leading space
// merges with the prefixed one and U+2581 decodes as a space, as in SentencePiece itself.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace afm {

class gguf_file;
class gguf_writer;

// What to do with special-token text (e.g. "<|endoftext|>") found in the input, as tiktoken's
// allowed_special: encode it as the special token, or as ordinary text.
enum class special_tokens { as_text, allowed };

class tokenizer {
 public:
  // A tiktoken rank file (base64 token, space, rank per line) with its pre-tokenizer name
  // ("cl100k_base", "o200k_base", "gpt2"...) and special tokens (text -> id).
  static tokenizer from_tiktoken(const std::string& path, const std::string& split,
                                 const std::vector<std::pair<std::string, int32_t>>& specials = {});
  // ../shared/vocab-style layout: NAME.tiktoken plus NAME.special.json in `dir`.
  static tokenizer from_tiktoken_dir(const std::string& dir, const std::string& name);
  // GPT-2's encoder.json and vocab.bpe.
  static tokenizer from_gpt2(const std::string& encoder_json, const std::string& vocab_bpe);
  // The tokenizer.ggml.* vocabulary of a GGUF file (model "gpt2").
  static tokenizer from_gguf(const gguf_file& f);
  // A vocabulary file written by save() (the format `afm tokenizer train` writes).
  static tokenizer load(const std::string& path);
  // Any of the above by path: NAME.tiktoken (NAME.special.json beside it is read too), a .gguf
  // file, a directory holding encoder.json and vocab.bpe, or an afm vocabulary (.json).
  static tokenizer open(const std::string& path);

  std::vector<int32_t> encode(std::string_view text,
                              special_tokens special = special_tokens::as_text) const;
  void encode(std::string_view text, special_tokens special, std::vector<int32_t>& out) const;
  // Throws afm::error for an id outside the vocabulary.
  std::string decode(std::span<const int32_t> ids) const;
  // The bytes of one token.
  std::string_view token_bytes(int32_t id) const;

  size_t vocab_size() const;
  const std::vector<std::pair<std::string, int32_t>>& specials() const;
  int32_t special_id(std::string_view text) const;  // -1 if absent
  const std::string& split_name() const;

  // Writes the vocabulary (tokens with their merge ranks, specials, pre-tokenizer) as JSON.
  void save(const std::string& path) const;
  // Adds the vocabulary to a model file as llama.cpp's tokenizer.ggml.* keys, so from_gguf reads
  // it back: model "gpt2" (tokens in GPT-2's byte spelling, merges rebuilt from the ranks) for
  // byte-level BPE, model "llama" (pieces, scores, types) for SentencePiece.
  void write_gguf(gguf_writer& w) const;

  // Builds a tokenizer from token byte strings (index = id), the merge rank of each token
  // (-1 for tokens no merge produces: single bytes, specials), and specials.
  // A SentencePiece BPE vocabulary: piece texts (U+2581 for spaces), scores, GGUF token types
  // (1 normal, 3 control, 6 byte <0xXX>, ...), and whether a space is prefixed to the text.
  static tokenizer build_sentencepiece(std::vector<std::string> pieces, std::vector<float> scores,
                                       std::vector<int32_t> types, bool add_space_prefix);
  static tokenizer build(std::vector<std::string> tokens, std::vector<int32_t> ranks,
                         const std::string& split,
                         std::vector<std::pair<std::string, int32_t>> specials);

 private:
  void encode_ordinary(std::string_view text, bool first, std::vector<int32_t>& out) const;
  void encode_sentencepiece(std::string_view text, bool first, std::vector<int32_t>& out) const;
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
  struct data;  // immutable after construction, shared by copies
  explicit tokenizer(std::shared_ptr<const data> d) : d_(std::move(d)) {}
  std::shared_ptr<const data> d_;
};

}  // namespace afm
