// afm eval: accuracy on held-out synthetic tasks (include/afm/synthetic_tasks.h) through the
// framework, as an app would run them: a session with the task's instructions answers under
// the task's schema with guided generation; the tool task gets the weather and calendar tools
// and one tool round. Examples whose prompt occurs in the training draw are skipped, so every
// scored example is unseen.
#include <cstdio>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "afm/error.h"
#include "afm/session.h"
#include "afm/synthetic_tasks.h"
#include "tools/afm/commands.h"
#include "tools/afm/progress.h"

namespace afm::cli {
namespace {

using nlohmann::ordered_json;

// A tool that records the arguments it is called with and answers with the example's output.
class recording_tool : public tool {
 public:
  recording_tool(ordered_json definition, std::string output)
      : def_(std::move(definition)), output_(std::move(output)) {}
  std::string name() const override { return def_["name"]; }
  std::string description() const override { return def_["description"]; }
  ordered_json parameters() const override { return def_["parameters"]; }
  tool_output call(const generated_content& arguments) override {
    calls.push_back({{"name", name()}, {"arguments", arguments.json}});
    return output_;
  }
  std::vector<ordered_json> calls;

 private:
  ordered_json def_;
  std::string output_;
};

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Unigram F1 between two sentences (multiset overlap).
double word_f1(const std::string& got, const std::string& want) {
  std::vector<std::string> a = words(got), b = words(want);
  if (a.empty() || b.empty()) return 0;
  std::multiset<std::string> bs(b.begin(), b.end());
  double common = 0;
  for (const std::string& w : a) {
    auto it = bs.find(w);
    if (it != bs.end()) ++common, bs.erase(it);
  }
  if (common == 0) return 0;
  const double p = common / static_cast<double>(a.size()),
               r = common / static_cast<double>(b.size());
  return 2 * p * r / (p + r);
}

// Fraction of the answer's fields (or, for a tool call, of name and arguments) that match.
double field_score(const ordered_json& got, const ordered_json& want) {
  if (!got.is_object()) return 0;
  double n = 0, right = 0;
  for (const auto& [k, v] : want.items()) {
    ++n;
    if (got.contains(k) && got[k] == v) ++right;
  }
  return n > 0 ? right / n : 0;
}

struct task_result {
  size_t n = 0, exact = 0, failed = 0;
  double fields = 0, f1 = 0;
};

}  // namespace

void add_eval(CLI::App& app) {
  struct opts {
    std::string model, tasks = "event,arithmetic,tool,summary";
    size_t n = 50, show = 0, exclude_per_task = kTrainingPerTask;
    uint64_t seed = kEvalSeed, exclude_seed = kTrainingSeed;
    int threads = 0;
    bool json_out = false, forced_batching = false;
  };
  auto o = std::make_shared<opts>();
  CLI::App* c = app.add_subcommand(
      "eval",
      "Accuracy on held-out synthetic tasks (event extraction, arithmetic, tool calls,\n"
      "summaries) through sessions with guided generation, greedy decoding. Examples whose\n"
      "prompt is in the training draw (--exclude-seed, --exclude-per-task: the recipe's\n"
      "data.synthetic) are skipped.");
  c->add_option("-m,--model", o->model, "Model file (GGUF with an afm chat vocabulary)")
      ->required();
  c->add_option("--tasks", o->tasks, "Comma-separated tasks: event, arithmetic, tool, summary");
  c->add_option("-n,--n", o->n, "Examples per task")->check(CLI::PositiveNumber);
  c->add_option("--seed", o->seed, "Seed of the evaluation draw");
  c->add_option("--exclude-seed", o->exclude_seed, "Seed of the training draw to exclude");
  c->add_option("--exclude-per-task", o->exclude_per_task,
                "Examples per task in the training draw (0: exclude nothing)");
  c->add_option("--show", o->show, "Print the first N examples of each task with the response");
  c->add_option("-t,--threads", o->threads, "Threads (0: all)");
  c->add_flag("--json", o->json_out, "Print the results as JSON");
  c->add_flag("--forced-batching", o->forced_batching,
              "Append grammar-forced bytes as one tokenized run (the session default) instead of "
              "sampling every token under the mask; the forced run can split tokens differently "
              "from training text");
  c->callback([o] {
    std::vector<synthetic_task> tasks;
    std::stringstream ss(o->tasks);
    for (std::string t; std::getline(ss, t, ',');) tasks.push_back(synthetic_task_from_string(t));
    auto model = system_language_model::load(o->model, {.n_threads = o->threads});
    if (!model->is_available()) fail(o->model, ": ", model->unavailable_reason());

    ordered_json results = ordered_json::object();
    for (synthetic_task task : tasks) {
      task_result r;
      size_t skipped = 0;
      const std::vector<task_example> examples = heldout_task_examples(
          task, o->n, o->seed, o->exclude_seed, o->exclude_per_task, &skipped);
      progress_bar bar(std::string("afm eval: ") + to_string(task));
      for (const task_example& e : examples) {
        ++r.n;
        generation_options go;
        go.maximum_response_tokens = 160;
        go.batch_forced_tokens = o->forced_batching;
        ordered_json got;
        try {
          if (task == synthetic_task::tool_call) {
            session_config sc;
            sc.instructions = e.instructions;
            sc.max_tool_rounds = 1;  // the model was trained on single-round tool use
            std::vector<recording_tool*> recorders;
            for (const auto& d : synthetic_tool_definitions()) {
              auto t = std::make_shared<recording_tool>(d, e.tool_output);
              recorders.push_back(t.get());
              sc.tools.push_back(t);
            }
            language_model_session s(model, sc);
            go.maximum_response_tokens = 48;
            const std::string answer = s.respond(e.prompt, go);
            got = {{"tool_calls", ordered_json::array()}};
            for (recording_tool* t : recorders)
              for (const auto& call : t->calls) got["tool_calls"].push_back(call);
            if (r.n <= o->show) std::printf("  final answer: %s\n", answer.c_str());
          } else {
            language_model_session s(model, e.instructions);
            got = s.respond(e.prompt, generation_schema{ordered_json::parse(e.schema)}, go).json;
          }
        } catch (const generation_error& err) {
          ++r.failed;
          got = {{"error", err.what()}};
        }
        const bool exact = got == e.answer;
        r.exact += exact;
        if (task == synthetic_task::tool_call) {
          const auto& calls = got.value("tool_calls", ordered_json::array());
          r.fields += calls.size() == 1 ? field_score(calls[0], e.answer["tool_calls"][0]) : 0;
        } else {
          r.fields += field_score(got, e.answer);
        }
        if (task == synthetic_task::summary)
          r.f1 += word_f1(got.value("summary", std::string()), e.answer["summary"]);
        if (r.n <= o->show)
          std::printf("[%s %zu] %s\n  prompt:   %s\n  response: %s\n  expected: %s\n",
                      to_string(task), r.n, exact ? "RIGHT" : "WRONG", e.prompt.c_str(),
                      got.dump().c_str(), e.answer.dump().c_str());
        bar.update(r.n, o->n);
      }
      const double n = static_cast<double>(r.n);
      ordered_json j = {{"examples", r.n},
                        {"exact", r.exact / n},
                        {"fields", r.fields / n},
                        {"failed", r.failed},
                        {"skipped_as_seen_in_training", skipped}};
      if (task == synthetic_task::summary) j["word_f1"] = r.f1 / n;
      results[to_string(task)] = j;
    }
    if (o->json_out) {
      std::printf("%s\n", results.dump(2).c_str());
      return;
    }
    std::printf("%-11s %8s %8s %8s %8s %8s\n", "task", "n", "exact", "fields", "word F1", "failed");
    for (const auto& [name, j] : results.items()) {
      std::printf(
          "%-11s %8zu %7.1f%% %7.1f%% %8s %8zu\n", name.c_str(), j["examples"].get<size_t>(),
          100 * j["exact"].get<double>(), 100 * j["fields"].get<double>(),
          j.contains("word_f1")
              ? (std::to_string(static_cast<int>(100 * j["word_f1"].get<double>())) + "%").c_str()
              : "-",
          j["failed"].get<size_t>());
    }
  });
}

}  // namespace afm::cli
