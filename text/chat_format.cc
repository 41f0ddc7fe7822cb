// Chat templates. Each family is a list of (special token | text) segments per entry; encoding
// maps special segments to their ids and encodes text segments with special tokens off.
#include "afm/chat_format.h"

#include "afm/error.h"

namespace afm {
namespace {

struct segment {
  bool special;
  std::string text;
};

const char* afm_tag(chat_role r) {
  switch (r) {
    case chat_role::instructions:
      return "<|instructions|>";
    case chat_role::tool_definitions:
      return "<|tools|>";
    case chat_role::user:
      return "<|user|>";
    case chat_role::response_schema:
      return "<|schema|>";
    case chat_role::response:
      return "<|response|>";
    case chat_role::tool_call:
      return "<|tool_call|>";
    case chat_role::tool_output:
      return "<|tool_output|>";
  }
  return "";
}

// ChatML and Llama 3 have fewer roles: schemas and tool definitions go into the system turn,
// tool calls into the assistant's, tool outputs into a "tool" turn.
const char* family_role(chat_role r) {
  switch (r) {
    case chat_role::instructions:
    case chat_role::tool_definitions:
    case chat_role::response_schema:
      return "system";
    case chat_role::user:
      return "user";
    case chat_role::response:
    case chat_role::tool_call:
      return "assistant";
    case chat_role::tool_output:
      return "tool";
  }
  return "";
}

std::string body(const chat_entry& e, chat_family f) {
  if (f == chat_family::afm) {
    return e.role == chat_role::tool_output ? e.tool_name + "\n" + e.content : e.content;
  }
  switch (e.role) {
    case chat_role::tool_definitions:
      return "Tools you can call (JSON):\n" + e.content;
    case chat_role::response_schema:
      return "Respond with JSON that follows this schema:\n" + e.content;
    case chat_role::tool_call:
      return "<tool_call>\n" + e.content + "\n</tool_call>";
    case chat_role::tool_output:
      return "<tool_response name=\"" + e.tool_name + "\">\n" + e.content + "\n</tool_response>";
    default:
      return e.content;
  }
}

std::vector<segment> segments(chat_family f, std::span<const chat_entry> t, bool gen) {
  std::vector<segment> s;
  switch (f) {
    case chat_family::afm:
      s.push_back({true, "<|bos|>"});
      for (const auto& e : t) {
        s.push_back({true, afm_tag(e.role)});
        s.push_back({false, body(e, f)});
        s.push_back({true, "<|end|>"});
      }
      if (gen) s.push_back({true, "<|response|>"});
      break;
    case chat_family::chatml:
      for (const auto& e : t) {
        s.push_back({true, "<|im_start|>"});
        s.push_back({false, std::string(family_role(e.role)) + "\n" + body(e, f)});
        s.push_back({true, "<|im_end|>"});
        s.push_back({false, "\n"});
      }
      if (gen) {
        s.push_back({true, "<|im_start|>"});
        s.push_back({false, "assistant\n"});
      }
      break;
    case chat_family::llama3:
      s.push_back({true, "<|begin_of_text|>"});
      for (const auto& e : t) {
        s.push_back({true, "<|start_header_id|>"});
        s.push_back({false, family_role(e.role)});
        s.push_back({true, "<|end_header_id|>"});
        s.push_back({false, "\n\n" + body(e, f)});
        s.push_back({true, "<|eot_id|>"});
      }
      if (gen) {
        s.push_back({true, "<|start_header_id|>"});
        s.push_back({false, "assistant"});
        s.push_back({true, "<|end_header_id|>"});
        s.push_back({false, "\n\n"});
      }
      break;
  }
  return s;
}

}  // namespace

const std::vector<std::string>& afm_chat_special_tokens() {
  static const std::vector<std::string> t = {
      "<|bos|>",    "<|eos|>",      "<|end|>",       "<|instructions|>", "<|tools|>", "<|user|>",
      "<|schema|>", "<|response|>", "<|tool_call|>", "<|tool_output|>",  "<|pad|>",
  };
  return t;
}

std::vector<int32_t> encode_chat(const tokenizer& tok, chat_family family,
                                 std::span<const chat_entry> transcript,
                                 bool add_generation_prompt) {
  std::vector<int32_t> out;
  for (const segment& s : segments(family, transcript, add_generation_prompt)) {
    if (s.special) {
      const int32_t id = tok.special_id(s.text);
      if (id < 0)
        fail("the vocabulary has no special token ", s.text, " that this chat format needs");
      out.push_back(id);
    } else {
      tok.encode(s.text, special_tokens::as_text, out);
    }
  }
  return out;
}

std::string render_chat(chat_family family, std::span<const chat_entry> transcript,
                        bool add_generation_prompt) {
  std::string out;
  for (const segment& s : segments(family, transcript, add_generation_prompt)) out += s.text;
  return out;
}

}  // namespace afm
