// Framework benchmark (issue: sessions tied to the KV cache, fast guided decoding). On a
// random-weight AFM model with a vocabulary trained here, in one run:
//   a. time to first token of a second turn in a live session, against a fresh session that
//      re-prefills the same ~2k-token transcript (restored from JSON);
//   b. guided decoding tokens/s with forced-token batching, without it, and free decoding.
//
//   build/bench/afm_fm_bench [--d-model 1024 --layers 12 --threads 2]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "afm/bpe_trainer.h"
#include "afm/chat_format.h"
#include "afm/error.h"
#include "afm/gguf.h"
#include "afm/model.h"
#include "afm/session.h"
#include "afm/thread_pool.h"

namespace {
using clock_type = std::chrono::steady_clock;
double since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}
const char* kSentences[] = {
    "The quarterly review moved to Thursday afternoon in the north meeting room.",
    "Please bring the signed forms, two copies of the budget and your badge.",
    "Lunch will be served after the talk; vegetarian options are available.",
    "Contact the front desk if you need parking or a projector adapter.",
};
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Second-turn time to first token vs a fresh session, and guided decoding speed."};
  int d_model = 1024, layers = 12, threads = 2, transcript_tokens = 2048, reps = 3;
  std::string dir = "/tmp/afm-fm-bench";
  app.add_option("--d-model", d_model, "Model width")->capture_default_str();
  app.add_option("--layers", layers, "Layers")->capture_default_str();
  app.add_option("--threads", threads, "Threads")->capture_default_str();
  app.add_option("--transcript-tokens", transcript_tokens, "Transcript length to build")
      ->capture_default_str();
  app.add_option("--reps", reps, "Repetitions (best kept)")->capture_default_str();
  app.add_option("--dir", dir, "Where the model is kept between runs")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    std::filesystem::create_directories(dir);
    const std::string corpus = dir + "/corpus.txt", path = dir + "/model-" +
                                                           std::to_string(d_model) + "x" +
                                                           std::to_string(layers) + ".gguf";
    if (!std::filesystem::exists(path)) {
      {
        std::ofstream out(corpus);
        for (int i = 0; i < 3000; ++i) {
          out << kSentences[i % 4] << " Item " << i
              << ": {\"title\":\"Review\",\"room\":\"North\"}\n";
        }
      }
      afm::bpe_train_options o;
      o.vocab_size = 2048;
      o.specials = afm::afm_chat_special_tokens();
      const afm::tokenizer tok = afm::train_bpe({corpus}, o);
      afm::model_config c;
      c.arch = "afm";
      c.name = "fm-bench";
      c.n_vocab = static_cast<int32_t>(tok.vocab_size());
      c.d_model = d_model;
      c.n_layers = layers;
      c.n_heads = d_model / 128;
      c.n_kv_heads = std::max(1, d_model / 512);
      c.head_dim = 128;
      c.d_ff = d_model * 8 / 3 / 64 * 64;
      c.n_ctx = 4096;
      c.kv_shared_fraction = 0.375;
      afm::set_default_kv_sources(c);
      afm::thread_pool pool(threads);
      std::fprintf(stderr, "creating %s\n", path.c_str());
      afm::create_random_model(c, {.type = afm::dtype::q8_0, .seed = 3, .std = 0.05}, path, pool,
                               {}, [&](afm::gguf_writer& w) { tok.write_gguf(w); });
    }
    auto model = afm::system_language_model::load(path, {.n_threads = threads});
    if (!model->is_available()) afm::fail(model->unavailable_reason());

    // a. A transcript of about transcript_tokens tokens, then one more short turn.
    std::vector<afm::chat_entry> t{
        {afm::chat_role::instructions, "You answer questions about meetings.", {}}};
    for (int i = 0; model->token_count(t) < static_cast<size_t>(transcript_tokens); ++i) {
      t.push_back({i % 2 ? afm::chat_role::response : afm::chat_role::user, kSentences[i % 4], {}});
    }
    afm::ordered_json saved = afm::ordered_json::array();
    for (const auto& e : t)
      saved.push_back({{"role", afm::to_string(e.role)}, {"content", e.content}});
    afm::generation_options one;
    one.maximum_response_tokens = 1;
    double live = 1e30, fresh = 1e30;
    size_t live_prefill = 0, fresh_prefill = 0;
    for (int r = 0; r < reps; ++r) {
      auto s = afm::language_model_session::restore(model, saved.dump());
      s.prewarm();  // the live session has the transcript in its cache already
      auto t0 = clock_type::now();
      s.respond("When is lunch?", one);
      live = std::min(live, since(t0));
      live_prefill = s.last_turn().prefilled_tokens;
      auto f = afm::language_model_session::restore(model, saved.dump());
      t0 = clock_type::now();
      f.respond("When is lunch?", one);
      fresh = std::min(fresh, since(t0));
      fresh_prefill = f.last_turn().prefilled_tokens;
    }
    std::printf(
        "a. second turn over a %zu-token transcript: live session %.1f ms (%zu tokens prefilled), "
        "fresh session %.1f ms (%zu prefilled): %.1fx\n",
        model->token_count(t), live * 1e3, live_prefill, fresh * 1e3, fresh_prefill, fresh / live);

    // b. Guided decoding: an object whose keys the grammar forces.
    const afm::ordered_json schema = afm::ordered_json::parse(R"({"type":"object","properties":{
      "meeting_title":{"type":"string","maxLength":12},"meeting_room_name":{"enum":["North","South"]},
      "attendee_count":{"type":"integer","minimum":1,"maximum":40},
      "requires_projector_adapter":{"type":"boolean"},"catering_notes":{"type":"string","maxLength":12}},
      "required":["meeting_title","meeting_room_name","attendee_count","requires_projector_adapter","catering_notes"]})");
    size_t forced = 0;
    auto run = [&](bool guided, bool batch, size_t max_tokens, size_t& tokens) {
      double best = 1e30;
      for (int r = 0; r < reps; ++r) {
        afm::language_model_session s(model);
        afm::generation_options o;
        o.mode = afm::generation_options::sampling::random;
        o.seed = 7;
        o.maximum_response_tokens = max_tokens;
        o.batch_forced_tokens = batch;
        o.include_schema_in_prompt = false;
        s.prewarm("Describe the meeting.");
        const auto t0 = clock_type::now();
        if (guided) {
          s.respond("Describe the meeting.", afm::generation_schema{schema}, o);
        } else {
          s.respond("Describe the meeting.", o);
        }
        const double dt = since(t0);
        tokens = s.last_turn().generated_tokens + s.last_turn().forced_tokens;
        if (batch && guided) forced = s.last_turn().forced_tokens;
        best = std::min(best, dt);
      }
      return best;
    };
    size_t n_batched = 0, n_sampled = 0, n_free = 0;
    const double batched = run(true, true, 400, n_batched);
    const double sampled = run(true, false, 400, n_sampled);
    const double free_run = run(false, true, n_batched, n_free);
    std::printf(
        "b. guided, forced tokens batched: %zu tokens (%zu forced) in %.1f ms = %.1f tok/s\n",
        n_batched, forced, batched * 1e3, n_batched / batched);
    std::printf("   guided, every token sampled:   %zu tokens in %.1f ms = %.1f tok/s\n", n_sampled,
                sampled * 1e3, n_sampled / sampled);
    std::printf("   free decoding:                 %zu tokens in %.1f ms = %.1f tok/s\n", n_free,
                free_run * 1e3, n_free / free_run);
    std::printf("   batched guided vs free: %.2fx the tokens/s; vs unbatched guided: %.2fx\n",
                (n_batched / batched) / (n_free / free_run),
                (n_batched / batched) / (n_sampled / sampled));
  } catch (const afm::error& e) {
    std::fprintf(stderr, "afm_fm_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
