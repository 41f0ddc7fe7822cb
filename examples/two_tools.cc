// A session with two tools the model may call in parallel: weather and calendar lookups.
//
//   build/examples/afm_example_tools MODEL.gguf ["question"]
//
// Tool arguments are Generable structs, so the model can only call these two tools, with
// arguments that follow their schemas; calls made together run concurrently.
#include <cstdio>
#include <string>

#include "afm/session.h"

struct weather_args {
  std::string city;
};
struct calendar_args {
  int day;
};
AFM_GENERABLE(weather_args, "Which city",
              AFM_FIELD(city, "City name", afm::guides::any_of({"Oslo", "Paris", "Rome"})));
AFM_GENERABLE(calendar_args, "Which day",
              AFM_FIELD(day, "Day of the month", afm::guides::range(1, 31)));

struct weather_tool : afm::generable_tool<weather_args> {
  std::string name() const override { return "get_weather"; }
  std::string description() const override { return "Today's weather in a city"; }
  afm::tool_output invoke(const weather_args& a) override {
    std::fprintf(stderr, "[tool] get_weather(%s)\n", a.city.c_str());
    return R"({"city":")" + a.city + R"(","forecast":"sunny","high_c":24})";
  }
};
struct calendar_tool : afm::generable_tool<calendar_args> {
  std::string name() const override { return "list_events"; }
  std::string description() const override { return "The user's events on a day this month"; }
  afm::tool_output invoke(const calendar_args& a) override {
    std::fprintf(stderr, "[tool] list_events(%d)\n", a.day);
    return a.day % 2 ? "[]" : R"([{"title":"Dentist","time":"09:00"}])";
  }
};

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.gguf [question]\n", argv[0]);
    return 2;
  }
  const std::string question =
      argc > 2 ? argv[2] : "Is it a good day for a picnic in Oslo on the 12th?";
  auto model = afm::system_language_model::load(argv[1]);
  if (!model->is_available()) {
    std::fprintf(stderr, "model unavailable: %s\n", model->unavailable_reason().c_str());
    return 1;
  }
  try {
    afm::language_model_session session(
        model, afm::session_config{
                   .instructions = "Plan the user's day. Call tools when you need facts.",
                   .tools = {std::make_shared<weather_tool>(), std::make_shared<calendar_tool>()},
                   .max_tool_rounds = 3});
    afm::generation_options options;
    options.maximum_response_tokens = 120;
    const std::string answer = session.respond(question, options);
    std::printf("%s\n", answer.c_str());
    std::fprintf(stderr, "(%zu tool calls in %zu rounds)\n", session.last_turn().tool_calls,
                 session.last_turn().tool_rounds);
  } catch (const afm::generation_error& err) {
    std::fprintf(stderr, "generation failed (%s): %s\n", afm::to_string(err.kind()), err.what());
    return 1;
  }
  return 0;
}
