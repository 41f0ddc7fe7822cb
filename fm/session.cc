// language_model_session: the transcript, the KV cache it is tied to, and the decoding loop that
// applies the grammar mask, batches forced continuations and streams snapshots.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <future>
#include <map>

#include "afm/engine.h"
#include "afm/grammar_matcher.h"
#include "afm/model.h"
#include "afm/partial_json.h"
#include "afm/sampler.h"
#include "afm/session.h"
#include "afm/tokenizer.h"

namespace afm {

const char* to_string(chat_role r) {
  switch (r) {
    case chat_role::instructions:
      return "instructions";
    case chat_role::tool_definitions:
      return "tool_definitions";
    case chat_role::user:
      return "user";
    case chat_role::response_schema:
      return "response_schema";
    case chat_role::response:
      return "response";
    case chat_role::tool_call:
      return "tool_call";
    case chat_role::tool_output:
      return "tool_output";
  }
  return "?";
}

chat_role chat_role_from_string(std::string_view s) {
  for (chat_role r : {chat_role::instructions, chat_role::tool_definitions, chat_role::user,
                      chat_role::response_schema, chat_role::response, chat_role::tool_call,
                      chat_role::tool_output}) {
    if (s == to_string(r)) return r;
  }
  fail("unknown transcript role '", s, "'");
}

guardrails guardrails::blocklist(std::vector<std::string> phrases) {
  for (auto& p : phrases) {
    std::transform(p.begin(), p.end(), p.begin(), [](unsigned char c) { return std::tolower(c); });
  }
  auto check = [phrases](std::string_view text) -> std::optional<std::string> {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    for (const auto& p : phrases) {
      if (!p.empty() && lower.find(p) != std::string::npos)
        return "contains the blocked phrase '" + p + "'";
    }
    return std::nullopt;
  };
  return {check, check};
}

namespace {

// Points a tool schema's local references at its entries under a new $defs prefix.
void rebase_refs(ordered_json& j, const std::string& prefix) {
  if (j.is_object()) {
    for (auto& [k, v] : j.items()) {
      if (k == "$ref" && v.is_string() && v.get<std::string>().rfind("#/$defs/", 0) == 0) {
        v = "#/$defs/" + prefix + v.get<std::string>().substr(8);
      } else {
        rebase_refs(v, prefix);
      }
    }
  } else if (j.is_array()) {
    for (auto& v : j) rebase_refs(v, prefix);
  }
}

// {"tool_calls":[...]} where each call names an existing tool and follows its arguments schema.
ordered_json decision_schema(const std::vector<std::shared_ptr<tool>>& tools, size_t max_calls) {
  ordered_json defs = ordered_json::object(), choices = ordered_json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    ordered_json args = tools[i]->parameters();
    std::string prefix = "t";
    prefix += std::to_string(i);
    prefix += '_';
    rebase_refs(args, prefix);
    if (args.contains("$defs")) {
      for (auto& [k, v] : args["$defs"].items()) defs[prefix + k] = v;
      args.erase("$defs");
    }
    choices.push_back(
        {{"type", "object"},
         {"properties", {{"name", {{"const", tools[i]->name()}}}, {"arguments", args}}},
         {"required", {"name", "arguments"}},
         {"additionalProperties", false}});
  }
  ordered_json s = {
      {"type", "object"},
      {"properties",
       {{"tool_calls",
         {{"type", "array"}, {"items", {{"anyOf", choices}}}, {"maxItems", max_calls}}}}},
      {"required", {"tool_calls"}},
      {"additionalProperties", false}};
  if (!defs.empty()) s["$defs"] = defs;
  return s;
}

}  // namespace

struct language_model_session::impl {
  std::shared_ptr<system_language_model> m;
  session_config cfg;
  guardrails& rails = cfg.rails;
  std::string decision;  // the tool-decision schema, when there are tools
  std::unique_ptr<engine> eng;
  std::vector<chat_entry> transcript;
  std::vector<int32_t> cached;  // the tokens in the KV cache, position by position
  // The session's token sequence as actually run: prompts plus the sampled ids of responses
  // (which need not equal a re-encoding of their text). Empty: re-encode the transcript.
  std::vector<int32_t> tokens;
  std::atomic<bool> busy{false};
  turn_stats stats;
  std::map<std::string, std::shared_ptr<token_masks>> masks;  // by schema text
  std::vector<float> logits_buf;
  std::vector<uint32_t> mask;

