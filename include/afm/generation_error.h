// afm::generation_error — the typed errors of the framework (fm/), the counterparts of the
// Foundation Models framework's LanguageModelSession.GenerationError and ToolCallError.
// Each carries a kind and a message; all derive from afm::error, so nothing aborts.
#pragma once

#include <string>

#include "afm/error.h"

namespace afm {

enum class generation_error_kind {
  exceeded_context_window_size,  // the prompt plus the response would not fit the context
  guardrail_violation,           // a guardrail refused the prompt or the output
  decoding_failure,              // the output could not be turned into the requested type
  unsupported_guide,             // a guide that does not fit its field's type
  concurrent_requests,           // a second request while the session is responding
  tool_call_failed,              // a tool threw; tool_name says which
  unavailable,                   // the model handle is not available (see its reason)
};

const char* to_string(generation_error_kind k);

class generation_error : public error {
 public:
  generation_error(generation_error_kind kind, const std::string& message,
                   std::string tool_name = {})
      : error(std::string(to_string(kind)) + ": " + message),
        kind_(kind),
        tool_name_(std::move(tool_name)) {}
  generation_error_kind kind() const { return kind_; }
  // The tool whose call failed (tool_call_failed), else empty.
  const std::string& tool_name() const { return tool_name_; }

 private:
  generation_error_kind kind_;
  std::string tool_name_;
};

}  // namespace afm
