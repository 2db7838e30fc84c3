// A chat reply as OpenAI fields, as text streams in: reasoning_content, content and
// tool_calls. Reasoning is split off first; tool calls are looked for in the answer only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/chat_format.h"
#include "server/reasoning_parser.h"
#include "server/tool_call_parser.h"

namespace dsinfer::server {

struct MessageDelta {
  std::string reasoning;
  std::string content;
  std::vector<ToolCallDelta> tool_calls;

  bool empty() const { return reasoning.empty() && content.empty() && tool_calls.empty(); }
};

class ChatOutputParser {
 public:
  // parse_tools: the request offered tools (and tool_choice is not "none").
  // starts_in_reasoning: the prompt ends inside an opened <think> block.
  ChatOutputParser(const ChatFormat& format, bool parse_tools, bool starts_in_reasoning);

  // Text the prompt already wrote for the reply (a forced tool-call opening): parsed as
  // if generated, its delta handed out with the first push.
  void prime(std::string_view text);
  MessageDelta push(std::string_view text);
  MessageDelta finish();
  size_t tool_calls() const { return tools_.calls(); }

 private:
  void add(MessageDelta& out, ReasoningSplit split, bool at_end);

  ReasoningParser reasoning_;
  ToolCallParser tools_;
  MessageDelta primed_;
};

}  // namespace dsinfer::server
