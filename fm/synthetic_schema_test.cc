// The synthetic training tasks (include/afm/synthetic_tasks.h) against the framework: every
// training answer is a response guided generation can produce under the task's schema, the
// event task's schema is the one examples/flyer_event.cc's struct generates, and transcripts
// have the shape a session builds.
#include <gtest/gtest.h>

#include <set>

#include "afm/error.h"
#include "afm/grammar.h"
#include "afm/synthetic_tasks.h"
#include "examples/calendar_event.h"

namespace afm {
namespace {

TEST(SyntheticTasks, EventSchemaIsTheFlyerExamplesStruct) {
  rng g(1);
  const task_example e = make_task_example(synthetic_task::event_extraction, g);
  EXPECT_EQ(e.schema, generation_schema::of<calendar_event>().json.dump());
}

TEST(SyntheticTasks, AnswersFollowTheirSchemas) {
  rng g(3);
  const auto tools = synthetic_tool_definitions();
  for (synthetic_task t : all_synthetic_tasks()) {
    SCOPED_TRACE(to_string(t));
    std::set<std::string> prompts;
    for (int i = 0; i < 200; ++i) {
      const task_example e = make_task_example(t, g);
      prompts.insert(e.prompt);
      if (t == synthetic_task::tool_call) {
        ASSERT_EQ(e.answer["tool_calls"].size(), 1u);
        const auto& call = e.answer["tool_calls"][0];
        bool found = false;
        for (const auto& d : tools) {
          if (d["name"] != call["name"]) continue;
          found = true;
          EXPECT_TRUE(grammar_accepts(*compile_json_schema(d["parameters"].dump()),
                                      call["arguments"].dump()))
              << call.dump();
        }
        EXPECT_TRUE(found) << call.dump();
        const auto ts = e.training_transcripts();
        ASSERT_EQ(ts.size(), 2u);  // the decision, then the answer after the tool's output
        EXPECT_EQ(ts[0].back().content, e.answer.dump());
        EXPECT_EQ(ts[1][ts[1].size() - 2].role, chat_role::tool_output);
        EXPECT_EQ(ts[1].back().content, e.final_response);
      } else {
        EXPECT_TRUE(grammar_accepts(*compile_json_schema(e.schema), e.answer.dump()))
            << e.answer.dump();
        const auto ts = e.training_transcripts();
        ASSERT_EQ(ts.size(), 1u);
        EXPECT_EQ(ts[0][2].role, chat_role::response_schema);
        EXPECT_EQ(ts[0].back().role, chat_role::response);
      }
    }
    EXPECT_GT(prompts.size(), 100u);  // the templates do vary
  }
  EXPECT_THROW(synthetic_task_from_string("poetry"), error);
}

TEST(SyntheticTasks, TheSameSeedDrawsTheSameExamples) {
  rng a(11), b(11);
  for (int i = 0; i < 20; ++i) {
    const auto t = all_synthetic_tasks()[static_cast<size_t>(i) % 4];
    EXPECT_EQ(make_task_example(t, a).prompt, make_task_example(t, b).prompt);
  }
}

}  // namespace
}  // namespace afm
