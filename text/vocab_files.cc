// Loading BPE vocabularies: tiktoken rank files, GPT-2's encoder.json + vocab.bpe, GGUF
// tokenizer.ggml.* arrays, and afm's own JSON vocabulary files. Every fault is an afm::error
// naming the file and the line or token at fault.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "afm/error.h"
#include "afm/gguf.h"
#include "afm/tokenizer.h"
#include "text/base64.h"
#include "text/gpt2_bytes.h"

namespace afm {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

// Ranks from a merge list: merge i produces left+right with rank i; tokens no merge produces
// (single bytes, specials) get -1.
std::vector<int32_t> ranks_from_merges(
    const std::vector<std::string>& tokens,
    const std::vector<std::pair<std::string, std::string>>& merges, const std::string& where) {
  std::unordered_map<std::string, int32_t> id_of;
  for (size_t i = 0; i < tokens.size(); ++i) id_of.emplace(tokens[i], static_cast<int32_t>(i));
  std::vector<int32_t> ranks(tokens.size(), -1);
  for (size_t m = 0; m < merges.size(); ++m) {
    const auto it = id_of.find(merges[m].first + merges[m].second);
    if (it == id_of.end())
      fail(where, ": merge ", m, " produces a token that is not in the vocabulary");
    auto& r = ranks[static_cast<size_t>(it->second)];
    if (r < 0) r = static_cast<int32_t>(m);  // the first merge producing a string ranks it
  }
  return ranks;
}

}  // namespace

tokenizer tokenizer::from_tiktoken(const std::string& path, const std::string& split,
                                   const std::vector<std::pair<std::string, int32_t>>& specials) {
  const std::string text = read_file(path);
  std::vector<std::string> tokens;
  std::vector<bool> seen;
  std::string bytes;
  size_t line_no = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty()) continue;
    const size_t sp = line.find(' ');
    if (sp == std::string::npos || sp == 0)
      fail(path, ":", line_no, ": expected '<base64 token> <rank>'");
    if (!text::base64_decode(std::string_view(line).substr(0, sp), bytes) || bytes.empty())
      fail(path, ":", line_no, ": invalid base64 token");
    size_t used = 0;
    long long rank = -1;
    try {
      rank = std::stoll(line.substr(sp + 1), &used);
    } catch (const std::exception&) {
    }
    if (rank < 0 || used != line.size() - sp - 1 || rank > 10'000'000)
      fail(path, ":", line_no, ": invalid rank '", line.substr(sp + 1), "'");
    const size_t r = static_cast<size_t>(rank);
    if (r >= tokens.size()) {
      tokens.resize(r + 1);
      seen.resize(r + 1, false);
    }
    if (seen[r]) fail(path, ":", line_no, ": duplicate rank ", r);
    seen[r] = true;
    tokens[r] = bytes;
  }
  if (tokens.empty()) fail(path, ": no tokens (empty or not a tiktoken file)");
  size_t n = tokens.size();
  for (const auto& [t, id] : specials) n = std::max(n, static_cast<size_t>(id) + 1);
  tokens.resize(n);
  std::vector<int32_t> ranks(n, -1);
  for (size_t i = 0; i < seen.size(); ++i) ranks[i] = seen[i] ? static_cast<int32_t>(i) : -1;
  try {
    return build(std::move(tokens), std::move(ranks), split, specials);
  } catch (const error& e) {
    fail(path, ": ", e.what());
  }
}

tokenizer tokenizer::from_tiktoken_dir(const std::string& dir, const std::string& name) {
  std::vector<std::pair<std::string, int32_t>> specials;
  const std::string special_path = dir + "/" + name + ".special.json";
  if (std::ifstream(special_path)) {
    try {
      const nlohmann::json j = nlohmann::json::parse(read_file(special_path));
      for (const auto& [k, v] : j.items()) specials.emplace_back(k, v.get<int32_t>());
    } catch (const nlohmann::json::exception& e) {
      fail(special_path, ": ", e.what());
    }
  }
  return from_tiktoken(dir + "/" + name + ".tiktoken", name, specials);
}

