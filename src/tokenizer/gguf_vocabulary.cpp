#include "tokenizer/gguf_vocabulary.h"

#include <climits>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "formats/gguf_split.h"
#include "tokenizer/bpe_document.h"
#include "tokenizer/tiktoken_vocabulary.h"

namespace dsinfer {
namespace {

constexpr int64_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;

const std::vector<std::string>* string_array(const GgufHeader& header, const std::string& key) {
  const GgufValue* v = header.find(key);
  return v && v->is_array() && v->element_type() == GgufValueType::kString ? &v->strings() : nullptr;
}

// The text of the token a tokenizer.ggml.*_token_id names; absent when the key is.
Result<std::optional<std::string>> special_token(const GgufHeader& header, const char* key,
                                                 const std::vector<std::string>& tokens, const std::string& origin) {
  const GgufValue* v = header.find(key);
  if (!v) return std::optional<std::string>{};
  const std::optional<int64_t> id = v->type() == GgufValueType::kBool ? std::nullopt : v->as_int();
  if (!id) return error("{}: {} must be an integer token id", origin, key);
  if (*id < 0 || *id >= static_cast<int64_t>(tokens.size()))
    return error("{}: {} is {}, outside the {} tokens of tokenizer.ggml.tokens", origin, key, *id, tokens.size());
  return std::optional<std::string>{tokens[static_cast<size_t>(*id)]};
}

Result<bool> flag(const GgufHeader& header, const char* key, const std::string& origin) {
  const GgufValue* v = header.find(key);
  if (!v) return false;
  if (!v->as_bool()) return error("{}: {} must be a bool", origin, key);
  return *v->as_bool();
}

Result<const std::vector<std::string>*> vocabulary_tokens(const GgufHeader& header, const std::string& origin) {
  const GgufValue* model = header.find("tokenizer.ggml.model");
  if (!model)
    return error("{}: the file has no vocabulary (no tokenizer.ggml.model); give token ids instead of text", origin);
  if (model->as_string() && *model->as_string() == "no_vocab")
    return error("{}: the file has no vocabulary (tokenizer.ggml.model 'no_vocab'); give token ids instead of text",
                 origin);
  if (!model->as_string() || *model->as_string() != "gpt2")
    return error("{}: tokenizer.ggml.model is {}; dsinfer reads byte-level BPE vocabularies ('gpt2'), which every "
                 "DeepSeek model uses",
                 origin, model->as_string() ? "'" + *model->as_string() + "'" : "not a string");
  const std::vector<std::string>* tokens = string_array(header, "tokenizer.ggml.tokens");
  if (!tokens || tokens->empty()) return error("{}: tokenizer.ggml.tokens must be a non-empty array of strings", origin);
  return tokens;
}

// Hugging Face's generate stops at every id of generation_config.json's eos_token_id (a
// number or a list), or config.json's where there is no generation_config.json.
Status add_generation_end_ids(const std::string& model_dir, Tokenizer& tokenizer) {
  std::string path = model_dir + "/generation_config.json";
  if (!std::filesystem::exists(path)) path = model_dir + "/config.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::ok();  // tokenizer-only folders have neither
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json config = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) return error("{}: not a JSON object", path);
  const auto it = config.find("eos_token_id");
  if (it == config.end() || it->is_null()) return Status::ok();
  const nlohmann::json ids = it->is_array() ? *it : nlohmann::json::array({*it});
  for (const auto& id : ids) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      return error("{}: eos_token_id must be a token id or a list of them, found {}", path, it->dump());
    tokenizer.add_end_of_generation(id.get<TokenId>());
  }
  return Status::ok();
}

}  // namespace

Result<TokenizerConfig> tokenizer_config_from_gguf(const GgufHeader& header, const std::string& origin) {
  DSINFER_ASSIGN_OR_RETURN(const std::vector<std::string>* tokens, vocabulary_tokens(header, origin));
  TokenizerConfig config;
  DSINFER_ASSIGN_OR_RETURN(config.bos_token, special_token(header, "tokenizer.ggml.bos_token_id", *tokens, origin));
  DSINFER_ASSIGN_OR_RETURN(config.eos_token, special_token(header, "tokenizer.ggml.eos_token_id", *tokens, origin));
  DSINFER_ASSIGN_OR_RETURN(config.pad_token, special_token(header, "tokenizer.ggml.padding_token_id", *tokens, origin));
  DSINFER_ASSIGN_OR_RETURN(config.add_bos_token, flag(header, "tokenizer.ggml.add_bos_token", origin));
  DSINFER_ASSIGN_OR_RETURN(config.add_eos_token, flag(header, "tokenizer.ggml.add_eos_token", origin));
  if (const GgufValue* chat_template = header.find("tokenizer.chat_template")) {
    if (!chat_template->as_string()) return error("{}: tokenizer.chat_template must be a string", origin);
    config.chat_template = *chat_template->as_string();
  }
  return config;
}

