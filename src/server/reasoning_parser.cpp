#include "server/reasoning_parser.h"

#include "server/text_scan.h"

namespace dsinfer::server {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

}  // namespace

ReasoningParser::ReasoningParser(bool enabled, bool starts_in_reasoning)
    : state_(!enabled ? State::kContent : starts_in_reasoning ? State::kReasoning : State::kStart),
      skip_space_(enabled && starts_in_reasoning) {}

ReasoningSplit ReasoningParser::push(std::string_view text) {
  ReasoningSplit out;
  held_.append(text);
  run(out, /*at_end=*/false);
  return out;
}

ReasoningSplit ReasoningParser::finish() {
  ReasoningSplit out;
  run(out, /*at_end=*/true);
  return out;
}

void ReasoningParser::run(ReasoningSplit& out, bool at_end) {
  for (;;) {
    if (skip_space_) {
      size_t n = 0;
      while (n < held_.size() && is_json_space(held_[n])) ++n;
      held_.erase(0, n);
      if (held_.empty()) return;
      skip_space_ = false;
    }
    switch (state_) {
      case State::kStart: {
        // Only an opening tag at the very start (after whitespace) begins reasoning.
        size_t n = 0;
        while (n < held_.size() && is_json_space(held_[n])) ++n;
        const std::string_view rest = std::string_view(held_).substr(n);
        if (rest.starts_with(kOpen)) {
          held_.erase(0, n + kOpen.size());
          state_ = State::kReasoning;
          skip_space_ = true;
          continue;
        }
        if (!at_end && kOpen.starts_with(rest)) return;  // still undecided
        state_ = State::kContent;
        continue;
      }
      case State::kReasoning: {
        const size_t close = held_.find(kClose);
        if (close != std::string::npos) {
          out.reasoning.append(held_, 0, close);
          held_.erase(0, close + kClose.size());
          state_ = State::kContent;
          skip_space_ = true;
          continue;
        }
        const size_t keep = at_end ? 0 : partial_marker_suffix(held_, kClose);
        out.reasoning.append(held_, 0, held_.size() - keep);
        held_.erase(0, held_.size() - keep);
        return;
      }
      case State::kContent:
        out.content.append(held_);
        held_.clear();
        return;
    }
  }
}

bool prompt_opens_reasoning(std::string_view prompt) {
  while (!prompt.empty() && is_json_space(prompt.back())) prompt.remove_suffix(1);
  return prompt.ends_with(kOpen);
}

}  // namespace dsinfer::server
