#include "tokenizer/pretokenizer.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "tokenizer/utf8.h"

namespace dsinfer {
namespace {

using nlohmann::json;

// The pattern HF's ByteLevel pre-tokenizer splits with when use_regex is true (GPT-2's).
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

Result<SplitBehavior> parse_behavior(const json& value) {
  if (!value.is_string()) return error("pre_tokenizer Split: 'behavior' must be a string");
  const std::string& name = value.get_ref<const std::string&>();
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  return error("pre_tokenizer Split: behavior '{}' is not supported", name);
}

Result<bool> stage_flag(const json& spec, const char* key, bool fallback, std::string_view type) {
  auto it = spec.find(key);
  if (it == spec.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) return error("pre_tokenizer {}: '{}' must be true or false", type, key);
  return it->get<bool>();
}

// The (offset, is_match) list of HF's Pattern::find_matches for a regex, with Oniguruma's
// iteration: an empty match right where the previous match ended is skipped by moving
// one character on.
Status find_matches(const Regex& regex, std::string_view text, RegexScratch& scratch,
                    std::vector<PreTokenizerScratch::Segment>& out) {
  out.clear();
  size_t prev = 0;
  size_t search = 0;
  bool have_last = false;
  size_t last_end = 0;
  while (search <= text.size()) {
    size_t begin = 0, end = 0;
    const Regex::Found found = regex.find(text, search, scratch, begin, end);
    if (found == Regex::Found::kNone) break;
    if (found == Regex::Found::kError)
      return error("pre-tokenizer regex failed: {}", Regex::error_text(int(static_cast<long>(begin))));
    if (begin == end && have_last && end == last_end) {
      if (search >= text.size()) break;
      search += std::min(utf8_sequence_length(static_cast<unsigned char>(text[search])), text.size() - search);
      continue;
    }
    if (prev != begin) out.push_back({prev, begin, false});
    out.push_back({begin, end, true});
    prev = end;
    search = end;
    have_last = true;
    last_end = end;
  }
  if (prev != text.size()) out.push_back({prev, text.size(), false});
  return Status::ok();
}

// HF's NormalizedString::split: how matches and the text between them become pieces.
void apply_behavior(SplitBehavior behavior, std::vector<PreTokenizerScratch::Segment>& segments) {
  using Segment = PreTokenizerScratch::Segment;
  std::vector<Segment> merged;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      return;
    case SplitBehavior::kRemoved:
      std::erase_if(segments, [](const Segment& s) { return s.is_match; });
      return;
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (const Segment& s : segments) {
        if (s.is_match == previous_match && !merged.empty()) {
          merged.back().end = s.end;
        } else {
          merged.push_back(s);
        }
        previous_match = s.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const Segment& s : segments) {
        if (s.is_match && !previous_match && !merged.empty()) {
          merged.back().end = s.end;
        } else {
          merged.push_back(s);
        }
        previous_match = s.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous_match = false;  // "previous" in right-to-left order
      for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        if (it->is_match && !previous_match && !merged.empty()) {
          merged.back().begin = it->begin;
        } else {
          merged.push_back(*it);
        }
        previous_match = it->is_match;
      }
      std::reverse(merged.begin(), merged.end());
      break;
    }
  }
  segments = std::move(merged);
}

}  // namespace

Status PreTokenizer::add_stages(const json& spec, std::vector<Stage>& stages) {
  if (!spec.is_object()) return error("pre_tokenizer: expected an object");
  auto type_it = spec.find("type");
  if (type_it == spec.end() || !type_it->is_string()) return error("pre_tokenizer: missing 'type'");
  const std::string& type = type_it->get_ref<const std::string&>();
  if (!stages.empty() && stages.back().kind == Stage::kByteLevel)
    return error("pre_tokenizer: a {} after ByteLevel is not supported", type);

  if (type == "Sequence") {
    auto list = spec.find("pretokenizers");
    if (list == spec.end() || !list->is_array()) return error("pre_tokenizer Sequence: 'pretokenizers' must be a list");
    for (const json& item : *list) DSINFER_RETURN_IF_ERROR(add_stages(item, stages));
    return Status::ok();
  }
  if (type == "Split") {
    Stage stage{.kind = Stage::kSplit};
    auto pattern = spec.find("pattern");
    if (pattern == spec.end() || !pattern->is_object() || pattern->size() != 1)
      return error("pre_tokenizer Split: 'pattern' must be {{\"Regex\": ...}} or {{\"String\": ...}}");
    if (auto re = pattern->find("Regex"); re != pattern->end() && re->is_string()) {
      DSINFER_ASSIGN_OR_RETURN(stage.regex, Regex::compile_onig(re->get_ref<const std::string&>()));
    } else if (auto str = pattern->find("String"); str != pattern->end() && str->is_string()) {
      DSINFER_ASSIGN_OR_RETURN(stage.regex, Regex::compile_literal(str->get_ref<const std::string&>()));
    } else {
      return error("pre_tokenizer Split: 'pattern' must be {{\"Regex\": ...}} or {{\"String\": ...}}");
    }
    auto behavior = spec.find("behavior");
    if (behavior == spec.end()) return error("pre_tokenizer Split: missing 'behavior'");
    DSINFER_ASSIGN_OR_RETURN(stage.behavior, parse_behavior(*behavior));
    DSINFER_ASSIGN_OR_RETURN(stage.invert, stage_flag(spec, "invert", false, type));
    stages.push_back(std::move(stage));
    return Status::ok();
  }
  if (type == "Digits") {
    // HF: split on char::is_numeric (general category N), each digit alone or runs kept.
    Stage stage{.kind = Stage::kSplit};
    DSINFER_ASSIGN_OR_RETURN(bool individual, stage_flag(spec, "individual_digits", false, type));
    DSINFER_ASSIGN_OR_RETURN(stage.regex, Regex::compile_onig("\\p{N}"));
    stage.behavior = individual ? SplitBehavior::kIsolated : SplitBehavior::kContiguous;
    stages.push_back(std::move(stage));
    return Status::ok();
  }
  if (type == "ByteLevel") {
    Stage stage{.kind = Stage::kByteLevel};
    DSINFER_ASSIGN_OR_RETURN(stage.add_prefix_space, stage_flag(spec, "add_prefix_space", true, type));
    DSINFER_ASSIGN_OR_RETURN(stage.use_regex, stage_flag(spec, "use_regex", true, type));
    if (stage.use_regex) {
      DSINFER_ASSIGN_OR_RETURN(stage.regex, Regex::compile_onig(kGpt2Pattern));
    }
    stages.push_back(std::move(stage));
    return Status::ok();
  }
  return error("pre_tokenizer type '{}' is not supported (supported: Sequence, Split, Digits, ByteLevel)", type);
}

