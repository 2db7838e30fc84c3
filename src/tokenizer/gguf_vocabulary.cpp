#include "tokenizer/gguf_vocabulary.h"

#include <iterator>
#include <unordered_map>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "formats/gguf_split.h"

namespace dsinfer {
namespace {

using nlohmann::json;

constexpr int64_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;

// The pre-tokenizers of tokenizer.json that llama.cpp's tokenizer.ggml.pre names stand for,
// from DeepSeek's own tokenizer.json files: V3 (and R1, V3.1, V3.2, V4) split digits in
// runs of up to three, V2 ("deepseek-llm") splits newlines, cased letters, ASCII and CJK
// punctuation, trailing spaces, CJK, and digit runs of any length. Three letters of V2's
// class are written as escapes: U+1F7D, U+1FD3 and U+1FDB end ranges, and in source
// text an editor's NFC normalization turns them into look-alikes that reverse the ranges.
json split(const char* regex) {
  return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
}

// Kimi K2 (a DeepSeek-V3 model with Moonshot's own tiktoken vocabulary): the pat_str of
// Moonshot's tokenization_kimi.py, in Oniguruma syntax as it stands there. Its classes
// intersect letters with [^\p{Han}] so that Han runs split on their own; camelCase words
// split at each capital. (llama.cpp approximates this split in code; the model was trained
// on Moonshot's.)
constexpr const char* kKimiK2Pattern =
    R"re([\p{Han}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|)re"
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|)re"
    R"re(\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

std::optional<json> pre_tokenizer_for(const std::string& pre) {
  std::vector<json> steps;
  if (pre == "deepseek-v3") {
    steps = {split("\\p{N}{1,3}"), split("[一-龥぀-ゟ゠-ヿ]+"),
             split("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
                   " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+")};
  } else if (pre == "deepseek-llm") {
    steps = {split("[\r\n]"),
             split("\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-"
                   "\u1F7Dᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-\u1FD3ῖ-\u1FDBῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆ"
                   "ﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+"),
             split("\\s?[!-/:-~！-／：-～‘-‟　-。]+"), split("\\s+$"), split("[一-龥ࠀ-一가-퟿]+"), split("\\p{N}+")};
  } else if (pre == "kimi-k2") {
    steps = {split(kKimiK2Pattern)};
  } else {
    return std::nullopt;
  }
  steps.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}});
  return json{{"type", "Sequence"}, {"pretokenizers", std::move(steps)}};
}

// `text` as a JSON string literal. Bytes that are not valid UTF-8 pass through, and the
// tokenizer.json parser then names them.
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + '"';
}

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
  std::optional<json> pre_tokenizer = pre_tokenizer_for(pre);
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

  // Written as text: building a json object of 129k tokens and merges and dumping it
  // took half a second, five times the rest of the load.
  std::string vocab, added;
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
    // Added tokens go in the vocabulary too: Hugging Face gives an added token its
    // vocabulary id, and numbers the others on from the vocabulary's size.
    fmt::format_to(std::back_inserter(vocab), "{}{}:{}", vocab.empty() ? "" : ",", json_string(text), id);
    if (type != kNormal) {
      const bool special = type == kControl;
      fmt::format_to(std::back_inserter(added),
                     "{}{{\"id\":{},\"content\":{},\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
                     "\"normalized\":{},\"special\":{}}}",
                     added.empty() ? "" : ",", id, json_string(text), !special, special);
    }
  }
  std::string merge_list;
  if (merges)
    for (const std::string& merge : *merges)
      fmt::format_to(std::back_inserter(merge_list), "{}{}", merge_list.empty() ? "" : ",", json_string(merge));
  const std::string document = fmt::format(
      "{{\"version\":\"1.0\",\"added_tokens\":[{}],\"pre_tokenizer\":{},"
      "\"decoder\":{{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true}},"
      "\"model\":{{\"type\":\"BPE\",\"fuse_unk\":false,\"byte_fallback\":false,\"ignore_merges\":false,"
      "\"vocab\":{{{}}},\"merges\":[{}]}}}}",
      added, pre_tokenizer->dump(), vocab, merge_list);
  return Tokenizer::from_json(document, std::move(config), origin);
}

Result<Tokenizer> load_model_tokenizer(const std::string& model_path) {
  if (!model_path.ends_with(".gguf")) return Tokenizer::load(model_path);
  DSINFER_ASSIGN_OR_RETURN(GgufModelFiles files, GgufModelFiles::open(model_path));
  return tokenizer_from_gguf(files.metadata(), model_path);
}

Result<TokenizerConfig> load_model_tokenizer_config(const std::string& model_path) {
  if (model_path.ends_with(".gguf")) {
    DSINFER_ASSIGN_OR_RETURN(GgufModelFiles files, GgufModelFiles::open(model_path));
    return tokenizer_config_from_gguf(files.metadata(), model_path);
  }
  return load_tokenizer_config(model_path);
}

}  // namespace dsinfer
