#include "server/chat_format.h"

namespace dsinfer::server {

ChatFormat detect_chat_format(std::string_view t) {
  const auto has = [&](std::string_view s) { return t.find(s) != std::string_view::npos; };
  ChatFormat f;
  if (has("｜DSML｜tool_calls")) {
    f.tool_calls = ToolCallSyntax::kDsmlV4;
  } else if (has("｜DSML｜function_calls")) {
    f.tool_calls = ToolCallSyntax::kDsmlV32;
  } else if (has("<｜tool▁sep｜>")) {
    f.tool_calls = has("```json") ? ToolCallSyntax::kV3 : ToolCallSyntax::kV31;
  } else if (has("<|tool_call_begin|>")) {
    f.tool_calls = ToolCallSyntax::kKimiK2;
  }
  f.reasoning = has("<think>") || has("</think>") || has("｜DSML｜");
  return f;
}

std::string_view to_string(ToolCallSyntax syntax) {
  switch (syntax) {
    case ToolCallSyntax::kNone: return "none";
    case ToolCallSyntax::kV3: return "v3";
    case ToolCallSyntax::kV31: return "v3.1";
    case ToolCallSyntax::kDsmlV32: return "v3.2";
    case ToolCallSyntax::kDsmlV4: return "v4";
    case ToolCallSyntax::kKimiK2: return "kimi-k2";
  }
  return "none";
}

std::optional<ToolCallSyntax> parse_tool_call_syntax(std::string_view name) {
  for (ToolCallSyntax s : {ToolCallSyntax::kNone, ToolCallSyntax::kV3, ToolCallSyntax::kV31, ToolCallSyntax::kDsmlV32,
                           ToolCallSyntax::kDsmlV4, ToolCallSyntax::kKimiK2}) {
    if (to_string(s) == name) return s;
  }
  return std::nullopt;
}

}  // namespace dsinfer::server