  impl(std::shared_ptr<system_language_model> model, session_config c)
      : m(std::move(model)), cfg(std::move(c)) {
    if (!m || !m->is_available()) {
      throw generation_error(generation_error_kind::unavailable,
                             m ? m->unavailable_reason() : std::string("no model"));
    }
    eng = std::make_unique<engine>(m->weights(), engine_options{.n_threads = m->options().n_threads,
                                                                .n_ctx = m->context_size()});
    if (!cfg.tools.empty()) {
      std::vector<std::string> names;
      for (const auto& t : cfg.tools) {
        if (!t) fail("a session tool is null");
        if (std::find(names.begin(), names.end(), t->name()) != names.end()) {
          fail("two tools are named '", t->name(), "'");
        }
        names.push_back(t->name());
      }
      decision = decision_schema(cfg.tools, cfg.max_calls_per_round).dump();
    }
  }

  // The instructions and tool definitions a new session's transcript starts with.
  void start_transcript() {
    if (!cfg.instructions.empty())
      transcript.push_back({chat_role::instructions, cfg.instructions, {}});
    if (cfg.tools.empty()) return;
    ordered_json defs = ordered_json::array();
    for (const auto& t : cfg.tools) {
      defs.push_back({{"name", t->name()},
                      {"description", t->description()},
                      {"parameters", t->parameters()}});
    }
    transcript.push_back({chat_role::tool_definitions, defs.dump(), {}});
  }

  struct busy_guard {
    std::atomic<bool>& b;
    explicit busy_guard(std::atomic<bool>& flag) : b(flag) {
      bool expected = false;
      if (!b.compare_exchange_strong(expected, true)) {
        throw generation_error(generation_error_kind::concurrent_requests,
                               "the session is already responding to a request");
      }
    }
    ~busy_guard() { b = false; }
  };

  [[noreturn]] void overflow(size_t need) const {
    throw generation_error(generation_error_kind::exceeded_context_window_size,
                           "the transcript needs " + std::to_string(need) +
                               " tokens; the context holds " + std::to_string(m->context_size()));
  }

  // Brings the KV cache to exactly `want` and returns the last position's logits.
  std::span<const float> sync(const std::vector<int32_t>& want) {
    if (want.size() >= m->context_size()) overflow(want.size() + 1);
    size_t lcp = 0;
    while (lcp < cached.size() && lcp < want.size() && cached[lcp] == want[lcp]) ++lcp;
    if (lcp == want.size()) --lcp;  // the last token runs again to give its logits
    // A sliding-window ring buffer may have lost the window before lcp: start over then.
    if (!eng->can_truncate(lcp)) lcp = 0;
    eng->truncate(lcp);
    cached.resize(lcp);
    const std::span<const int32_t> rest(want.data() + lcp, want.size() - lcp);
    stats.prefilled_tokens += rest.size();
    auto logits = eng->prefill(rest);
    cached.insert(cached.end(), rest.begin(), rest.end());
    return logits;
  }

  std::span<const float> feed(std::span<const int32_t> ids) {
    if (eng->position() + ids.size() >= m->context_size())
      overflow(eng->position() + ids.size() + 1);
    auto logits = eng->prefill(ids);
    cached.insert(cached.end(), ids.begin(), ids.end());
    return logits;
  }

  // Masks for a JSON Schema, or (empty schema) for free text, which must still be valid UTF-8.
  std::shared_ptr<token_masks> masks_for(const std::string& schema) {
    auto it = masks.find(schema);
    if (it != masks.end()) return it->second;
    auto g = schema.empty() ? compile_regex("[\\s\\S]*") : compile_json_schema(schema);
    auto tm = std::make_shared<token_masks>(g, m->mask_vocab());
    masks.emplace(schema, tm);
    return tm;
  }

  struct generation {
    std::string text;
    std::vector<int32_t> prompt, full, generated;
  };

