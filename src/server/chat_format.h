// How a model writes reasoning and tool calls in its output, decided once per model from
// its chat template text (the template renders earlier calls the way the model writes
// new ones, so it names the syntax); a model on the built-in V3.2 / V4 encoder gets that
// version's DSML and reasoning (PromptBuilder::create):
//   - contains "｜DSML｜tool_calls"      -> DSML, V4 block tag
//   - contains "｜DSML｜function_calls"  -> DSML, V3.2 block tag
//   - contains "<｜tool▁sep｜>" and "```json" -> V3 / R1 / V2.5: type, name, fenced JSON
//   - contains "<｜tool▁sep｜>" only      -> V3.1: name<｜tool▁sep｜>JSON
//   - contains "<|tool_call_begin|>"    -> Kimi K2: functions.NAME:INDEX, then JSON
//   - otherwise no tool-call syntax (e.g. V2-Lite, Kimi K2's first template, which
//     renders no calls; --tool-call-syntax kimi-k2 names it): calls stay text.
// Reasoning (<think>...</think>) is parsed when the template mentions <think> or </think>
// (R1, V3.1, the distills) or writes DSML (V3.2 and V4 always have a thinking mode).
#pragma once

#include <optional>
#include <string_view>

namespace dsinfer::server {

enum class ToolCallSyntax {
  kNone,
  kV3,       // <｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>
  kV31,      // <｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGS<｜tool▁call▁end｜>
  kDsmlV32,  // <｜DSML｜function_calls> of <｜DSML｜invoke name=...> with one parameter tag per argument
  kDsmlV4,   // the same with the block tag <｜DSML｜tool_calls>
  // <|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:INDEX<|tool_call_argument_begin|>ARGS
  // <|tool_call_end|>...<|tool_calls_section_end|>: the call's id is the text before the
  // arguments (Kimi K2's templates render tool_call['id'] there).
  kKimiK2,
};

struct ChatFormat {
  ToolCallSyntax tool_calls = ToolCallSyntax::kNone;
  bool reasoning = false;
};

ChatFormat detect_chat_format(std::string_view chat_template);

// Names for logs and the --tool-call-syntax option: none, v3, v3.1, v3.2, v4, kimi-k2.
std::string_view to_string(ToolCallSyntax syntax);
std::optional<ToolCallSyntax> parse_tool_call_syntax(std::string_view name);

}  // namespace dsinfer::server
