#include "server/chat_output.h"

#include <utility>

namespace dsinfer::server {

ChatOutputParser::ChatOutputParser(const ChatFormat& format, bool parse_tools, bool starts_in_reasoning)
    : reasoning_(format.reasoning, starts_in_reasoning),
      tools_(parse_tools ? format.tool_calls : ToolCallSyntax::kNone) {}

void ChatOutputParser::prime(std::string_view text) { add(primed_, reasoning_.push(text), /*at_end=*/false); }

MessageDelta ChatOutputParser::push(std::string_view text) {
  MessageDelta out = std::exchange(primed_, {});
  add(out, reasoning_.push(text), /*at_end=*/false);
  return out;
}

MessageDelta ChatOutputParser::finish() {
  MessageDelta out = std::exchange(primed_, {});
  add(out, reasoning_.finish(), /*at_end=*/true);
  return out;
}

// Appends to `out` (which may hold a primed delta).
void ChatOutputParser::add(MessageDelta& out, ReasoningSplit split, bool at_end) {
  out.reasoning += split.reasoning;
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
  out.content += answer.content;
  for (ToolCallDelta& d : answer.calls) {
    if (!out.tool_calls.empty() && out.tool_calls.back().index == d.index && d.name.empty()) {
      out.tool_calls.back().arguments += d.arguments;
    } else {
      out.tool_calls.push_back(std::move(d));
    }
  }
}

}  // namespace dsinfer::server