  // Generates one response to `pending` (under `schema` if given; free text must be UTF-8).
  generation generate(const std::vector<chat_entry>& pending, const std::string* schema,
                      const generation_options& o,
                      const std::function<void(std::string_view)>& on_text) {
    const tokenizer& tok = m->vocab();
    generation r;
    // The chat encoding is block by block, so the committed transcript's tokens are a prefix of
    // the pending one's: the turn runs on the session's own tokens plus the new blocks.
    r.full = encode_chat(tok, m->family(), pending, true);
    r.prompt = r.full;
    if (!tokens.empty()) {
      const std::vector<int32_t> old = encode_chat(tok, m->family(), transcript, false);
      if (old.size() <= r.full.size() && std::equal(old.begin(), old.end(), r.full.begin())) {
        r.prompt = tokens;
        r.prompt.insert(r.prompt.end(), r.full.begin() + static_cast<std::ptrdiff_t>(old.size()),
                        r.full.end());
      }
    }
    stats.prompt_tokens = r.prompt.size();
    std::span<const float> logits = sync(r.prompt);
    grammar_matcher matcher(masks_for(schema ? *schema : std::string()));
    const token_vocabulary& tv = *m->mask_vocab();
    sampler smp(sampler_options{
        .temperature = o.mode == generation_options::sampling::greedy ? 0.0f : o.temperature,
        .top_k = o.top_k,
        .top_p = o.top_p,
        .seed = o.seed});
    mask.assign(tv.mask_words(), 0);
    std::string& out = r.text;
    size_t produced = 0;
    const float neg_inf = -std::numeric_limits<float>::infinity();
    while (produced < o.maximum_response_tokens) {
      // Forced bytes: their tokens go in as one batch, with no sampling.
      const std::string forced =
          o.batch_forced_tokens ? matcher.forced_continuation() : std::string();
      if (!forced.empty()) {
        std::vector<int32_t> ids = tok.encode(forced);
        if (ids.size() > o.maximum_response_tokens - produced)
          ids.resize(o.maximum_response_tokens - produced);
        size_t ok = 0;
        while (ok < ids.size() && matcher.accept_token(ids[ok])) ++ok;
        if (ok > 0) {
          ids.resize(ok);
          logits = feed(ids);
          r.generated.insert(r.generated.end(), ids.begin(), ids.end());
          for (int32_t t : ids) out += tok.token_bytes(t);
          stats.forced_tokens += ok;
          produced += ok;
          if (on_text) on_text(out);
          continue;
        }
      }
      matcher.fill_next_token_mask(mask);
      logits_buf.assign(logits.begin(), logits.end());
      for (int32_t t = 0; t < static_cast<int32_t>(logits_buf.size()); ++t) {
        if (!((mask[t >> 5] >> (t & 31)) & 1)) logits_buf[t] = neg_inf;
      }
      const int32_t t = smp.sample(logits_buf);
      if (t == m->end_token()) break;
      if (!matcher.accept_token(t)) {
        throw generation_error(generation_error_kind::decoding_failure,
                               "sampled token " + std::to_string(t) + " outside the grammar");
      }
      out += tok.token_bytes(t);
      r.generated.push_back(t);
      ++stats.generated_tokens;
      ++produced;
      if (on_text) on_text(out);
      if (matcher.is_terminated()) break;
      logits = feed(std::span<const int32_t>(&t, 1));
    }
    if (schema && !matcher.can_end()) {
      throw generation_error(generation_error_kind::decoding_failure,
                             "the response reached maximum_response_tokens (" +
                                 std::to_string(o.maximum_response_tokens) +
                                 ") before the content was complete");
    }
    if (!matcher.can_end()) {
      // Free text cut off by the token limit inside a character: drop the partial character.
      size_t cut = out.size();
      while (cut > 0 && (static_cast<uint8_t>(out[cut - 1]) & 0xC0) == 0x80) --cut;
      if (cut > 0 && static_cast<uint8_t>(out[cut - 1]) >= 0xC0) out.resize(cut - 1);
    }
    return r;
  }

