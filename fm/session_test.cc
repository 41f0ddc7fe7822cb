// Sessions on a tiny random-weight AFM model with a small trained vocabulary: guided outputs
// always convert, snapshots only grow, the KV cache is reused across turns, transcripts
// round-trip, and every error kind is raised where it should be.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

#include <unistd.h>

#include "afm/bpe_trainer.h"
#include "afm/gguf.h"
#include "afm/model.h"
#include "afm/session.h"
#include "afm/thread_pool.h"
#include "model/tiny_model_test_util.h"

namespace fmtest {
struct person {
  std::string name;
  int age;
  std::vector<std::string> pets;
};
struct tree {
  std::string label;
  std::vector<tree> kids;
};
struct city_args {
  std::string city;
};
struct day_args {
  int day;
};
}  // namespace fmtest
AFM_GENERABLE(fmtest::city_args, "Where",
              AFM_FIELD(city, "City", afm::guides::any_of({"Oslo", "Rome"})));
AFM_GENERABLE(fmtest::day_args, "When", AFM_FIELD(day, "Day of month", afm::guides::range(1, 28)));
AFM_GENERABLE(fmtest::person, "A person",
              AFM_FIELD(name, "Full name", afm::guides::pattern("^[A-Z][a-z]{1,6}$")),
              AFM_FIELD(age, "Age in years", afm::guides::range(0, 120)),
              AFM_FIELD(pets, "Pet kinds", afm::guides::max_count(2),
                        afm::guides::any_of({"cat", "dog"})));
AFM_GENERABLE(fmtest::tree, "A small tree",
              AFM_FIELD(label, "Label", afm::guides::any_of({"a", "b"})),
              AFM_FIELD(kids, "Children", afm::guides::max_count(1)));

