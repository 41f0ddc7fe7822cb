// The chat format: how a transcript becomes tokens (docs/chat-format.md).
//
// Structure is spelled with reserved special tokens and content is always encoded as ordinary
// text, so a prompt or a tool's output that contains "<|user|>" cannot forge a turn: tool output
// in particular is untrusted and stays inside its own entry.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "afm/tokenizer.h"

namespace afm {

enum class chat_role {
  instructions,      // the developer's instructions (system prompt)
  tool_definitions,  // JSON array of the tools the model may call
  user,              // a user prompt
  response_schema,   // JSON Schema the next response must follow
  response,          // the model's text response
  tool_call,         // the model's call: {"name": ..., "arguments": {...}}
  tool_output,       // a tool's result (untrusted text), with tool_name set
};

struct chat_entry {
  chat_role role;
  std::string content;
  std::string tool_name;  // for tool_output
};

enum class chat_family {
  afm,     // afm's own reserved tokens (the list below)
  chatml,  // <|im_start|>role\n...<|im_end|> (Qwen and other ChatML models)
  llama3,  // <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
};

// The special tokens the AFM format reserves; `afm tokenizer train` adds them to a vocabulary.
const std::vector<std::string>& afm_chat_special_tokens();

// Encodes a transcript. With add_generation_prompt the result ends by opening a response turn.
// Throws afm::error if the tokenizer lacks one of the family's special tokens.
std::vector<int32_t> encode_chat(const tokenizer& tok, chat_family family,
                                 std::span<const chat_entry> transcript,
                                 bool add_generation_prompt);

// The same transcript as display text (special tokens spelled out), for logs and docs.
std::string render_chat(chat_family family, std::span<const chat_entry> transcript,
                        bool add_generation_prompt);

}  // namespace afm