  // Lets the model call tools until it answers; appends the calls and outputs to `pending`.
  void tool_rounds(std::vector<chat_entry>& pending, const generation_options& o) {
    generation_options d = o;
    d.maximum_response_tokens = std::max<size_t>(o.maximum_response_tokens, 256);
    for (size_t round = 0; round < cfg.max_tool_rounds; ++round) {
      const generation g = generate(pending, &decision, d, {});
      const ordered_json calls = ordered_json::parse(g.text)["tool_calls"];
      if (calls.empty()) return;
      ++stats.tool_rounds;
      stats.tool_calls += calls.size();
      std::vector<std::future<std::string>> results;
      std::vector<tool*> used;
      for (const auto& c : calls) {
        tool* t = nullptr;
        for (const auto& x : cfg.tools) {
          if (x->name() == c["name"].get<std::string>()) t = x.get();
        }
        used.push_back(t);
        pending.push_back({chat_role::tool_call, c.dump(), {}});
        generated_content args{c["arguments"], true};
        results.push_back(std::async(std::launch::async, [t, args] { return t->call(args).text; }));
      }
      for (size_t i = 0; i < results.size(); ++i) {
        std::string output;
        try {
          output = results[i].get();
        } catch (const std::exception& e) {
          for (size_t k = i + 1; k < results.size(); ++k) results[k].wait();
          throw generation_error(generation_error_kind::tool_call_failed,
                                 "tool '" + used[i]->name() + "' failed: " + e.what(),
                                 used[i]->name());
        }
        pending.push_back({chat_role::tool_output, std::move(output), used[i]->name()});
      }
      tokens.clear();  // the decision ran as a response block; re-encode from the transcript
    }
  }

  // One request: appends `entries`, lets tools run, generates the response, commits it all.
  std::string turn(std::vector<chat_entry> entries, const std::string* schema,
                   const generation_options& o,
                   const std::function<void(std::string_view)>& on_text) {
    busy_guard guard(busy);
    stats = {};
    for (const chat_entry& e : entries) {
      if (e.role == chat_role::user && rails.check_input) {
        if (auto why = rails.check_input(e.content)) {
          throw generation_error(generation_error_kind::guardrail_violation, "prompt " + *why);
        }
      }
    }
    std::vector<chat_entry> pending = transcript;
    pending.insert(pending.end(), entries.begin(), entries.end());
    if (!cfg.tools.empty()) tool_rounds(pending, o);
    generation g = generate(pending, schema, o, on_text);
    if (rails.check_output) {
      if (auto why = rails.check_output(g.text)) {
        throw generation_error(generation_error_kind::guardrail_violation, "response " + *why);
      }
    }
    // The response block's closing tokens (what encoding an empty response adds after the
    // generation prompt); if the family does not split that way, re-encode next turn.
    std::vector<chat_entry> closed = pending;
    closed.push_back({chat_role::response, "", {}});
    const std::vector<int32_t> with_end = encode_chat(m->vocab(), m->family(), closed, false);
    if (with_end.size() >= g.full.size() &&
        std::equal(g.full.begin(), g.full.end(), with_end.begin())) {
      tokens = std::move(g.prompt);
      tokens.insert(tokens.end(), g.generated.begin(), g.generated.end());
      tokens.insert(tokens.end(), with_end.begin() + static_cast<std::ptrdiff_t>(g.full.size()),
                    with_end.end());
    } else {
      tokens.clear();
    }
    transcript = std::move(pending);
    transcript.push_back({chat_role::response, g.text, {}});
    return g.text;
  }

  std::vector<chat_entry> user_turn(std::string_view prompt, const std::string* schema,
                                    const generation_options& o) const {
    std::vector<chat_entry> e{{chat_role::user, std::string(prompt), {}}};
    if (schema && o.include_schema_in_prompt)
      e.push_back({chat_role::response_schema, *schema, {}});
    return e;
  }

  generated_content guided(std::string_view prompt, const generation_schema& schema,
                           const generation_options& o,
                           const std::function<void(const generated_content&)>& on_snapshot) {
    const std::string s = schema.json.dump();
    partial_json reader;
    size_t fed = 0;
    std::function<void(std::string_view)> on_text;
    if (on_snapshot) {
      on_text = [&](std::string_view so_far) {
        reader.feed(so_far.substr(fed));
        fed = so_far.size();
        on_snapshot({ordered_json(reader.snapshot()), false});
      };
    }
    const std::string text = turn(user_turn(prompt, &s, o), &s, o, on_text);
    generated_content c;
    try {
      c.json = ordered_json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw generation_error(generation_error_kind::decoding_failure,
                             std::string("the response is not JSON: ") + e.what());
    }
    c.complete = true;
    if (on_snapshot) on_snapshot(c);
    return c;
  }
};