namespace afm {
namespace {

// ctest runs each test in its own process, in parallel: every file gets this process's id, and
// the files go when the process's tests end.
std::vector<std::string>& temp_files() {
  static std::vector<std::string> files;
  return files;
}
std::string temp_path(const std::string& name) {
  temp_files().push_back(::testing::TempDir() + "afm_" + std::to_string(getpid()) + "_" + name);
  return temp_files().back();
}
struct remove_temp_files : ::testing::Environment {
  void TearDown() override {
    for (const std::string& f : temp_files()) std::remove(f.c_str());
  }
};
[[maybe_unused]] auto* const cleanup = ::testing::AddGlobalTestEnvironment(new remove_temp_files);

// A small corpus of prose and JSON that test vocabularies are trained on.
std::string test_corpus() {
  const std::string path = temp_path("corpus.txt");
  std::ofstream out(path);
  for (int i = 0; i < 300; ++i) {
    out << "The cat and the dog went out on day " << i << ". {\"name\":\"Ann\",\"age\":" << i % 90
        << ",\"pets\":[\"cat\",\"dog\"]} Hello world, what is the weather today?\n";
  }
  return path;
}

// A random-weight model of config `c` with a 420-token vocabulary reserving `specials`.
std::string write_chat_model(model_config c, std::vector<std::string> specials,
                             const std::string& name) {
  bpe_train_options o;
  o.vocab_size = 420;
  o.specials = std::move(specials);
  o.threads = 1;
  const tokenizer tok = train_bpe({test_corpus()}, o);
  c.name = name;
  c.n_vocab = static_cast<int32_t>(tok.vocab_size());
  c.n_ctx = 1024;
  const std::string file = temp_path(name + ".gguf");
  thread_pool pool(2);
  create_random_model(c, {.type = dtype::f32, .seed = 11, .std = 0.5}, file, pool, {},
                      [&](gguf_writer& w) { tok.write_gguf(w); });
  return file;
}

std::string write_chat_model(const std::string& arch, std::vector<std::string> specials, int layers,
                             double shared_fraction, const std::string& name) {
  model_config c = testing::tiny_config(shared_fraction);
  c.arch = arch;
  c.n_layers = layers;
  set_default_kv_sources(c);
  return write_chat_model(c, std::move(specials), name);
}

// The AFM-format test model; built once.
const std::string& tiny_chat_model() {
  static const std::string path =
      write_chat_model("afm", afm_chat_special_tokens(), 4, 0.25, "fm_tiny");
  return path;
}

std::shared_ptr<system_language_model> model() {
  static auto m = system_language_model::load(tiny_chat_model(), {.n_threads = 2});
  return m;
}

generation_options sampled(uint64_t seed) {
  generation_options o;
  o.mode = generation_options::sampling::random;
  o.seed = seed;
  o.maximum_response_tokens = 300;
  return o;
}

generation_error_kind kind_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const generation_error& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no generation_error";
  return generation_error_kind::unavailable;
}

TEST(Model, Availability) {
  EXPECT_TRUE(model()->is_available()) << model()->unavailable_reason();
  EXPECT_EQ(model()->context_size(), 1024u);
  EXPECT_GT(model()->token_count("Hello world"), 0u);
  EXPECT_EQ(system_language_model::load(::testing::TempDir() + "none.gguf")->status(),
            availability::file_missing);
  const std::string text = temp_path("text.gguf");
  std::ofstream(text) << "not a model";
  auto bad = system_language_model::load(text);
  EXPECT_EQ(bad->status(), availability::file_unreadable);
  EXPECT_NE(bad->unavailable_reason().find("GGUF"), std::string::npos) << bad->unavailable_reason();
  EXPECT_EQ(kind_of([&] { language_model_session s(bad); }), generation_error_kind::unavailable);
}

TEST(Session, GuidedOutputsAlwaysConvertAndSnapshotsGrow) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    language_model_session s(model(), "Extract people.");
    std::vector<ordered_json> snaps;
    const fmtest::person p = s.stream_response<fmtest::person>(
        "Ann is 30 and has a cat.",
        [&](const partially_generated<fmtest::person>& part) { snaps.push_back(part.json()); },
        sampled(seed));
    EXPECT_GE(p.age, 0);
    EXPECT_LE(p.age, 120);
    EXPECT_LE(p.pets.size(), 2u);
    ASSERT_FALSE(snaps.empty());
    // Monotone: every field once present stays, and strings only grow.
    std::function<void(const ordered_json&, const ordered_json&)> grows =
        [&](const ordered_json& a, const ordered_json& b) {
          if (a.is_object()) {
            for (auto& [k, v] : a.items()) {
              ASSERT_TRUE(b.contains(k)) << a.dump() << " -> " << b.dump();
              grows(v, b[k]);
            }
          } else if (a.is_array()) {
            ASSERT_GE(b.size(), a.size());
            for (size_t i = 0; i < a.size(); ++i) grows(a[i], b[i]);
          } else if (a.is_string()) {
            ASSERT_EQ(b.get<std::string>().rfind(a.get<std::string>(), 0), 0u);
          }
        };
    for (size_t i = 1; i < snaps.size(); ++i) grows(snaps[i - 1], snaps[i]);
    EXPECT_EQ(s.last_turn().forced_tokens > 0, true);  // '{"name":"' is forced
  }
  language_model_session s(model());
  const fmtest::tree t = s.respond<fmtest::tree>("A tree", sampled(3));
  EXPECT_TRUE(t.label == "a" || t.label == "b");
}

// The PT-MoE server architecture behind a session: its sliding-window ring buffers keep enough
// spare slots for the one-token rewind a new turn needs, so the second turn still prefills only
// the new tokens, and a guided response still decodes.
TEST(Session, PtMoeModelReusesItsKvCacheAcrossTurns) {
  model_config c = testing::tiny_pt_moe_config();
  c.sliding_window = 16;
  auto m = system_language_model::load(write_chat_model(c, afm_chat_special_tokens(), "fm_pt_moe"),
                                       {.n_threads = 2});
  ASSERT_TRUE(m->is_available()) << m->unavailable_reason();
  language_model_session s(m, "Be brief.");
  generation_options o = sampled(4);
  o.maximum_response_tokens = 40;
  s.respond("Hello there, how are you today?", o);
  const turn_stats first = s.last_turn();
  EXPECT_GT(first.prompt_tokens + first.generated_tokens, 16u);  // past the window
  s.respond("And the weather?", o);
  EXPECT_LT(s.last_turn().prefilled_tokens, s.last_turn().prompt_tokens / 2);
  const fmtest::person p = s.respond<fmtest::person>("Ann is 30.", sampled(5));
  EXPECT_GE(p.age, 0);
}

