// DeepSeek-V3.2's encode_messages (encoding_dsv32.py): one string per message, the
// assistant opener closing or opening thinking, tool results in <function_results>.
#include <fmt/format.h>

#include "tokenizer/dsml/dsml_common.h"

namespace dsinfer::dsml {
namespace {

// The tool instructions of a system (or developer) message, word for word.
Result<std::string> v32_tools_block(const Json& tools) {
  DSINFER_ASSIGN_OR_RETURN(std::string schemas, tool_schemas(tools));
  return fmt::format(
      "## Tools\n\n"
      "You have access to a set of tools you can use to answer the user's question.\n"
      "You can invoke functions by writing a \"<{0}function_calls>\" block like the following as part of your reply "
      "to the user:\n"
      "<{0}function_calls>\n"
      "<{0}invoke name=\"$FUNCTION_NAME\">\n"
      "<{0}parameter name=\"$PARAMETER_NAME\" string=\"true|false\">$PARAMETER_VALUE</{0}parameter>\n"
      "...\n"
      "</{0}invoke>\n"
      "<{0}invoke name=\"$FUNCTION_NAME2\">\n"
      "...\n"
      "</{0}invoke>\n"
      "</{0}function_calls>\n\n"
      "String and scalar parameters should be specified as is without any escaping or quotes, while lists and "
      "objects should use JSON format. The \"string\" attribute should be set to \"true\" for string type parameters "
      "and \"false\" for other types (numbers, booleans, arrays, objects).\n\n"
      "If the thinking_mode is enabled, then after function results you should strongly consider outputting a "
      "thinking block. Here is an example:\n\n"
      "<{0}function_calls>\n...\n</{0}function_calls>\n\n"
      "<function_results>\n...\n</function_results>\n\n"
      "{1}...thinking about results{2}\n\n"
      "Here are the functions available in JSONSchema format:\n"
      "<functions>\n{3}\n</functions>\n",
      kDsml, kThink, kEndThink, schemas);
}

class V32Renderer {
 public:
  V32Renderer(const std::vector<Message>& msgs, bool thinking)
      : msgs_(msgs), thinking_(thinking), last_user_(last_user_index(msgs)) {}

  Result<std::string> render(size_t index) const {
    const auto i = static_cast<std::ptrdiff_t>(index);
    const Message& m = msgs_[index];
    const Json& j = *m.json;
    // The turn the model answers next opens thinking; every other turn closes it at once.
    const std::string_view opener = thinking_ && i == last_user_ ? kThink : kEndThink;
    switch (m.role) {
      case Role::kSystem: {
        DSINFER_ASSIGN_OR_RETURN(std::string extra, instructions(j, v32_tools_block));
        return std::string(string_or_empty(j, "content")) + extra;
      }
      case Role::kDeveloper: {
        DSINFER_ASSIGN_OR_RETURN(std::string extra, instructions(j, v32_tools_block));
        return fmt::format("{}{}\n\n# The user's message is: {}{}{}", kUser, extra, string_or_empty(j, "content"),
                           kAssistant, opener);
      }
      case Role::kUser: return fmt::format("{}{}{}{}", kUser, py_format(j, "content"), kAssistant, opener);
      case Role::kTool: return tool_result(index);
      case Role::kAssistant: return assistant(index);
      case Role::kLatestReminder: break;  // V4 only; check_message rejects it
    }
    return error("{}: role not supported by DeepSeek-V3.2", m.where);
  }

 private:
  // The k-th tool message after an assistant message answers its k-th call; the first
  // opens <function_results>, the one answering the last call closes it.
  Result<std::string> tool_result(size_t index) const {
    std::ptrdiff_t a = static_cast<std::ptrdiff_t>(index) - 1;
    while (a >= 0 && msgs_[a].role == Role::kTool) --a;
    const size_t nth = index - a;  // 1-based
    const Json* calls = a >= 0 ? field(*msgs_[a].json, "tool_calls") : nullptr;
    if (a < 0 || msgs_[a].role != Role::kAssistant || !truthy(calls) || calls->size() < nth) {
      return error("{}: tool message does not answer a tool call (it is result {} after the last assistant message)",
                   msgs_[index].where, nth);
    }
    std::string out = nth == 1 ? "\n\n<function_results>" : "";
    out += "\n<result>" + py_format(*msgs_[index].json, "content") + "</result>";
    if (nth == calls->size()) {
      const bool think = thinking_ && static_cast<std::ptrdiff_t>(index) >= last_user_;
      out += fmt::format("\n</function_results>\n\n{}", think ? kThink : kEndThink);
    }
    return out;
  }

  // Reasoning is shown only for turns after the last user message, in thinking mode.
  Result<std::string> assistant(size_t index) const {
    const Message& m = msgs_[index];
    const Json& j = *m.json;
    const bool has_calls = truthy(field(j, "tool_calls"));
    std::string calls;
    if (has_calls) {
      DSINFER_ASSIGN_OR_RETURN(calls, dsml_calls(m, "function_calls", /*lenient_arguments=*/false));
    }
    std::string reasoning;
    if (thinking_ && static_cast<std::ptrdiff_t>(index) > last_user_) {
      if (!truthy(field(j, "reasoning_content")) && !has_calls) {
        return error("{}: in thinking mode an assistant message after the last user message needs reasoning_content "
                     "or tool_calls",
                     m.where);
      }
      reasoning = fmt::format("{}{}", string_or_empty(j, "reasoning_content"), kEndThink);
    }
    return fmt::format("{}{}{}{}", reasoning, string_or_empty(j, "content"), calls, kEos);
  }

  const std::vector<Message>& msgs_;
  bool thinking_;
  std::ptrdiff_t last_user_;
};

}  // namespace

Result<std::string> render_v32(std::vector<Message> msgs, size_t n_context, const DsmlChatInputs& inputs) {
  if (inputs.reasoning_effort != ReasoningEffort::kDefault)
    return error("reasoning_effort is a DeepSeek-V4 option; DeepSeek-V3.2 has none");
  std::string out = inputs.add_bos && n_context == 0 ? std::string(kBos) : std::string();
  // Thinking mode with drop_thinking forgets developer messages before the last user
  // message (earlier reasoning is never rendered anyway). The script renders from index
  // len(context) of the shortened list; counting the kept context instead gives the same
  // prompt whenever the script's is sound.
  size_t start = n_context;
  if (inputs.thinking && inputs.drop_thinking) {
    const std::ptrdiff_t last_user = last_user_index(msgs);
    std::vector<Message> kept;
    start = 0;
    for (size_t i = 0; i < msgs.size(); ++i) {
      if (msgs[i].role == Role::kDeveloper && static_cast<std::ptrdiff_t>(i) < last_user) continue;
      if (i < n_context) ++start;
      kept.push_back(std::move(msgs[i]));
    }
    msgs = std::move(kept);
  }
  const V32Renderer renderer(msgs, inputs.thinking);
  for (size_t i = start; i < msgs.size(); ++i) {
    DSINFER_ASSIGN_OR_RETURN(std::string piece, renderer.render(i));
    out += piece;
  }
  return out;
}

}  // namespace dsinfer::dsml
