#include "tokenizer/tokenizer_config.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/json_member.h"

namespace dsinfer {
namespace {

using nlohmann::json;

Result<std::optional<std::string>> token_field(const json& config, const char* key,
                                               const std::string& origin) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::optional<std::string>{};
  if (it->is_string()) return std::optional<std::string>{it->get<std::string>()};
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string())
      return std::optional<std::string>{content->get<std::string>()};
  }
  return error("{}: field '{}' must be a string or an object with a string 'content'", origin, key);
}

Result<bool> bool_field(const json& config, const char* key, bool fallback, const std::string& origin) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) return error("{}: field '{}' must be true or false", origin, key);
  return it->get<bool>();
}

Result<std::optional<std::string>> chat_template_field(const json& config, const std::string& origin) {
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) return std::optional<std::string>{};
  if (it->is_string()) return std::optional<std::string>{it->get<std::string>()};
  if (it->is_array()) {
    for (const json& entry : *it) {
      if (json_member_or<std::string>(entry, "name", "") == "default" && entry.contains("template") &&
          entry["template"].is_string())
        return std::optional<std::string>{entry["template"].get<std::string>()};
    }
    return error("{}: 'chat_template' is a list without an entry named \"default\"", origin);
  }
  return error("{}: 'chat_template' must be a string or a list of {{name, template}}", origin);
}

}  // namespace

Result<TokenizerConfig> parse_tokenizer_config(const std::string& json_text, const std::string& origin) {
  json config = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) return error("{}: not valid JSON", origin);
  if (!config.is_object()) return error("{}: expected a JSON object", origin);
  TokenizerConfig result;
  DSINFER_ASSIGN_OR_RETURN(result.bos_token, token_field(config, "bos_token", origin));
  DSINFER_ASSIGN_OR_RETURN(result.eos_token, token_field(config, "eos_token", origin));
  DSINFER_ASSIGN_OR_RETURN(result.pad_token, token_field(config, "pad_token", origin));
  DSINFER_ASSIGN_OR_RETURN(result.add_bos_token, bool_field(config, "add_bos_token", false, origin));
  DSINFER_ASSIGN_OR_RETURN(result.add_eos_token, bool_field(config, "add_eos_token", false, origin));
  DSINFER_ASSIGN_OR_RETURN(result.chat_template, chat_template_field(config, origin));
  return result;
}

Result<TokenizerConfig> load_tokenizer_config(const std::string& model_dir) {
  const std::string path = model_dir + "/tokenizer_config.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("cannot open {}", path);
  std::stringstream text;
  text << in.rdbuf();
  DSINFER_ASSIGN_OR_RETURN(TokenizerConfig config, parse_tokenizer_config(text.str(), path));
  // transformers (4.47 and later) saves the template beside the config and prefers that
  // file to the config's field when both are there.
  const std::string template_path = model_dir + "/chat_template.jinja";
  if (std::ifstream sidecar{template_path, std::ios::binary}) {
    std::stringstream jinja;
    jinja << sidecar.rdbuf();
    if (sidecar.bad()) return error("cannot read {}", template_path);
    config.chat_template = jinja.str();
  }
  return config;
}

}  // namespace dsinfer
