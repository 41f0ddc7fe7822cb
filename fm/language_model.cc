// system_language_model: loads a model file and its vocabulary, and says plainly why a model is
// unavailable instead of throwing.
#include <filesystem>
#include <fstream>

#include "afm/grammar_matcher.h"
#include "afm/model.h"
#include "afm/session.h"
#include "afm/tokenizer.h"

namespace afm {

std::shared_ptr<system_language_model> system_language_model::load(const std::string& path,
                                                                   model_load_options o) {
  std::shared_ptr<system_language_model> m(new system_language_model());
  m->opts_ = o;
  auto unavailable = [&](availability a, std::string why) {
    m->status_ = a;
    m->reason_ = path + ": " + std::move(why);
    return m;
  };
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return unavailable(availability::file_missing, "no such file");
  if (!std::ifstream(path, std::ios::binary))
    return unavailable(availability::file_unreadable, "cannot be opened");
  try {
    m->model_ = load_model(path);
  } catch (const error& e) {
    const std::string what = e.what();
    const bool arch = what.find("architecture") != std::string::npos;
    return unavailable(
        arch ? availability::architecture_unsupported : availability::file_unreadable, what);
  }
  if (!m->model_->file.has("tokenizer.ggml.model")) {
    return unavailable(availability::no_chat_vocabulary, "the model file holds no vocabulary");
  }
  try {
    m->tok_ = std::make_unique<tokenizer>(tokenizer::from_gguf(m->model_->file));
  } catch (const error& e) {
    return unavailable(availability::file_unreadable, e.what());
  }
  const tokenizer& tok = *m->tok_;
  if (tok.special_id("<|response|>") >= 0) {
    m->family_ = chat_family::afm;
    m->end_token_ = tok.special_id("<|end|>");
  } else if (tok.special_id("<|im_start|>") >= 0) {
    m->family_ = chat_family::chatml;
    m->end_token_ = tok.special_id("<|im_end|>");
  } else if (tok.special_id("<|start_header_id|>") >= 0) {
    m->family_ = chat_family::llama3;
    m->end_token_ = tok.special_id("<|eot_id|>");
  }
  if (m->end_token_ < 0) {
    return unavailable(availability::no_chat_vocabulary,
                       "the vocabulary has no chat-format special tokens (AFM, ChatML or Llama 3)");
  }
  if (static_cast<int64_t>(tok.vocab_size()) > m->model_->cfg.n_vocab) {
    return unavailable(availability::file_unreadable,
                       "the vocabulary is larger than the model's output");
  }
  std::vector<std::string> bytes(m->model_->cfg.n_vocab);
  for (size_t i = 0; i < tok.vocab_size(); ++i)
    bytes[i] = std::string(tok.token_bytes(static_cast<int32_t>(i)));
  std::vector<int32_t> excluded;
  for (const auto& [text, id] : tok.specials()) {
    if (id != m->end_token_) excluded.push_back(id);
  }
  m->mask_vocab_ = token_vocabulary::build(std::move(bytes), {m->end_token_}, std::move(excluded));
  return m;
}

system_language_model::~system_language_model() = default;

size_t system_language_model::context_size() const {
  if (!is_available()) return 0;
  return opts_.n_ctx ? opts_.n_ctx : static_cast<size_t>(model_->cfg.n_ctx);
}

size_t system_language_model::token_count(std::string_view text) const {
  if (!is_available()) throw generation_error(generation_error_kind::unavailable, reason_);
  return tok_->encode(text).size();
}

size_t system_language_model::token_count(const std::vector<chat_entry>& transcript) const {
  if (!is_available()) throw generation_error(generation_error_kind::unavailable, reason_);
  return encode_chat(*tok_, family_, transcript, false).size();
}

const model& system_language_model::weights() const {
  return *model_;
}
const tokenizer& system_language_model::vocab() const {
  return *tok_;
}

}  // namespace afm
