#include "server/tool_call_parser.h"

#include <algorithm>
#include <initializer_list>

#include <fmt/format.h>

namespace dsinfer::server {
namespace {

// V3 / V3.1 tags (single tokens of the V3 vocabulary, ids 128806..128814).
constexpr std::string_view kCallsBegin = "<｜tool▁calls▁begin｜>";
constexpr std::string_view kCallsEnd = "<｜tool▁calls▁end｜>";
constexpr std::string_view kCallBegin = "<｜tool▁call▁begin｜>";
constexpr std::string_view kCallEnd = "<｜tool▁call▁end｜>";
constexpr std::string_view kSep = "<｜tool▁sep｜>";
constexpr std::string_view kFence = "```json";
constexpr std::string_view kFenceClose = "```";

// Kimi K2 (single tokens of its vocabulary).
constexpr std::string_view kKimiBlock = "<|tool_calls_section_begin|>";
constexpr std::string_view kKimiBlockEnd = "<|tool_calls_section_end|>";
constexpr std::string_view kKimiCallBegin = "<|tool_call_begin|>";
constexpr std::string_view kKimiCallEnd = "<|tool_call_end|>";
constexpr std::string_view kKimiArgs = "<|tool_call_argument_begin|>";
constexpr std::string_view kKimiFunctionPrefix = "functions.";

// DSML (V3.2 / V4).
constexpr std::string_view kDsmlBlockV32 = "<｜DSML｜function_calls>";
constexpr std::string_view kDsmlBlockEndV32 = "</｜DSML｜function_calls>";
constexpr std::string_view kDsmlBlockV4 = "<｜DSML｜tool_calls>";
constexpr std::string_view kDsmlBlockEndV4 = "</｜DSML｜tool_calls>";
constexpr std::string_view kInvokeBegin = "<｜DSML｜invoke name=\"";
constexpr std::string_view kInvokeEnd = "</｜DSML｜invoke>";
constexpr std::string_view kParamBegin = "<｜DSML｜parameter name=\"";
constexpr std::string_view kParamEnd = "</｜DSML｜parameter>";
constexpr std::string_view kAttrEnd = "\">";
constexpr std::string_view kStringAttr = "\" string=\"";

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_json_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_json_space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string forced_call_opening(ToolCallSyntax syntax, std::string_view function_name) {
  const std::string name(function_name);
  switch (syntax) {
    case ToolCallSyntax::kNone: return "";
    case ToolCallSyntax::kV3:
      return std::string(kCallsBegin) + std::string(kCallBegin) +
             (name.empty() ? "" : "function" + std::string(kSep) + name + "\n" + std::string(kFence) + "\n");
    case ToolCallSyntax::kV31:
      return std::string(kCallsBegin) + std::string(kCallBegin) + (name.empty() ? "" : name + std::string(kSep));
    case ToolCallSyntax::kDsmlV32:
    case ToolCallSyntax::kDsmlV4: {
      const std::string_view block = syntax == ToolCallSyntax::kDsmlV32 ? kDsmlBlockV32 : kDsmlBlockV4;
      return std::string(block) + "\n" + (name.empty() ? "" : std::string(kInvokeBegin) + name + "\">\n");
    }
    case ToolCallSyntax::kKimiK2:
      return std::string(kKimiBlock) + std::string(kKimiCallBegin) +
             (name.empty() ? "" : std::string(kKimiFunctionPrefix) + name + ":0" + std::string(kKimiArgs));
  }
  return "";
}

ToolCallParser::ToolCallParser(ToolCallSyntax syntax) : syntax_(syntax) {}

bool ToolCallParser::dsml() const { return syntax_ == ToolCallSyntax::kDsmlV32 || syntax_ == ToolCallSyntax::kDsmlV4; }

ToolCallOutput ToolCallParser::push(std::string_view text) {
  ToolCallOutput out;
  held_.append(text);
  run(out, /*at_end=*/false);
  return out;
}

ToolCallOutput ToolCallParser::finish() {
  ToolCallOutput out;
  run(out, /*at_end=*/true);
  // Close the JSON this parser opened itself, so the arguments stay well-formed.
  switch (state_) {
    case State::kValueString: emit_args(out, "\"}"); break;
    case State::kValueStart:
    case State::kValueRaw: emit_args(out, value_written_ ? "}" : "null}"); break;
    case State::kValueJson:
    case State::kValueEnd: emit_args(out, "}"); break;
    case State::kParams:
    case State::kParamName:
    case State::kParamKind: emit_args(out, params_open_ ? "}" : "{}"); break;
    default: break;
  }
  state_ = State::kContent;
  held_.clear();
  return out;
}

void ToolCallParser::run(ToolCallOutput& out, bool at_end) {
  if (syntax_ == ToolCallSyntax::kNone) {
    out.content += held_;
    held_.clear();
    return;
  }
  while (step(out, at_end)) {
  }
}

void ToolCallParser::skip_space() {
  size_t n = 0;
  while (n < held_.size() && is_json_space(held_[n])) ++n;
  held_.erase(0, n);
}

bool ToolCallParser::take_until(std::string_view terminator, std::string& into, bool at_end) {
  const size_t pos = held_.find(terminator);
  if (pos != std::string::npos) {
    into.append(held_, 0, pos);
    held_.erase(0, pos + terminator.size());
    return true;
  }
  const size_t keep = at_end ? 0 : partial_marker_suffix(held_, terminator);
  into.append(held_, 0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return false;
}

void ToolCallParser::emit_args(ToolCallOutput& out, std::string_view piece) {
  if (piece.empty() || calls_ == 0) return;
  if (out.calls.empty() || out.calls.back().index != calls_ - 1) out.calls.push_back({.index = calls_ - 1});
  out.calls.back().arguments += piece;
}

void ToolCallParser::start_call(ToolCallOutput& out) {
  std::string_view name = trim(field_);
  std::string id;
  if (syntax_ == ToolCallSyntax::kKimiK2) {
    // "functions.NAME:INDEX" is the call's id; NAME is the function.
    id = std::string(name);
    if (name.starts_with(kKimiFunctionPrefix)) name.remove_prefix(kKimiFunctionPrefix.size());
    const size_t colon = name.rfind(':');
    if (colon != std::string_view::npos && colon + 1 < name.size() &&
        name.find_first_not_of("0123456789", colon + 1) == std::string_view::npos)
      name = name.substr(0, colon);
  }
  out.calls.push_back({.index = calls_, .id = std::move(id), .name = std::string(name)});
  ++calls_;
  field_.clear();
}

bool ToolCallParser::step(ToolCallOutput& out, bool at_end) {
  const bool v4 = syntax_ == ToolCallSyntax::kDsmlV4, kimi = syntax_ == ToolCallSyntax::kKimiK2;
  const std::string_view block_begin = kimi ? kKimiBlock : !dsml() ? kCallsBegin : v4 ? kDsmlBlockV4 : kDsmlBlockV32;
  const std::string_view block_end = kimi ? kKimiBlockEnd : !dsml() ? kCallsEnd : v4 ? kDsmlBlockEndV4 : kDsmlBlockEndV32;
  const std::string_view call_begin = kimi ? kKimiCallBegin : dsml() ? kInvokeBegin : kCallBegin;
  const std::string_view call_end = kimi ? kKimiCallEnd : dsml() ? kInvokeEnd : kCallEnd;

  const auto starts = [&](std::string_view tag) { return std::string_view(held_).starts_with(tag); };
  // Held text that may still grow into one of `tags`: wait for more.
  const auto may_become = [&](std::initializer_list<std::string_view> tags) {
    if (at_end) return false;
    return std::any_of(tags.begin(), tags.end(), [&](std::string_view t) { return t.starts_with(held_); });
  };
  // Drops malformed text up to the earliest of `tags` (or all but a partial tag).
  const auto skip_to = [&](std::initializer_list<std::string_view> tags) {
    size_t cut = std::string::npos;
    for (std::string_view t : tags) cut = std::min(cut, held_.find(t));
    if (cut == std::string::npos) {
      size_t keep = 0;
      if (!at_end) {
        for (std::string_view t : tags) keep = std::max(keep, partial_marker_suffix(held_, t));
      }
      cut = held_.size() - keep;
    }
    held_.erase(0, cut);
    return cut > 0;
  };

  switch (state_) {
    case State::kContent: {
      const size_t pos = held_.find(block_begin);
      if (pos != std::string::npos) {
        out.content.append(held_, 0, pos);
        // The whitespace separating the content from the block is not content (earlier
        // pushes held trailing whitespace back for this reason).
        while (!out.content.empty() && is_json_space(out.content.back())) out.content.pop_back();
        held_.erase(0, pos + block_begin.size());
        state_ = State::kBlock;
        return true;
      }
      size_t keep = 0;
      if (!at_end) {
        keep = partial_marker_suffix(held_, block_begin);
        while (keep < held_.size() && is_json_space(held_[held_.size() - keep - 1])) ++keep;
      }
      out.content.append(held_, 0, held_.size() - keep);
      held_.erase(0, held_.size() - keep);
      return false;
    }
    case State::kBlock:
      skip_space();
      if (held_.empty()) return false;
      if (starts(call_begin)) {
        held_.erase(0, call_begin.size());
        field_.clear();
        state_ = syntax_ == ToolCallSyntax::kV3 ? State::kCallType : State::kCallName;
        return true;
      }
      if (starts(block_end)) {
        held_.erase(0, block_end.size());
        state_ = State::kContent;
        return true;
      }
      if (may_become({call_begin, block_end})) return false;
      if (at_end) return false;
      return skip_to({call_begin, block_end});
    case State::kCallType:
      if (!take_until(kSep, field_, at_end)) return false;
      field_.clear();  // always "function"
      state_ = State::kCallName;
      return true;
    case State::kCallName: {
      const std::string_view terminator =
          syntax_ == ToolCallSyntax::kV3 ? "\n" : dsml() ? kAttrEnd : kimi ? kKimiArgs : kSep;
      if (!take_until(terminator, field_, at_end)) return false;
      start_call(out);
      params_open_ = false;
      state_ = syntax_ == ToolCallSyntax::kV3 ? State::kFenceOpen : dsml() ? State::kParams : State::kArgs;
      return true;
    }
    case State::kFenceOpen:
      skip_space();
      if (starts(kFence)) {
        held_.erase(0, kFence.size());
        state_ = State::kArgs;
        return true;
      }
      if (held_.empty() || may_become({kFence})) return false;
      state_ = State::kArgs;  // no fence: take the arguments as they come
      return true;
    case State::kArgs:
      skip_space();
      if (held_.empty()) return false;
      scanner_ = {};
      state_ = held_[0] == '{' || held_[0] == '[' ? State::kArgsJson : State::kArgsRaw;
      return true;
    case State::kArgsJson: {
      const size_t n = scanner_.feed(held_);
      emit_args(out, std::string_view(held_).substr(0, n));
      held_.erase(0, n);
      if (scanner_.done()) state_ = State::kCallEnd;
      return n > 0;
    }
    case State::kArgsRaw: {
      std::string piece;
      const bool found = take_until(syntax_ == ToolCallSyntax::kV3 ? kFenceClose : call_end, piece, at_end);
      emit_args(out, piece);
      if (found) state_ = syntax_ == ToolCallSyntax::kV3 ? State::kCallEnd : State::kBlock;
      return found;
    }
    case State::kCallEnd:
      if (starts(call_end)) {
        held_.erase(0, call_end.size());
        state_ = State::kBlock;
        return true;
      }
      if (held_.empty() || at_end) return false;
      return skip_to({call_end});  // the V3 closing fence, newlines
    case State::kParams:
      skip_space();
      if (starts(kParamBegin)) {
        held_.erase(0, kParamBegin.size());
        field_.clear();
        state_ = State::kParamName;
        return true;
      }
      if (starts(call_end)) {
        held_.erase(0, call_end.size());
        emit_args(out, params_open_ ? "}" : "{}");
        state_ = State::kBlock;
        return true;
      }
      if (held_.empty() || at_end || may_become({kParamBegin, call_end})) return false;
      return skip_to({kParamBegin, call_end});
    case State::kParamName:
      if (!take_until(kStringAttr, field_, at_end)) return false;
      key_ = std::move(field_);
      field_.clear();
      state_ = State::kParamKind;
      return true;
    case State::kParamKind: {
      if (!take_until(kAttrEnd, field_, at_end)) return false;
      const bool is_string = trim(field_) == "true";
      field_.clear();
      emit_args(out, fmt::format("{}\"{}\": {}", params_open_ ? ", " : "{", json_escape(key_), is_string ? "\"" : ""));
      params_open_ = true;
      value_written_ = false;
      state_ = is_string ? State::kValueString : State::kValueStart;
      return true;
    }
    case State::kValueString: {
      std::string piece;
      const bool found = take_until(kParamEnd, piece, at_end);
      emit_args(out, json_escape(piece));
      if (found) {
        emit_args(out, "\"");
        state_ = State::kParams;
      }
      return found;
    }
    case State::kValueStart:
      skip_space();
      if (held_.empty() || may_become({kParamEnd})) return false;
      scanner_ = {};
      state_ = held_[0] == '{' || held_[0] == '[' || held_[0] == '"' ? State::kValueJson : State::kValueRaw;
      return true;
    case State::kValueJson: {
      const size_t n = scanner_.feed(held_);
      emit_args(out, std::string_view(held_).substr(0, n));
      held_.erase(0, n);
      if (scanner_.done()) state_ = State::kValueEnd;
      return n > 0;
    }
    case State::kValueRaw: {
      std::string piece;
      const bool found = take_until(kParamEnd, piece, at_end);
      // Trailing whitespace of a scalar is harmless JSON; an empty value becomes null.
      value_written_ |= !trim(piece).empty();
      emit_args(out, piece);
      if (found) {
        if (!value_written_) emit_args(out, "null");
        state_ = State::kParams;
      }
      return found;
    }
    case State::kValueEnd:
      if (starts(kParamEnd)) {
        held_.erase(0, kParamEnd.size());
        state_ = State::kParams;
        return true;
      }
      if (held_.empty() || at_end) return false;
      return skip_to({kParamEnd});
  }
  return false;
}

}  // namespace dsinfer::server
