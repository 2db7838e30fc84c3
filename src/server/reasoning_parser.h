// Splits a model's reply into reasoning (the <think>...</think> part of R1, V3.1 in
// thinking mode, V3.2 and V4) and the answer, as text streams in. The reply may start
// inside the reasoning when the prompt already ends with the opening <think> (the
// template pre-fills it), or open it itself at its very start. Whitespace right after
// <think> and right after </think> is dropped (the models write "<think>\n" and
// "</think>\n\n"); everything else passes through unchanged.
#pragma once

#include <string>
#include <string_view>

namespace dsinfer::server {

struct ReasoningSplit {
  std::string reasoning;
  std::string content;
};

class ReasoningParser {
 public:
  // enabled = false: everything is content. starts_in_reasoning: the prompt opened <think>.
  ReasoningParser(bool enabled, bool starts_in_reasoning);

  ReasoningSplit push(std::string_view text);
  ReasoningSplit finish();  // what was held back

 private:
  enum class State { kStart, kReasoning, kContent };
  void run(ReasoningSplit& out, bool at_end);

  State state_;
  bool skip_space_ = false;  // drop whitespace at the start of the current part
  std::string held_;
};

// Whether a rendered prompt leaves the model inside a reasoning block: it ends with
// <think> (and perhaps whitespace) rather than with </think>.
bool prompt_opens_reasoning(std::string_view prompt);

}  // namespace dsinfer::server
