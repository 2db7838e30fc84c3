// Pieces the DeepSeek-V3.2 and V4 prompt encoders share (see tokenizer/dsml_chat_encoding.h):
// the checked message list, Python's truthiness and json.dumps as the official scripts use
// them, and the DSML tool-call block that both versions write with a different tag.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tokenizer/dsml_chat_encoding.h"

namespace dsinfer::dsml {

using Json = nlohmann::ordered_json;

inline constexpr std::string_view kBos = "<｜begin▁of▁sentence｜>";
inline constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";
inline constexpr std::string_view kUser = "<｜User｜>";
inline constexpr std::string_view kAssistant = "<｜Assistant｜>";
inline constexpr std::string_view kThink = "<think>";
inline constexpr std::string_view kEndThink = "</think>";
inline constexpr std::string_view kDsml = "｜DSML｜";

enum class Role { kSystem, kDeveloper, kUser, kAssistant, kTool, kLatestReminder };

// One message of the conversation (context first, then the new messages), its role and
// field types already checked by check_message.
struct Message {
  Role role;
  const Json* json;   // the message object as given (never null)
  std::string where;  // "messages[3]" or "context[1]", for errors
};

// m.get(key): nullptr when absent.
const Json* field(const Json& m, std::string_view key);
// Python's bool(m.get(key)): null, false, 0, "" and empty containers are false.
bool truthy(const Json* v);
// (m.get(key) or ""): the string, or "" for anything falsy (check_message allows only
// strings and null where this is used).
std::string_view string_or_empty(const Json& m, std::string_view key);
// f"{m.get(key)}" for a string or null/absent value: Python prints None as "None".
std::string py_format(const Json& m, std::string_view key);

// Python's json.dumps(value, ensure_ascii=False): ", " and ": " separators, key order kept.
Result<std::string> dumps(const Json& value);

// Checks the fields the renderers read, so that they can index without further checks:
// a known role for the version, string (or null) content, tools as [{"function": {"name"}}],
// tool calls as [{"function": {"name", "arguments"}}], a known V4 task.
Result<Message> check_message(const Json& m, std::string where, DsmlVersion version);

// A tool list: [{"function": {"name": ..., ...}}, ...]; `where` names it in errors.
Status check_tools(const Json& tools, const std::string& where);

// Index of the last user or developer message, -1 when none.
std::ptrdiff_t last_user_index(std::span<const Message> msgs);

// "## Response Format:..." followed by the schema as JSON.
Result<std::string> response_format_block(const Json& schema);
// "\n\n" + the version's tools block and "\n\n" + the response-format block, each when
// message `m` has tools / a response_format.
Result<std::string> instructions(const Json& m, Result<std::string> (*tools_block)(const Json& tools));
// One json.dumps(tool["function"]) per line.
Result<std::string> tool_schemas(const Json& tools);
// "\n\n<｜DSML｜{block}>\n" + one invoke per call + "\n</｜DSML｜{block}>". Arguments are a
// JSON object (as text, as OpenAI sends it, or already parsed); with lenient_arguments
// (V4) text that is not JSON becomes one string parameter named "arguments".
Result<std::string> dsml_calls(const Message& m, std::string_view block, bool lenient_arguments);

// The per-version renderers, over the full (context + messages) list after the tools of
// the request were attached; `n_context` leading entries are context (not rendered).
Result<std::string> render_v32(std::vector<Message> msgs, size_t n_context, const DsmlChatInputs& inputs);
Result<std::string> render_v4(std::vector<Message> msgs, size_t n_context, const DsmlChatInputs& inputs);

}  // namespace dsinfer::dsml
