#include "server/chat_output.h"

namespace dsinfer::server {

ChatOutputParser::ChatOutputParser(const ChatFormat& format, bool parse_tools, bool starts_in_reasoning)
    : reasoning_(format.reasoning, starts_in_reasoning),
      tools_(parse_tools ? format.tool_calls : ToolCallSyntax::kNone) {}

MessageDelta ChatOutputParser::push(std::string_view text) {
  MessageDelta out;
  add(out, reasoning_.push(text), /*at_end=*/false);
  return out;
}

MessageDelta ChatOutputParser::finish() {
  MessageDelta out;
  add(out, reasoning_.finish(), /*at_end=*/true);
  return out;
}

void ChatOutputParser::add(MessageDelta& out, ReasoningSplit split, bool at_end) {
  out.reasoning = std::move(split.reasoning);
  ToolCallOutput answer = tools_.push(split.content);
  if (at_end) {
    ToolCallOutput rest = tools_.finish();
    answer.content += rest.content;
    for (ToolCallDelta& d : rest.calls) {
      if (!answer.calls.empty() && answer.calls.back().index == d.index && d.name.empty()) {
        answer.calls.back().arguments += d.arguments;
      } else {
        answer.calls.push_back(std::move(d));
      }
    }
  }
  out.content = std::move(answer.content);
  out.tool_calls = std::move(answer.calls);
}

}  // namespace dsinfer::server