language_model_session::language_model_session(std::shared_ptr<system_language_model> m,
                                               std::string instructions)
    : language_model_session(std::move(m),
                             session_config{.instructions = std::move(instructions)}) {}

language_model_session::language_model_session(std::shared_ptr<system_language_model> m,
                                               session_config c)
    : p_(std::make_unique<impl>(std::move(m), std::move(c))) {
  p_->start_transcript();
}
language_model_session::~language_model_session() = default;
language_model_session::language_model_session(language_model_session&&) noexcept = default;
language_model_session& language_model_session::operator=(language_model_session&&) noexcept =
    default;

std::string language_model_session::respond(std::string_view prompt, const generation_options& o) {
  return p_->turn(p_->user_turn(prompt, nullptr, o), nullptr, o, {});
}

generated_content language_model_session::respond(std::string_view prompt,
                                                  const generation_schema& schema,
                                                  const generation_options& o) {
  return p_->guided(prompt, schema, o, {});
}

std::string language_model_session::stream_response(
    std::string_view prompt, const std::function<void(std::string_view)>& on_snapshot,
    const generation_options& o) {
  return p_->turn(p_->user_turn(prompt, nullptr, o), nullptr, o, on_snapshot);
}

generated_content language_model_session::stream_response(
    std::string_view prompt, const generation_schema& schema,
    const std::function<void(const generated_content&)>& on_snapshot, const generation_options& o) {
  return p_->guided(prompt, schema, o, on_snapshot);
}

void language_model_session::prewarm(std::string_view prompt_prefix) {
  impl::busy_guard guard(p_->busy);
  const tokenizer& tok = p_->m->vocab();
  const std::vector<int32_t> old = encode_chat(tok, p_->m->family(), p_->transcript, false);
  std::vector<int32_t> t = p_->tokens.empty() ? old : p_->tokens;
  if (!prompt_prefix.empty()) {
    // The start of the next user turn: its opening and the text so far, not yet closed.
    std::vector<chat_entry> next = p_->transcript;
    next.push_back({chat_role::user, std::string(prompt_prefix), {}});
    std::vector<int32_t> with = encode_chat(tok, p_->m->family(), next, false);
    with.pop_back();
    t.insert(t.end(), with.begin() + static_cast<std::ptrdiff_t>(old.size()), with.end());
  }
  if (!t.empty()) p_->sync(t);
}

const std::vector<chat_entry>& language_model_session::transcript() const {
  return p_->transcript;
}

std::string language_model_session::transcript_json() const {
  ordered_json a = ordered_json::array();
  for (const chat_entry& e : p_->transcript) {
    ordered_json j = {{"role", to_string(e.role)}, {"content", e.content}};
    if (!e.tool_name.empty()) j["tool_name"] = e.tool_name;
    a.push_back(std::move(j));
  }
  return a.dump(1);
}

language_model_session language_model_session::restore(std::shared_ptr<system_language_model> m,
                                                       std::string_view transcript_json,
                                                       session_config c) {
  ordered_json a;
  try {
    a = ordered_json::parse(transcript_json);
  } catch (const nlohmann::json::exception& e) {
    fail("transcript is not valid JSON: ", e.what());
  }
  if (!a.is_array()) fail("transcript JSON must be an array of entries");
  c.instructions.clear();
  language_model_session s(std::move(m), std::move(c));
  s.p_->transcript.clear();  // the saved transcript has its own instructions and tool list
  for (const auto& j : a) {
    if (!j.is_object() || !j.contains("role") || !j.contains("content") ||
        !j["content"].is_string()) {
      fail("transcript entry needs \"role\" and string \"content\": ", j.dump());
    }
    chat_entry e{chat_role_from_string(j["role"].get<std::string>()),
                 j["content"].get<std::string>(),
                 j.contains("tool_name") ? j["tool_name"].get<std::string>() : std::string()};
    s.p_->transcript.push_back(std::move(e));
  }
  return s;
}

bool language_model_session::is_responding() const {
  return p_->busy.load();
}
const turn_stats& language_model_session::last_turn() const {
  return p_->stats;
}

}  // namespace afm
