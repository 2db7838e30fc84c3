// Tool calls in a model's answer, parsed as text streams in and handed out as OpenAI
// tool_calls deltas: a call's name once, then its JSON arguments in pieces. Text before
// a call block is content (with the whitespace that separates it from the block
// dropped). The syntaxes are described in chat_format.h; the exact strings come from the
// chat templates and the official V3.2 / V4 encoders (tests/reference/chat_encoding).
//
// Where a call's end is found:
//   - V3 / V3.1 / Kimi K2 arguments are a JSON object: its end is found by following JSON strings
//     and brackets, so arguments that contain "<｜tool▁call▁end｜>" or backticks inside
//     a string are kept whole. Arguments that do not start with '{' run to the end tag.
//   - DSML string="true" values are verbatim text up to </｜DSML｜parameter> (the format
//     has no escaping, so a value cannot contain that tag); string="false" values are
//     JSON, followed like V3 arguments. The arguments handed out are the official
//     re-serialisation {"key": value, ...} with string values JSON-escaped.
// Malformed text inside a block is skipped up to the next tag the parser can use.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "server/chat_format.h"
#include "server/text_scan.h"

namespace dsinfer::server {

struct ToolCallDelta {
  size_t index = 0;
  std::string id;         // on the first delta, where the model names its calls (Kimi K2)
  std::string name;       // on the call's first delta only
  std::string arguments;  // the next piece of the JSON arguments text
};

struct ToolCallOutput {
  std::string content;
  std::vector<ToolCallDelta> calls;  // in order; consecutive pieces of one call are merged
};

// The text that opens a tool-call block in `syntax` and, with a function name, that
// call up to its arguments: appended to a prompt it makes the model's reply a tool call
// (tool_choice "required" or a named function). Empty for ToolCallSyntax::kNone.
std::string forced_call_opening(ToolCallSyntax syntax, std::string_view function_name);

class ToolCallParser {
 public:
  explicit ToolCallParser(ToolCallSyntax syntax);

  ToolCallOutput push(std::string_view text);
  // End of the reply: held-back content, and whatever an unfinished call had (its JSON
  // closed where the parser wrote the opening itself).
  ToolCallOutput finish();

  size_t calls() const { return calls_; }  // calls whose name has been handed out

 private:
  enum class State {
    kContent,      // answer text, looking for the block tag
    kBlock,        // inside a block, between calls
    kCallType,     // V3: "function" up to <｜tool▁sep｜>
    kCallName,     // up to the name's terminator
    kFenceOpen,    // V3: ```json before the arguments
    kArgs,         // V3/V3.1 arguments
    kArgsJson,     // ... being scanned as JSON
    kArgsRaw,      // ... not JSON: raw up to the end tag
    kCallEnd,      // skip to the call's end tag
    kParams,       // DSML: between parameters of one invoke
    kParamName,    // DSML: name="KEY" string="
    kParamKind,    // DSML: true|false">
    kValueString,  // DSML string value up to </｜DSML｜parameter>
    kValueStart,   // DSML non-string value: first byte decides JSON or raw
    kValueJson,
    kValueRaw,
    kValueEnd,     // skip to </｜DSML｜parameter>
  };

  void run(ToolCallOutput& out, bool at_end);
  bool step(ToolCallOutput& out, bool at_end);
  bool dsml() const;
  void skip_space();
  // Takes held text up to `terminator` (consumed too) into `into`; without it, all but a
  // possible partial terminator (everything at the end). Returns whether it was found.
  bool take_until(std::string_view terminator, std::string& into, bool at_end);
  void emit_args(ToolCallOutput& out, std::string_view piece);
  void start_call(ToolCallOutput& out);

  ToolCallSyntax syntax_;
  State state_ = State::kContent;
  std::string held_;
  std::string field_;          // name / key / attribute being read
  std::string key_;            // DSML: the current parameter's name
  size_t calls_ = 0;
  bool params_open_ = false;   // DSML: "{" written for the current invoke
  bool value_written_ = false; // DSML: some byte of the current non-string value written
  JsonValueScanner scanner_;
};

}  // namespace dsinfer::server