Result<PreTokenizer> PreTokenizer::from_json(const json& spec, bool allow_fast_path) {
  PreTokenizer result;
  if (spec.is_null()) return result;
  DSINFER_RETURN_IF_ERROR(add_stages(spec, result.stages_));
  result.byte_level_ = !result.stages_.empty() && result.stages_.back().kind == Stage::kByteLevel;
  if (allow_fast_path && DeepSeekPreTokenizer::matches(spec)) result.fast_.emplace();
  return result;
}

Status PreTokenizer::split(std::string_view text, PreTokenizerScratch& scratch, PieceSink& sink) const {
  if (scratch.segments.size() < stages_.size()) scratch.segments.resize(stages_.size());
  if (scratch.prefixed.size() < stages_.size()) scratch.prefixed.resize(stages_.size());
  if (text.empty()) return Status::ok();
  if (fast_) {
    fast_->split(text, sink);
    return Status::ok();
  }
  return visit(0, text, scratch, sink);
}

Status PreTokenizer::visit(size_t depth, std::string_view piece, PreTokenizerScratch& scratch,
                           PieceSink& sink) const {
  if (depth == stages_.size()) {
    sink.piece(piece);
    return Status::ok();
  }
  const Stage& stage = stages_[depth];
  if (stage.kind == Stage::kByteLevel) {
    if (stage.add_prefix_space && piece.front() != ' ') {
      std::string& prefixed = scratch.prefixed[depth];
      prefixed.assign(1, ' ').append(piece);
      piece = prefixed;
    }
    if (!stage.use_regex) return visit(depth + 1, piece, scratch, sink);
  }
  return split_by(*stage.regex, stage.behavior, stage.invert, depth, piece, scratch, sink);
}

Status PreTokenizer::split_by(const Regex& regex, SplitBehavior behavior, bool invert, size_t depth,
                              std::string_view piece, PreTokenizerScratch& scratch, PieceSink& sink) const {
  // Common case, streamed without a segment list: Isolated keeps every non-empty segment.
  if (behavior == SplitBehavior::kIsolated) {
    size_t prev = 0, search = 0, last_end = 0;
    bool have_last = false;
    while (search <= piece.size()) {
      size_t begin = 0, end = 0;
      const Regex::Found found = regex.find(piece, search, scratch.regex, begin, end);
      if (found == Regex::Found::kNone) break;
      if (found == Regex::Found::kError)
        return error("pre-tokenizer regex failed: {}", Regex::error_text(int(static_cast<long>(begin))));
      if (begin == end && have_last && end == last_end) {
        if (search >= piece.size()) break;
        search += std::min(utf8_sequence_length(static_cast<unsigned char>(piece[search])), piece.size() - search);
        continue;
      }
      if (prev != begin) DSINFER_RETURN_IF_ERROR(visit(depth + 1, piece.substr(prev, begin - prev), scratch, sink));
      if (begin != end) DSINFER_RETURN_IF_ERROR(visit(depth + 1, piece.substr(begin, end - begin), scratch, sink));
      prev = search = last_end = end;
      have_last = true;
    }
    if (prev != piece.size()) DSINFER_RETURN_IF_ERROR(visit(depth + 1, piece.substr(prev), scratch, sink));
    return Status::ok();
  }

  std::vector<PreTokenizerScratch::Segment>& segments = scratch.segments[depth];
  DSINFER_RETURN_IF_ERROR(find_matches(regex, piece, scratch.regex, segments));
  if (invert)
    for (auto& s : segments) s.is_match = !s.is_match;
  apply_behavior(behavior, segments);
  // Deeper stages use scratch.segments[depth + 1...], so this list stays put meanwhile.
  for (const auto& s : segments)
    if (s.end > s.begin) DSINFER_RETURN_IF_ERROR(visit(depth + 1, piece.substr(s.begin, s.end - s.begin), scratch, sink));
  return Status::ok();
}

}  // namespace dsinfer
