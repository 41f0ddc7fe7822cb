// The framework's model handle and session — the counterparts of the Foundation Models
// framework's SystemLanguageModel and LanguageModelSession.
//
//   auto model = afm::system_language_model::load("model.gguf");
//   if (!model->is_available()) std::cerr << model->unavailable_reason();
//   afm::language_model_session session(model, "You extract calendar events.");
//   Event e = session.respond<Event>("Flyer: Jazz night, June 3rd 8pm at the Blue Room");
//   std::string text = session.respond("Summarise it in one sentence.");
//
// With tools, each request first lets the model decide, under a grammar, on calls to the
// session's tools ({"tool_calls":[{"name":...,"arguments":{...}}]}, an empty list to answer);
// calls run in parallel, their outputs join the transcript as untrusted tool_output entries,
// and the model decides again until it answers (docs/framework.md).
//
// A session is append-only and owns a KV cache: each turn encodes the whole transcript, keeps the
// cached prefix it shares with the tokens already run, and prefills only the rest. Guided
// responses put the schema in the prompt (unless generation_options says not to) and enforce it
// with the grammar matcher; where the grammar forces the next bytes, their tokens are appended
// in one batched prefill without sampling.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "afm/chat_format.h"
#include "afm/generable.h"
#include "afm/generation_error.h"

namespace afm {

struct model;
class tokenizer;
struct token_vocabulary;
class engine;

enum class availability {
  available,
  file_missing,              // no file at the path
  file_unreadable,           // the file exists but is not a readable model (message says why)
  architecture_unsupported,  // a model file of an architecture the runtime cannot run
  no_chat_vocabulary,        // the model has no vocabulary with a chat format's special tokens
};

struct model_load_options {
  int n_threads = 0;  // 0: one per hardware thread
  size_t n_ctx = 0;   // 0: the model's context length
};

class system_language_model {
 public:
  // Never throws for a bad file: the handle reports why it is unavailable.
  static std::shared_ptr<system_language_model> load(const std::string& path,
                                                     model_load_options o = {});
  ~system_language_model();

  bool is_available() const { return status_ == availability::available; }
  availability status() const { return status_; }
  const std::string& unavailable_reason() const { return reason_; }
  size_t context_size() const;
  // Tokens of a text as a user prompt's content, and of a whole transcript in the chat format.
  size_t token_count(std::string_view text) const;
  size_t token_count(const std::vector<chat_entry>& transcript) const;

  // For the session and tools built on it.
  const afm::model& weights() const;
  const afm::tokenizer& vocab() const;
  chat_family family() const { return family_; }
  int32_t end_token() const { return end_token_; }
  const std::shared_ptr<const token_vocabulary>& mask_vocab() const { return mask_vocab_; }
  const model_load_options& options() const { return opts_; }