TEST(Session, SecondTurnPrefillsOnlyNewTokens) {
  language_model_session s(model(), "Be brief.");
  generation_options o = sampled(2);
  o.maximum_response_tokens = 12;
  s.respond("Hello there", o);
  const turn_stats first = s.last_turn();
  EXPECT_EQ(first.prefilled_tokens, first.prompt_tokens);
  s.respond("And the weather?", o);
  const turn_stats second = s.last_turn();
  EXPECT_GT(second.prompt_tokens, first.prompt_tokens + first.generated_tokens);
  // Exactly what follows the cached prompt and response: the end of the last turn and the new one.
  const std::vector<chat_entry> t(s.transcript().begin(), s.transcript().end() - 1);
  std::vector<chat_entry> before_new(t.begin(), t.end() - 1);
  const size_t new_tokens =
      encode_chat(model()->vocab(), chat_family::afm, t, true).size() -
      encode_chat(model()->vocab(), chat_family::afm, before_new, false).size();
  EXPECT_EQ(second.prefilled_tokens, new_tokens + 1);  // + the previous response's <|end|>
  EXPECT_EQ(s.transcript().size(), 5u);  // instructions, user, response, user, response
}

TEST(Session, TranscriptRoundTrip) {
  language_model_session s(model(), "Be brief.");
  generation_options o = sampled(4);
  o.maximum_response_tokens = 8;
  s.respond("Hi", o);
  const std::string saved = s.transcript_json();
  language_model_session r = language_model_session::restore(model(), saved);
  EXPECT_EQ(r.transcript_json(), saved);
  const std::string again = r.respond("More", o);
  EXPECT_EQ(r.last_turn().prefilled_tokens, r.last_turn().prompt_tokens);  // fresh cache
  EXPECT_EQ(r.transcript().back().content, again);
  EXPECT_THROW(language_model_session::restore(model(), "[{\"role\":\"x\",\"content\":\"\"}]"),
               afm::error);
  EXPECT_THROW(language_model_session::restore(model(), "{"), afm::error);
}

TEST(Session, ErrorKinds) {
  language_model_session s(model());
  const std::string huge(20000, 'x');
  EXPECT_EQ(kind_of([&] { s.respond(huge); }), generation_error_kind::exceeded_context_window_size);
  EXPECT_TRUE(s.transcript().empty());  // a failed turn leaves the transcript as it was
  generation_options tiny = sampled(1);
  tiny.maximum_response_tokens = 2;
  EXPECT_EQ(kind_of([&] { s.respond<fmtest::person>("x", tiny); }),
            generation_error_kind::decoding_failure);
  EXPECT_EQ(kind_of([&] {
              s.stream_response(
                  "Hi", [&](std::string_view) { s.respond("again"); }, sampled(1));
            }),
            generation_error_kind::concurrent_requests);
  EXPECT_FALSE(s.is_responding());
  language_model_session guarded(model(),
                                 session_config{.rails = guardrails::blocklist({"forbidden"})});
  EXPECT_EQ(kind_of([&] { guarded.respond("this is FORBIDDEN text"); }),
            generation_error_kind::guardrail_violation);
  guardrails refuse_all{
      nullptr, [](std::string_view) -> std::optional<std::string> { return "always refuses"; }};
  language_model_session out_guard(model(), session_config{.rails = refuse_all});
  EXPECT_EQ(kind_of([&] { out_guard.respond("hi", tiny); }),
            generation_error_kind::guardrail_violation);
}

// An imported-style model: architecture "llama" (no KV sharing) with a ChatML vocabulary.
TEST(Session, LlamaModelWithChatMl) {
  const std::string file = write_chat_model(
      "llama", {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}, 2, 0.0, "fm_llama");
  auto m = system_language_model::load(file, {.n_threads = 2});
  ASSERT_TRUE(m->is_available()) << m->unavailable_reason();
  EXPECT_EQ(m->family(), chat_family::chatml);
  language_model_session s(m, "Extract people.");
  const fmtest::person p = s.respond<fmtest::person>("Bo is 7.", sampled(5));
  EXPECT_LE(p.age, 120);
  s.respond("Thanks", sampled(6));
  EXPECT_LT(s.last_turn().prefilled_tokens,
            s.last_turn().prompt_tokens / 2);  // the cache is reused
}

// Fake tools: they record when they ran, so tests can see parallel calls.
struct recorder {
  std::mutex mu;
  std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> events;
  void mark(const std::string& what) {
    std::lock_guard<std::mutex> l(mu);
    events.emplace_back(what, std::chrono::steady_clock::now());
  }
};

