// Pre-tokenizers: split text into the pieces BPE runs on, exactly as each encoding's split
// regex does (JavaScript semantics, as js-tiktoken runs them). Each pattern is hand-compiled into
// a matcher over decoded characters; the comments in pretokenizer.cc give the regex each
// branch implements and its backtracking.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace afm::text {

enum class split_pattern : uint8_t {
  gpt2,    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  cl100k,  // cl100k_base; also GGUF "llama-bpe" (Llama 3)
  qwen2,   // cl100k with single digits (GGUF "qwen2")
  o200k,   // o200k_base: case-aware words with attached contractions
};

// Parses a name: "gpt2"/"gpt-2", "cl100k"/"cl100k_base"/"llama-bpe"/"llama3", "qwen2",
// "o200k"/"o200k_base". Throws afm::error for others.
split_pattern parse_split_pattern(const std::string& name);

// Appends the end offset (in bytes) of each piece of `s` to `ends`; pieces are contiguous, so
// piece i is [ends[i-1], ends[i]) with ends[-1] = 0.
void split(split_pattern p, std::string_view s, std::vector<uint32_t>& ends);

}  // namespace afm::text