 private:
  system_language_model() = default;
  availability status_ = availability::available;
  std::string reason_;
  model_load_options opts_;
  std::unique_ptr<afm::model> model_;
  std::unique_ptr<afm::tokenizer> tok_;
  chat_family family_ = chat_family::afm;
  int32_t end_token_ = -1;
  std::shared_ptr<const token_vocabulary> mask_vocab_;
};

struct generation_options {
  enum class sampling { greedy, random };
  sampling mode = sampling::greedy;
  float temperature = 1.0f;  // random sampling only
  int top_k = 0;             // 0: no limit
  float top_p = 1.0f;        // 1: no limit
  uint64_t seed = 0;
  size_t maximum_response_tokens = 512;
  bool include_schema_in_prompt = true;  // guided responses: put the schema in the transcript
  // Guided responses: append the tokens of bytes the grammar forces in one batched prefill,
  // without sampling (off: every token is sampled under the mask; for comparisons).
  bool batch_forced_tokens = true;
};

// Input and output filters. Each returns a reason to refuse, or nothing. A refusal raises
// generation_error guardrail_violation. Plug in a classifier by wrapping it in a function.
struct guardrails {
  std::function<std::optional<std::string>(std::string_view prompt)> check_input{};
  std::function<std::optional<std::string>(std::string_view output)> check_output{};
  // The default: refuses prompts and outputs that contain any of the phrases (case-insensitive).
  static guardrails blocklist(std::vector<std::string> phrases);
};

// What a tool returns: text, or generated content (written into the transcript as JSON).
struct tool_output {
  std::string text;
  tool_output(std::string t) : text(std::move(t)) {}                // NOLINT: implicit on purpose
  tool_output(const char* t) : text(t) {}                           // NOLINT
  tool_output(const generated_content& c) : text(c.json.dump()) {}  // NOLINT
};

// A tool the model may call (the Foundation Models framework's Tool). parameters() is the JSON
// Schema of its arguments; the session only lets the model produce calls to tools that exist,
// with arguments that follow their schema. call() returns text or content; an exception from it
// becomes generation_error tool_call_failed with the tool's name.
class tool {
 public:
  virtual ~tool() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  virtual ordered_json parameters() const = 0;
  virtual tool_output call(const generated_content& arguments) = 0;
};

// A tool whose arguments are a Generable type.
template <class Args>
class generable_tool : public tool {
 public:
  ordered_json parameters() const override { return generation_schema::of<Args>().json; }
  tool_output call(const generated_content& arguments) override {
    return invoke(content_as<Args>(arguments));
  }
  virtual tool_output invoke(const Args& arguments) = 0;
};

struct session_config {
  std::string instructions{};
  std::vector<std::shared_ptr<tool>> tools{};
  guardrails rails{};
  size_t max_tool_rounds = 8;      // model decisions per request before it must answer
  size_t max_calls_per_round = 4;  // calls the model may make at once (run in parallel)
};

// What the last request did (for tests and benchmarks).
struct turn_stats {
  size_t prompt_tokens = 0;     // tokens of the transcript the turn ran on
  size_t prefilled_tokens = 0;  // of those, the ones not already in the KV cache
  size_t generated_tokens = 0;  // sampled tokens
  size_t forced_tokens = 0;     // tokens appended from forced continuations, without sampling
  size_t tool_calls = 0;        // tool calls the model made
  size_t tool_rounds = 0;       // decisions that called tools
};

class language_model_session {
 public:
  explicit language_model_session(std::shared_ptr<system_language_model> m,
                                  std::string instructions = {});
  language_model_session(std::shared_ptr<system_language_model> m, session_config c);
  ~language_model_session();
  language_model_session(language_model_session&&) noexcept;
  language_model_session& operator=(language_model_session&&) noexcept;

  // A text response.
  std::string respond(std::string_view prompt, const generation_options& o = {});
  // A response that follows a JSON Schema.
  generated_content respond(std::string_view prompt, const generation_schema& schema,
                            const generation_options& o = {});
  // A response converted into T (declared with AFM_GENERABLE).
  template <class T>
  T respond(std::string_view prompt, const generation_options& o = {}) {
    return content_as<T>(respond(prompt, generation_schema::of<T>(), o));
  }

  // Streaming: the callback receives the whole response so far after every token.
  std::string stream_response(std::string_view prompt,
                              const std::function<void(std::string_view so_far)>& on_snapshot,
                              const generation_options& o = {});
  generated_content stream_response(
      std::string_view prompt, const generation_schema& schema,
      const std::function<void(const generated_content&)>& on_snapshot,
      const generation_options& o = {});
  template <class T>
  T stream_response(std::string_view prompt,
                    const std::function<void(const partially_generated<T>&)>& on_snapshot,
                    const generation_options& o = {}) {
    return content_as<T>(stream_response(
        prompt, generation_schema::of<T>(),
        [&](const generated_content& c) { on_snapshot(partially_generated<T>(c.json)); }, o));
  }

  // Runs the instructions (and an optional prompt prefix) through the model now, so the
  // first response starts sooner.
  void prewarm(std::string_view prompt_prefix = {});

  const std::vector<chat_entry>& transcript() const;
  // The transcript as JSON: [{"role": "user", "content": "..."}, ...].
  std::string transcript_json() const;
  // A new session that continues a saved transcript (its KV cache fills on the first request).
  // Tools and guardrails come from `c` (its instructions are ignored: the transcript has them).
  static language_model_session restore(std::shared_ptr<system_language_model> m,
                                        std::string_view transcript_json, session_config c = {});

  bool is_responding() const;
  const turn_stats& last_turn() const;

 private:
  struct impl;
  std::unique_ptr<impl> p_;
};

// Role names used by transcript_json.
const char* to_string(chat_role r);
chat_role chat_role_from_string(std::string_view s);

}  // namespace afm
