// Synthetic supervised tasks in the chat format (training issue; the report trains on synthetic
// data the same way): each example is a transcript the framework itself would build — the same
// instructions, response schema, tool definitions and tool-decision JSON a session puts in the
// prompt — plus the answer that scores a model's response.
//
//   afm::rng g(7);
//   afm::task_example e = afm::make_task_example(afm::synthetic_task::event_extraction, g);
//   for (const auto& t : e.training_transcripts()) ...  // each ends with a response to learn
//   // evaluation: a session with e.instructions (and e.tools) answers e.prompt under e.schema;
//   // the response is right when it equals e.answer.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "afm/chat_format.h"
#include "afm/rng.h"

namespace afm {

enum class synthetic_task {
  event_extraction,  // flyer text -> {title, date (YYYY-MM-DD), time (HH:MM), location}
  arithmetic,        // a word problem -> {equation, answer}
  tool_call,         // a request -> a call to the weather or calendar tool with JSON arguments
  summary,           // a templated paragraph -> {summary} in one sentence
};

const std::vector<synthetic_task>& all_synthetic_tasks();
const char* to_string(synthetic_task t);
// Throws afm::error naming the known tasks.
synthetic_task synthetic_task_from_string(const std::string& name);

struct task_example {
  synthetic_task task = synthetic_task::event_extraction;
  std::string instructions;
  std::string prompt;  // the user's message
  // The response schema (compact JSON, as a session writes it), or empty for tool_call, whose
  // response is the session's tool decision.
  std::string schema;
  // tool_call only: the tool definitions (as a session writes them), the tool's output and the
  // final answer written after it.
  std::string tools, tool_output, final_response;
  // The right response: the object (event, arithmetic, summary), or the decision
  // {"tool_calls":[{"name":..., "arguments":{...}}]} (tool_call).
  nlohmann::ordered_json answer;

  // Transcripts that each end with a response the model should learn, as a session builds them:
  // one for a guided task; for tool_call two — the decision after the request, then the final
  // answer after the call and its output (a session keeps no decision text in its transcript).
  std::vector<std::vector<chat_entry>> training_transcripts() const;
};

// One example drawn from g. Every task draws from several templates with random slots.
task_example make_task_example(synthetic_task t, rng& g);

// The draws the project uses: the default model's recipes train on the first
// kTrainingPerTask examples per task from kTrainingSeed; afm eval and afm perplexity score
// examples from kEvalSeed that are not among them.
inline constexpr uint64_t kTrainingSeed = 7, kEvalSeed = 1000;
inline constexpr size_t kTrainingPerTask = 6000;

// n examples of task t drawn from seed, skipping any whose prompt is among the first
// exclude_per_task examples per task of the draw from exclude_seed (the training draw), so every
// returned example is unseen in training. `skipped` (optional) counts the examples passed over.
std::vector<task_example> heldout_task_examples(synthetic_task t, size_t n, uint64_t seed,
                                                uint64_t exclude_seed, size_t exclude_per_task,
                                                size_t* skipped = nullptr);

// The weather and calendar tools' definitions, as a session's tool_definitions entry holds
// them: [{"name", "description", "parameters"}, ...].
nlohmann::ordered_json synthetic_tool_definitions();

}  // namespace afm