tokenizer tokenizer::from_gpt2(const std::string& encoder_json, const std::string& vocab_bpe) {
  nlohmann::json enc;
  try {
    enc = nlohmann::json::parse(read_file(encoder_json));
  } catch (const nlohmann::json::exception& e) {
    fail(encoder_json, ": ", e.what());
  }
  std::vector<std::string> tokens;
  std::vector<std::pair<std::string, int32_t>> specials;
  for (const auto& [k, v] : enc.items()) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 10'000'000)
      fail(encoder_json, ": token '", k, "' has an invalid id");
    const size_t id = v.get<size_t>();
    if (id >= tokens.size()) tokens.resize(id + 1);
    if (!tokens[id].empty()) fail(encoder_json, ": duplicate id ", id);
    if (k.size() > 2 && k.front() == '<' && k.back() == '>' && k.find('|') != std::string::npos) {
      specials.emplace_back(k, static_cast<int32_t>(id));
      tokens[id] = k;
    } else {
      tokens[id] = text::gpt2_token_bytes(k, encoder_json);
    }
  }
  std::vector<std::pair<std::string, std::string>> merges;
  std::istringstream in(read_file(vocab_bpe));
  size_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    const size_t sp = line.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 == line.size() ||
        line.find(' ', sp + 1) != std::string::npos)
      fail(vocab_bpe, ":", line_no, ": expected '<left> <right>'");
    merges.emplace_back(text::gpt2_token_bytes(line.substr(0, sp), vocab_bpe),
                        text::gpt2_token_bytes(line.substr(sp + 1), vocab_bpe));
  }
  std::vector<int32_t> ranks =
      ranks_from_merges(tokens, merges, vocab_bpe);  // specials' are unused
  return build(std::move(tokens), std::move(ranks), "gpt2", std::move(specials));
}

namespace {
tokenizer sentencepiece_from_gguf(const gguf_file& f) {
  const auto& toks = f.get_array("tokenizer.ggml.tokens");
  const auto& scores = f.get_array("tokenizer.ggml.scores");
  const auto& types = f.get_array("tokenizer.ggml.token_type");
  if (scores.size() != toks.size() || types.size() != toks.size())
    fail(f.path(), ": tokenizer.ggml.tokens, scores and token_type differ in length");
  std::vector<std::string> pieces;
  std::vector<float> sc;
  std::vector<int32_t> ty;
  for (size_t i = 0; i < toks.size(); ++i) {
    const auto* s = std::get_if<std::string>(&toks[i].v);
    const auto* x = std::get_if<double>(&scores[i].v);
    const auto* t = std::get_if<int64_t>(&types[i].v);
    if (!s || !x || !t) fail(f.path(), ": tokenizer entry ", i, " has the wrong value types");
    pieces.push_back(*s);
    sc.push_back(static_cast<float>(*x));
    ty.push_back(static_cast<int32_t>(*t));
  }
  const bool prefix = f.has("tokenizer.ggml.add_space_prefix")
                          ? f.get_bool("tokenizer.ggml.add_space_prefix")
                          : true;
  try {
    return tokenizer::build_sentencepiece(std::move(pieces), std::move(sc), std::move(ty), prefix);
  } catch (const error& e) {
    fail(f.path(), ": ", e.what());
  }
}
}  // namespace

