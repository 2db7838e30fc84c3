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

namespace {

// Appends deltas, merging a call's next argument piece into the piece before it.
void append_calls(std::vector<ToolCallDelta>& into, std::vector<ToolCallDelta>& from) {
  for (ToolCallDelta& d : from) {
    if (!into.empty() && into.back().index == d.index && d.name.empty()) {
      into.back().arguments += d.arguments;
    } else {
      into.push_back(std::move(d));
    }
  }
}

}  // namespace

// Appends to `out` (which may hold a primed delta).
void ChatOutputParser::add(MessageDelta& out, ReasoningSplit split, bool at_end) {
  out.reasoning += split.reasoning;
  ToolCallOutput answer = tools_.push(split.content);
  if (at_end) {
    ToolCallOutput rest = tools_.finish();
    answer.content += rest.content;
    append_calls(answer.calls, rest.calls);
  }
  out.content += answer.content;
  append_calls(out.tool_calls, answer.calls);
}

}  // namespace dsinfer::server
