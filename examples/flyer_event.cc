// Extracts a calendar event from a flyer's text into a C++ struct with guided generation.
//
//   build/examples/afm_example_flyer MODEL.gguf [flyer.txt]
//
// The struct is declared Generable; the session puts its schema in the prompt and the grammar
// matcher guarantees the response converts into it. Fields stream in as they are generated.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>

#include "afm/session.h"
#include "examples/calendar_event.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.gguf [flyer.txt]\n", argv[0]);
    return 2;
  }
  std::string flyer =
      "Summer Jazz Night! Saturday, June 14th 2025, 7:30 pm at Riverside Bandstand. Free entry, "
      "bring a blanket.";
  if (argc > 2) {
    std::ifstream in(argv[2]);
    flyer.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto model = afm::system_language_model::load(argv[1]);
  if (!model->is_available()) {
    std::fprintf(stderr, "model unavailable: %s\n", model->unavailable_reason().c_str());
    return 1;
  }
  try {
    afm::language_model_session session(model,
                                        "Extract the event from the flyer the user gives you.");
    afm::generation_options options;
    options.maximum_response_tokens = 200;
    // Sample every token under the mask: a grammar-forced run of bytes tokenized on its own can
    // split differently from the text the model was trained on (see docs/framework.md).
    options.batch_forced_tokens = false;
    size_t snapshots = 0;
    std::string title_so_far;
    const calendar_event e = session.stream_response<calendar_event>(
        flyer,
        [&](const afm::partially_generated<calendar_event>& partial) {
          ++snapshots;  // a UI would redraw here; the title grows as it is written
          if (auto title = partial.get(&calendar_event::title)) title_so_far = *title;
        },
        options);
    std::fprintf(stderr, "(%zu snapshots streamed; the last title seen: \"%s\")\n", snapshots,
                 title_so_far.c_str());
    std::printf("title:    %s\ndate:     %s\ntime:     %s\nlocation: %s\n", e.title.c_str(),
                e.date.c_str(), e.time.value_or("-").c_str(), e.location.value_or("-").c_str());
  } catch (const afm::generation_error& err) {
    std::fprintf(stderr, "generation failed (%s): %s\n", afm::to_string(err.kind()), err.what());
    return 1;
  }
  return 0;
}
