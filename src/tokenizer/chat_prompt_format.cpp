#include "tokenizer/chat_prompt_format.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tokenizer/dsml_chat_encoding.h"

namespace dsinfer {
namespace {

using nlohmann::ordered_json;

// DIR/config.json's model_type; "" when the folder has no config.json.
Result<std::string> read_model_type(const std::string& model_dir) {
  const std::string path = model_dir + "/config.json";
  if (!std::filesystem::exists(path)) return std::string();
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("cannot open {}", path);
  std::stringstream text;
  text << in.rdbuf();
  const auto config = ordered_json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) return error("{}: not a JSON object", path);
  auto it = config.find("model_type");
  if (it == config.end() || it->is_null()) return std::string();
  if (!it->is_string()) return error("{}: model_type must be a string", path);
  return it->get<std::string>();
}

Result<bool> bool_kwarg(const ordered_json& kwargs, const char* name, bool fallback) {
  auto it = kwargs.find(name);
  if (it == kwargs.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) return error("chat_template_kwargs.{}: must be true or false", name);
  return it->get<bool>();
}

Result<ReasoningEffort> reasoning_effort_kwarg(const ordered_json& kwargs) {
  auto it = kwargs.find("reasoning_effort");
  if (it == kwargs.end() || it->is_null()) return ReasoningEffort::kDefault;
  if (*it == "high") return ReasoningEffort::kHigh;
  if (*it == "max") return ReasoningEffort::kMax;
  return error("chat_template_kwargs.reasoning_effort: must be \"high\", \"max\" or null, got {}", it->dump());
}

}  // namespace

Result<ChatPromptFormat> ChatPromptFormat::load(const std::string& model_dir, const TokenizerConfig& config) {
  if (config.chat_template) return create(config, "");
  DSINFER_ASSIGN_OR_RETURN(std::string model_type, read_model_type(model_dir));
  return create(config, model_type);
}

Result<ChatPromptFormat> ChatPromptFormat::create(const TokenizerConfig& config, std::string_view model_type) {
  ChatPromptFormat f;
  f.bos_token_ = config.bos_token;
  f.eos_token_ = config.eos_token;
  f.model_type_ = model_type;
  if (config.chat_template) {
    DSINFER_ASSIGN_OR_RETURN(ChatTemplate parsed, ChatTemplate::parse(*config.chat_template));
    f.template_ = std::move(parsed);
    f.kind_ = Kind::kJinja;
  } else if (model_type == "deepseek_v32") {
    f.kind_ = Kind::kDsmlV32;
  } else if (model_type == "deepseek_v4") {
    f.kind_ = Kind::kDsmlV4;
  }
  return f;
}

std::string_view ChatPromptFormat::description() const {
  switch (kind_) {
    case Kind::kNone: return "no chat format";
    case Kind::kJinja: return "the chat template";
    case Kind::kDsmlV32: return "the DeepSeek-V3.2 encoder";
    case Kind::kDsmlV4: return "the DeepSeek-V4 encoder";
  }
  return "no chat format";
}

Result<std::string> ChatPromptFormat::render(const ChatPromptInputs& inputs) const {
  switch (kind_) {
    case Kind::kNone:
      return error("no chat format: tokenizer_config.json has no chat_template and model_type '{}' has no built-in "
                   "encoder (deepseek_v32 and deepseek_v4 have)",
                   model_type_);
    case Kind::kJinja:
      return render_chat_template(*template_, {.messages = inputs.messages,
                                               .tools = inputs.tools,
                                               .add_generation_prompt = inputs.add_generation_prompt,
                                               .bos_token = bos_token_,
                                               .eos_token = eos_token_,
                                               .extra = inputs.kwargs});
    case Kind::kDsmlV32:
    case Kind::kDsmlV4: break;
  }
  const bool v4 = kind_ == Kind::kDsmlV4;
  if (!inputs.kwargs.is_object()) return error("chat_template_kwargs: must be a JSON object");
  DsmlChatInputs in{.messages = inputs.messages, .tools = inputs.tools};
  DSINFER_ASSIGN_OR_RETURN(in.thinking, bool_kwarg(inputs.kwargs, "thinking", false));
  DSINFER_ASSIGN_OR_RETURN(in.drop_thinking, bool_kwarg(inputs.kwargs, "drop_thinking", true));
  if (v4) {
    DSINFER_ASSIGN_OR_RETURN(in.reasoning_effort, reasoning_effort_kwarg(inputs.kwargs));
  }
  return render_dsml_chat(v4 ? DsmlVersion::kV4 : DsmlVersion::kV32, in);
}

}  // namespace dsinfer