// The metadata holds the vocabulary tokenizer.json holds, so it is read as that file: one
// loader, with its checks and its errors, for both.
Result<Tokenizer> tokenizer_from_gguf(const GgufHeader& header, const std::string& origin) {
  DSINFER_ASSIGN_OR_RETURN(TokenizerConfig config, tokenizer_config_from_gguf(header, origin));
  DSINFER_ASSIGN_OR_RETURN(const std::vector<std::string>* tokens, vocabulary_tokens(header, origin));
  const GgufValue* pre_value = header.find("tokenizer.ggml.pre");
  const std::string pre = pre_value && pre_value->as_string() ? *pre_value->as_string() : "";
  std::optional<nlohmann::json> pre_tokenizer = named_pre_tokenizer(pre);
  if (!pre_tokenizer)
    return error("{}: tokenizer.ggml.pre is '{}'; dsinfer knows DeepSeek's 'deepseek-v3' and 'deepseek-llm' (V2) "
                 "and Kimi K2's 'kimi-k2' splits and does not guess another: give token ids instead of text "
                 "(run --prompt-tokens, logits --tokens)",
                 origin, pre);

  std::vector<int64_t> types(tokens->size(), kNormal);
  if (const GgufValue* v = header.find("tokenizer.ggml.token_type")) {
    if (!v->is_array() || v->element_type() == GgufValueType::kString ||
        v->element_type() == GgufValueType::kF32 || v->element_type() == GgufValueType::kF64 ||
        v->array_size() != tokens->size())
      return error("{}: tokenizer.ggml.token_type must be an integer array with one type per token ({}), found {} "
                   "entries",
                   origin, tokens->size(), v->array_size());
    types = v->ints();
  }
  const std::vector<std::string>* merges = string_array(header, "tokenizer.ggml.merges");
  if (!merges && header.find("tokenizer.ggml.merges"))
    return error("{}: tokenizer.ggml.merges must be an array of strings", origin);

  ByteLevelBpeDocument document;
  std::unordered_map<std::string_view, size_t> first_id;
  for (size_t id = 0; id < tokens->size(); ++id) {
    const std::string& text = (*tokens)[id];
    const int64_t type = types[id];
    if (type == kUnused) continue;
    if (type != kNormal && type != kControl && type != kUserDefined)
      return error("{}: token {} ('{}') has token_type {}; a byte-level BPE vocabulary has types 1 (normal), 3 "
                   "(control), 4 (user-defined) and 5 (unused)",
                   origin, id, text, type);
    if (text.empty()) return error("{}: token {} is empty", origin, id);
    if (auto [it, fresh] = first_id.emplace(text, id); !fresh)
      return error("{}: token '{}' appears twice, at ids {} and {}", origin, text, it->second, id);
    if (type == kNormal)
      document.add_token(text, static_cast<int64_t>(id));
    else
      document.add_added_token(text, static_cast<int64_t>(id), /*special=*/type == kControl);
  }
  if (merges)
    for (const std::string& merge : *merges) document.add_merge(merge);
  // tiktoken vocabularies (Kimi K2's) take a piece that is a token whole before merging.
  return Tokenizer::from_json(document.finish(*pre_tokenizer, /*ignore_merges=*/pre == "kimi-k2"), std::move(config),
                              origin);
}

Result<Tokenizer> load_model_tokenizer(const std::string& model_path) {
  if (!model_path.ends_with(".gguf")) {
    DSINFER_ASSIGN_OR_RETURN(Tokenizer tokenizer, has_tiktoken_vocabulary(model_path)
                                                      ? tokenizer_from_tiktoken(model_path)
                                                      : Tokenizer::load(model_path));
    DSINFER_RETURN_IF_ERROR(add_generation_end_ids(model_path, tokenizer));
    return tokenizer;
  }
  DSINFER_ASSIGN_OR_RETURN(GgufModelFiles files, GgufModelFiles::open(model_path));
  DSINFER_ASSIGN_OR_RETURN(Tokenizer tokenizer, tokenizer_from_gguf(files.metadata(), model_path));
  // llama.cpp's end-of-turn and end-of-message tokens end a reply as EOS does.
  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    const GgufValue* v = files.metadata().find(key);
    if (!v) continue;
    const std::optional<int64_t> id = v->type() == GgufValueType::kBool ? std::nullopt : v->as_int();
    if (!id || *id < 0 || *id > INT32_MAX) return error("{}: {} must be a token id", model_path, key);
    tokenizer.add_end_of_generation(static_cast<TokenId>(*id));
  }
  return tokenizer;
}

Result<TokenizerConfig> load_model_tokenizer_config(const std::string& model_path) {
  if (model_path.ends_with(".gguf")) {
    DSINFER_ASSIGN_OR_RETURN(GgufModelFiles files, GgufModelFiles::open(model_path));
    return tokenizer_config_from_gguf(files.metadata(), model_path);
  }
  return load_tokenizer_config(model_path);
}

}  // namespace dsinfer
