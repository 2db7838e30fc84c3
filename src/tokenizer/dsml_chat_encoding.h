// The prompt format of DeepSeek-V3.2 and DeepSeek-V4. These checkpoints ship no Jinja
// chat template: DeepSeek publishes Python encoders beside them (encoding_dsv32.py,
// encoding_dsv4.py; thinking and chat modes, tool calls written in DSML). This renders
// what their encode_messages() returns, byte for byte (tests/fixtures/chat_encoding holds
// goldens; tests/reference/chat_encoding/README.md describes the format).
//
//   DsmlChatInputs in{.messages = request["messages"], .tools = request["tools"], .thinking = true};
//   DSINFER_ASSIGN_OR_RETURN(std::string prompt, render_dsml_chat(DsmlVersion::kV32, in));
//
// The prompt starts with BOS and, after a final user message, ends with the assistant
// turn's opening (there is no add_generation_prompt switch in the scripts).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace dsinfer {

enum class DsmlVersion { kV32, kV4 };

// V4's reasoning_effort: "max" prefixes the conversation with an instruction to think
// exhaustively (thinking mode only); "high" and none add nothing.
enum class ReasoningEffort { kDefault, kHigh, kMax };

struct DsmlChatInputs {
  // OpenAI-style messages: role (system, user, assistant, tool, developer; V4 also
  // latest_reminder), content, reasoning_content, tool_calls, tool_call_id, tools and
  // response_format (on system/developer messages); V4 also task and wo_eos.
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  // The request's tool list ([{"type": "function", "function": {...}}]). The scripts
  // take tools on a system message: they go on the leading system message, or on an
  // empty one put in front when the conversation has none.
  std::optional<nlohmann::ordered_json> tools;
  // Earlier messages whose rendering the caller already has: only `messages` is
  // rendered (no BOS), but "last user message" is found over context + messages.
  nlohmann::ordered_json context = nlohmann::ordered_json::array();
  bool thinking = false;       // thinking mode ("thinking"), else chat mode ("chat")
  // Thinking mode: forget developer messages before the last user message and (V4, when
  // no message has tools) the reasoning of turns before it.
  bool drop_thinking = true;
  bool add_bos = true;         // the scripts' add_default_bos_token
  ReasoningEffort reasoning_effort = ReasoningEffort::kDefault;  // V4 only
};

// Fails on what the scripts reject (a tool message that answers no call, an assistant
// turn without reasoning or calls after the last user message in V3.2 thinking mode,
// non-JSON V3.2 call arguments) and on malformed input, naming the message:
// "messages[2]: unknown role 'bot'".
Result<std::string> render_dsml_chat(DsmlVersion version, const DsmlChatInputs& inputs);

}  // namespace dsinfer
