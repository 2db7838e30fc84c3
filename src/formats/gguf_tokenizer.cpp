#include "formats/gguf_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/json_member.h"

namespace dsinfer {
namespace {

using nlohmann::json;

constexpr int64_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;

Result<json> read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("cannot open {}", path.string());
  std::stringstream text;
  text << in.rdbuf();
  json value = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) return error("{}: not a JSON object", path.string());
  return value;
}

// Every "Regex" string under the pre-tokenizer, in order.
void collect_regexes(const json& node, std::vector<std::string>& out) {
  if (node.is_object()) {
    for (const auto& [k, v] : node.items()) {
      if (k == "Regex" && v.is_string()) out.push_back(v.get<std::string>());
      else collect_regexes(v, out);
    }
  } else if (node.is_array()) {
    for (const auto& v : node) collect_regexes(v, out);
  }
}

// llama.cpp's name for the pre-tokenizer, recognised by the split patterns that set
// DeepSeek's two families apart (digits in runs of at most three for V3, any run for
// the V2 "deepseek-llm" family).
std::string pre_tokenizer_name(const json& tokenizer, std::vector<std::string>& warnings) {
  std::vector<std::string> regexes;
  if (tokenizer.contains("pre_tokenizer")) collect_regexes(tokenizer["pre_tokenizer"], regexes);
  bool digits_1_3 = false, digits_any = false, newline_split = false;
  for (const auto& r : regexes) {
    digits_1_3 |= r == "\\p{N}{1,3}";
    digits_any |= r == "\\p{N}+";
    newline_split |= r == "[\r\n]";
  }
  if (digits_1_3) return "deepseek-v3";
  if (digits_any && newline_split) return "deepseek-llm";
  warnings.push_back("tokenizer.json's pre-tokenizer is neither DeepSeek V3's nor V2's: tokenizer.ggml.pre 'default'");
  return "default";
}

// The content of a tokenizer_config.json special token: a string or {"content": ...}.
std::string token_content(const json& config, const char* field) {
  auto it = config.find(field);
  if (it == config.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  return {};
}

}  // namespace

Result<bool> add_hf_tokenizer_metadata(const std::string& model_dir, int64_t vocab_size, GgufWriter& w,
                                       std::vector<std::string>& warnings) {
  namespace fs = std::filesystem;
  const fs::path tokenizer_path = fs::path(model_dir) / "tokenizer.json";
  std::error_code ec;
  if (!fs::exists(tokenizer_path, ec)) return false;
  DSINFER_ASSIGN_OR_RETURN(json tokenizer, read_json(tokenizer_path));
  const std::string origin = tokenizer_path.string();
  const json* model = tokenizer.contains("model") ? &tokenizer["model"] : nullptr;
  if (!model || !model->is_object() || model->value("type", "") != "BPE" || !model->contains("vocab") ||
      !(*model)["vocab"].is_object())
    return error("{}: expected a BPE model with a 'vocab' object (only byte-level BPE tokenizers are converted)", origin);
  if (vocab_size <= 0 || vocab_size > (int64_t{1} << 24)) return error("{}: vocab_size {} out of range", origin, vocab_size);

  std::vector<std::string> tokens(static_cast<size_t>(vocab_size));
  std::vector<int64_t> types(tokens.size(), kUnused);
  std::vector<bool> filled(tokens.size(), false);
  auto place = [&](int64_t id, const std::string& text, int64_t type) -> Status {
    if (id < 0 || id >= vocab_size)
      return error("{}: token '{}' has id {}, outside the model's vocab_size {}", origin, text, id, vocab_size);
    tokens[id] = text;
    types[id] = type;
    filled[id] = true;
    return Status::ok();
  };
  for (const auto& [text, id] : (*model)["vocab"].items()) {
    if (!id.is_number_integer()) return error("{}: vocab entry '{}' has no integer id", origin, text);
    DSINFER_RETURN_IF_ERROR(place(id.get<int64_t>(), text, kNormal));
  }
  if (tokenizer.contains("added_tokens") && tokenizer["added_tokens"].is_array()) {
    for (const json& added : tokenizer["added_tokens"]) {
      if (!added.is_object() || !added.contains("id") || !added["id"].is_number_integer() ||
          !added.contains("content") || !added["content"].is_string())
        return error("{}: an added_tokens entry lacks an integer 'id' or a string 'content'", origin);
      const bool special = json_member_or(added, "special", false);
      DSINFER_RETURN_IF_ERROR(
          place(added["id"].get<int64_t>(), added["content"].get<std::string>(), special ? kControl : kUserDefined));
    }
  }
  int64_t padding = 0;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (!filled[i]) {
      tokens[i] = fmt::format("[PAD{}]", i);
      ++padding;
    }

  std::vector<std::string> merges;
  if (model->contains("merges") && (*model)["merges"].is_array()) {
    for (const json& m : (*model)["merges"]) {
      if (m.is_string()) merges.push_back(m.get<std::string>());
      else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
        merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      else return error("{}: a merge is neither \"a b\" nor [\"a\", \"b\"]", origin);
    }
  }

  w.set("tokenizer.ggml.model", GgufValue::string("gpt2"));
  w.set("tokenizer.ggml.pre", GgufValue::string(pre_tokenizer_name(tokenizer, warnings)));
  std::unordered_map<std::string, int64_t> ids;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (filled[i]) ids.emplace(tokens[i], static_cast<int64_t>(i));
  w.set("tokenizer.ggml.tokens", GgufValue::string_array(std::move(tokens)));
  w.set("tokenizer.ggml.token_type", GgufValue::int_array(GgufValueType::kI32, std::move(types)));
  w.set("tokenizer.ggml.merges", GgufValue::string_array(std::move(merges)));

  // Special tokens and flags from tokenizer_config.json (ids looked up by content).
  const fs::path config_path = fs::path(model_dir) / "tokenizer_config.json";
  if (fs::exists(config_path, ec)) {
    DSINFER_ASSIGN_OR_RETURN(json config, read_json(config_path));
    const std::pair<const char*, const char*> specials[] = {{"bos_token", "tokenizer.ggml.bos_token_id"},
                                                            {"eos_token", "tokenizer.ggml.eos_token_id"},
                                                            {"pad_token", "tokenizer.ggml.padding_token_id"},
                                                            {"unk_token", "tokenizer.ggml.unknown_token_id"}};
    for (const auto& [field, key] : specials) {
      const std::string content = token_content(config, field);
      if (content.empty()) continue;
      auto it = ids.find(content);
      if (it == ids.end()) {
        warnings.push_back(fmt::format("{} '{}' of tokenizer_config.json is not in the vocabulary", field, content));
        continue;
      }
      w.set(key, GgufValue::u32(static_cast<uint32_t>(it->second)));
    }
    if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean())
      w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(config["add_bos_token"].get<bool>()));
    if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean())
      w.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(config["add_eos_token"].get<bool>()));
    if (config.contains("chat_template") && config["chat_template"].is_string())
      w.set("tokenizer.chat_template", GgufValue::string(config["chat_template"].get<std::string>()));
  } else {
    warnings.push_back("no tokenizer_config.json: BOS/EOS ids, add_bos and the chat template are not written");
  }
  if (padding > 0)
    warnings.push_back(fmt::format("{} ids of the vocab_size {} have no token; written as unused [PADn]", padding,
                                   vocab_size));
  return true;
}

}  // namespace dsinfer