tokenizer tokenizer::from_gguf(const gguf_file& f) {
  if (!f.has("tokenizer.ggml.model"))
    fail(f.path(), ": the file holds no vocabulary (no tokenizer.ggml.* keys)");
  const std::string& model = f.get_string("tokenizer.ggml.model");
  if (model == "llama") return sentencepiece_from_gguf(f);
  if (model != "gpt2")
    fail(f.path(), ": tokenizer model '", model,
         "' is not supported (afm reads \"gpt2\" byte-level BPE and \"llama\" SentencePiece)");
  const std::string pre =
      f.has("tokenizer.ggml.pre") ? f.get_string("tokenizer.ggml.pre") : "gpt-2";
  std::string split;
  if (pre == "gpt-2" || pre == "default") {
    split = "gpt2";
  } else if (pre == "llama-bpe" || pre == "llama3") {
    split = "llama-bpe";
  } else if (pre == "qwen2") {
    split = "qwen2";
  } else if (pre == "gpt-4o") {
    split = "o200k";
  } else {
    fail(f.path(), ": pre-tokenizer '", pre,
         "' is not supported (afm knows gpt-2, llama-bpe, qwen2, gpt-4o)");
  }
  const auto& toks = f.get_array("tokenizer.ggml.tokens");
  const std::vector<gguf_value>* types =
      f.has("tokenizer.ggml.token_type") ? &f.get_array("tokenizer.ggml.token_type") : nullptr;
  if (types && types->size() != toks.size())
    fail(f.path(), ": token_type has ", types->size(), " entries for ", toks.size(), " tokens");
  std::vector<std::string> tokens;
  std::vector<std::pair<std::string, int32_t>> specials;
  tokens.reserve(toks.size());
  for (size_t i = 0; i < toks.size(); ++i) {
    const auto* s = std::get_if<std::string>(&toks[i].v);
    if (!s) fail(f.path(), ": tokenizer.ggml.tokens[", i, "] is not a string");
    int64_t type = 1;
    if (types) {
      if (const auto* t = std::get_if<int64_t>(&(*types)[i].v)) type = *t;
    }
    if (type == 3 || type == 4) {  // control and user-defined tokens match as whole strings
      specials.emplace_back(*s, static_cast<int32_t>(i));
      tokens.push_back(*s);
    } else {
      tokens.push_back(text::gpt2_token_bytes(*s, f.path() + ": token " + std::to_string(i)));
    }
  }
  std::vector<std::pair<std::string, std::string>> merges;
  for (const auto& m : f.get_array("tokenizer.ggml.merges")) {
    const auto* s = std::get_if<std::string>(&m.v);
    const size_t sp = s ? s->find(' ', 1) : std::string::npos;
    if (sp == std::string::npos) fail(f.path(), ": malformed merge in tokenizer.ggml.merges");
    merges.emplace_back(text::gpt2_token_bytes(s->substr(0, sp), f.path()),
                        text::gpt2_token_bytes(s->substr(sp + 1), f.path()));
  }
  std::vector<int32_t> ranks = ranks_from_merges(tokens, merges, f.path());  // specials' are unused
  try {
    return build(std::move(tokens), std::move(ranks), split, std::move(specials));
  } catch (const error& e) {
    fail(f.path(), ": ", e.what());
  }
}

tokenizer tokenizer::load(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
    if (j.value("format", "") != "afm-bpe-vocab")
      fail(path, ": not an afm vocabulary (format != afm-bpe-vocab)");
    std::vector<std::string> tokens;
    std::string bytes;
    for (const auto& t : j.at("tokens")) {
      if (!text::base64_decode(t.get<std::string>(), bytes))
        fail(path, ": token ", tokens.size(), " is not valid base64");
      tokens.push_back(bytes);
    }
    std::vector<std::pair<std::string, int32_t>> specials;
    for (const auto& [k, v] : j.at("specials").items()) specials.emplace_back(k, v.get<int32_t>());
    return build(std::move(tokens), j.at("ranks").get<std::vector<int32_t>>(),
                 j.at("split").get<std::string>(), std::move(specials));
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": ", e.what());
  } catch (const error& e) {
    const std::string msg = e.what();
    if (msg.rfind(path, 0) == 0) throw;
    fail(path, ": ", msg);
  }
}

tokenizer tokenizer::open(const std::string& path) {
  const std::filesystem::path p(path);
  if (std::filesystem::is_directory(p)) {
    if (!std::filesystem::exists(p / "encoder.json") || !std::filesystem::exists(p / "vocab.bpe"))
      fail(path, ": a vocabulary directory needs encoder.json and vocab.bpe");
    return from_gpt2((p / "encoder.json").string(), (p / "vocab.bpe").string());
  }
  if (p.extension() == ".tiktoken")
    return from_tiktoken_dir(p.parent_path().string(), p.stem().string());
  if (p.extension() == ".gguf") return from_gguf(gguf_file::open(path));
  if (p.extension() == ".json") return load(path);
  fail(path, ": unknown vocabulary kind (expected .tiktoken, .gguf, .json or a GPT-2 directory)");
}

}  // namespace afm