struct weather_tool : generable_tool<fmtest::city_args> {
  recorder* rec;
  explicit weather_tool(recorder* r) : rec(r) {}
  std::string name() const override { return "weather"; }
  std::string description() const override { return "Today's weather in a city"; }
  tool_output invoke(const fmtest::city_args& a) override {
    rec->mark("start weather");
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    rec->mark("end weather");
    return R"({"city":")" + a.city + R"(","sky":"clear"})";
  }
};
struct calendar_tool : generable_tool<fmtest::day_args> {
  recorder* rec;
  explicit calendar_tool(recorder* r) : rec(r) {}
  std::string name() const override { return "calendar"; }
  std::string description() const override { return "Events on a day"; }
  tool_output invoke(const fmtest::day_args& a) override {  // structured output
    rec->mark("start calendar");
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    rec->mark("end calendar");
    return generated_content{ordered_json{{"day", a.day}, {"events", ordered_json::array()}}, true};
  }
};
struct broken_tool : generable_tool<fmtest::day_args> {
  std::string name() const override { return "broken"; }
  std::string description() const override { return "Always fails"; }
  tool_output invoke(const fmtest::day_args&) override { throw std::runtime_error("disk on fire"); }
};

TEST(Session, ToolLoopsParallelAndSerial) {
  bool saw_parallel = false, saw_serial = false;
  for (uint64_t seed = 1; seed <= 60 && !(saw_parallel && saw_serial); ++seed) {
    recorder rec;
    language_model_session s(model(),
                             session_config{.instructions = "Use tools.",
                                            .tools = {std::make_shared<weather_tool>(&rec),
                                                      std::make_shared<calendar_tool>(&rec)},
                                            .max_tool_rounds = 3});
    generation_options o = sampled(seed);
    o.temperature = 4.0f;  // random weights: flatten them so the walk explores the choices
    o.maximum_response_tokens = 16;
    s.respond("Weather in Oslo and my day 3?", o);
    const turn_stats& st = s.last_turn();
    // Every call the model made is in the transcript, each followed by its output.
    size_t calls = 0, outputs = 0;
    for (const chat_entry& e : s.transcript()) {
      if (e.role == chat_role::tool_call) {
        ++calls;
        const auto j = ordered_json::parse(e.content);
        EXPECT_TRUE(j["name"] == "weather" || j["name"] == "calendar") << e.content;
      }
      if (e.role == chat_role::tool_output) {
        ++outputs;
        EXPECT_TRUE(e.tool_name == "weather" || e.tool_name == "calendar");
        if (e.tool_name == "calendar") {
          EXPECT_TRUE(ordered_json::parse(e.content).contains("events"));
        }
      }
    }
    EXPECT_EQ(calls, st.tool_calls);
    EXPECT_EQ(outputs, st.tool_calls);
    EXPECT_EQ(s.transcript().back().role, chat_role::response);
    EXPECT_EQ(s.transcript()[1].role, chat_role::tool_definitions);
    if (st.tool_rounds >= 2) saw_serial = true;
    // Two calls in one round overlap in time.
    for (size_t i = 0; i + 1 < rec.events.size(); ++i) {
      if (rec.events[i].first.rfind("start", 0) == 0 &&
          rec.events[i + 1].first.rfind("start", 0) == 0) {
        saw_parallel = true;
      }
    }
  }
  EXPECT_TRUE(saw_parallel);
  EXPECT_TRUE(saw_serial);
}

TEST(Session, FailingToolIsATypedError) {
  bool failed = false;
  for (uint64_t seed = 1; seed <= 40 && !failed; ++seed) {
    language_model_session s(model(), session_config{.tools = {std::make_shared<broken_tool>()}});
    generation_options o = sampled(seed);
    o.temperature = 4.0f;
    o.maximum_response_tokens = 8;
    try {
      s.respond("Use the tool", o);
    } catch (const generation_error& e) {
      EXPECT_EQ(e.kind(), generation_error_kind::tool_call_failed);
      EXPECT_EQ(e.tool_name(), "broken");
      EXPECT_NE(std::string(e.what()).find("disk on fire"), std::string::npos);
      failed = true;
    }
  }
  EXPECT_TRUE(failed);
}

}  // namespace
}  // namespace afm
