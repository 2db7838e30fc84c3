// libFuzzer target for the parsers of a model's streamed output: tool calls in each
// syntax (V3, V3.1, DSML of V3.2 and V4, Kimi K2), reasoning blocks and stop strings. The model's
// text is not under the server's control, and it arrives in pieces wherever the tokens
// fall. Oracle: the tool-call and reasoning parsers are fed the same text whole and in
// pieces of 1-16 bytes; both must give the same content, the same calls (names and joined
// arguments) and the same reasoning, however the pieces fall. Stop strings are checked
// against a plain search after each piece (check_stops). Never a crash or a hang.
//
// Input: byte 0 picks the parser (and the tool-call syntax; 8 is Kimi K2's, added after the
// seeds were written), byte 1 seeds the piece sizes;
// for stop strings the next lines (up to three) are the stops. The rest is the text.
//
// Run: scripts/fuzz.sh fuzz_output_parsers [SECONDS] (docs/fuzzing.md).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/reasoning_parser.h"
#include "server/stop_matcher.h"
#include "server/tool_call_parser.h"
#include "fuzz_check.h"

namespace {

using dsinfer::fuzz::require;
using namespace dsinfer::server;

// The text cut into pieces of 1-16 bytes, sizes drawn from `seed`; seed 0 keeps it whole.
std::vector<std::string_view> pieces(std::string_view text, uint8_t seed) {
  if (seed == 0) return {text};
  std::vector<std::string_view> out;
  uint32_t state = seed;
  for (size_t at = 0; at < text.size();) {
    state = state * 1103515245u + 12345u;
    const size_t size = 1 + (state >> 16) % 16;
    out.push_back(text.substr(at, size));
    at += size;
  }
  return out;
}

struct Call {
  std::string id;
  std::string name;
  std::string arguments;
  bool operator==(const Call&) const = default;
};

struct ToolCallResult {
  std::string content;
  std::vector<Call> calls;
  bool operator==(const ToolCallResult&) const = default;

  void add(const ToolCallOutput& out) {
    content += out.content;
    for (const auto& delta : out.calls) {
      if (delta.index >= calls.size()) {
        // Calls are numbered in order. The name may be empty: the model wrote name="".
        require(delta.index == calls.size());
        calls.emplace_back();
      }
      calls[delta.index].id += delta.id;
      calls[delta.index].name += delta.name;
      calls[delta.index].arguments += delta.arguments;
    }
  }
};

ToolCallResult parse_tool_calls(ToolCallSyntax syntax, const std::vector<std::string_view>& text) {
  ToolCallParser parser(syntax);
  ToolCallResult result;
  for (auto piece : text) result.add(parser.push(piece));
  result.add(parser.finish());
  require(parser.calls() == result.calls.size());
  return result;
}

ReasoningSplit split_reasoning(bool starts_in_reasoning, const std::vector<std::string_view>& text) {
  ReasoningParser parser(/*enabled=*/true, starts_in_reasoning);
  ReasoningSplit result;
  const auto add = [&](const ReasoningSplit& s) {
    result.reasoning += s.reasoning;
    result.content += s.content;
  };
  for (auto piece : text) add(parser.push(piece));
  add(parser.finish());
  return result;
}

// Stop strings: a stop that completes in a later piece than another cannot win, so the
// result depends on where the pieces fall (as it does on the tokens in a real reply). The
// oracle is a plain search after every piece: the text seen so far, cut at the earliest
// start of any stop it holds. Between pieces, what the matcher holds back must be a
// proper prefix of some stop.
void check_stops(const std::vector<std::string>& stops, const std::vector<std::string_view>& text) {
  StopMatcher matcher(stops);
  std::string seen, shown;
  for (auto piece : text) {
    seen += piece;
    size_t first = std::string::npos;
    for (const auto& stop : stops) {
      if (!stop.empty()) first = std::min(first, seen.find(stop));
    }
    const auto out = matcher.push(piece);
    shown += out.text;
    require(out.stopped == (first != std::string::npos));
    if (out.stopped) {
      require(shown == seen.substr(0, first));
      return;
    }
    require(seen.starts_with(shown));
    const std::string_view held = std::string_view(seen).substr(shown.size());
    require(held.empty() || std::any_of(stops.begin(), stops.end(), [&](const std::string& stop) {
              return held.size() < stop.size() && stop.starts_with(held);
            }));
  }
  require(shown + matcher.finish() == seen);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t mode = data[0] % 9, seed = data[1] == 0 ? 1 : data[1];
  std::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (mode < 5 || mode == 8) {
    const auto syntax = mode == 8 ? ToolCallSyntax::kKimiK2 : static_cast<ToolCallSyntax>(mode);
    const ToolCallResult whole = parse_tool_calls(syntax, pieces(text, 0));
    require(parse_tool_calls(syntax, pieces(text, seed)) == whole);
    if (syntax == ToolCallSyntax::kNone) require(whole.content == text && whole.calls.empty());
  } else if (mode < 7) {
    const bool starts_in_reasoning = mode == 6;
    const ReasoningSplit whole = split_reasoning(starts_in_reasoning, pieces(text, 0));
    const ReasoningSplit cut = split_reasoning(starts_in_reasoning, pieces(text, seed));
    require(cut.reasoning == whole.reasoning && cut.content == whole.content);
  } else {
    std::vector<std::string> stops;
    while (stops.size() < 3) {
      const size_t end = text.find('\n');
      if (end == std::string_view::npos) break;
      stops.emplace_back(text.substr(0, end));
      text.remove_prefix(end + 1);
    }
    check_stops(stops, pieces(text, 0));
    check_stops(stops, pieces(text, seed));
  }
  return 0;
}
