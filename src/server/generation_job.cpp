#include "server/generation_job.h"

#include <random>

#include "server/sse.h"

namespace dsinfer::server {

GenerationJob::GenerationJob(Engine& engine, const Tokenizer& tokenizer, Metrics* metrics, JobSpec spec)
    : engine_(engine), tokenizer_(tokenizer), metrics_(metrics), spec_(std::move(spec)), choices_(spec_.prompts.size()) {
  for (Choice& c : choices_) {
    if (spec_.meta.chat) {
      c.parser.emplace(spec_.format, spec_.parse_tools, spec_.opens_reasoning);
      c.parser->prime(spec_.forced_output);
    }
    if (spec_.params.top_logprobs >= 0) c.out.logprobs.emplace();
  }
}

GenerationJob::~GenerationJob() { cancel(); }

void GenerationJob::cancel() {
  for (Choice& c : choices_) {
    if (c.id && !c.finished) engine_.cancel(*c.id);
  }
}

std::optional<SubmitError> GenerationJob::submit() {
  std::random_device entropy;
  const std::vector<int32_t> stop_tokens = tokenizer_.end_of_generation();
  for (size_t i = 0; i < choices_.size(); ++i) {
    GenerationRequest request{.prompt = spec_.prompts[i],
                              .max_tokens = spec_.max_tokens[i],
                              .sampling = spec_.params.sampling,
                              .stop_tokens = stop_tokens,
                              .top_logprobs = spec_.params.top_logprobs};
    // With a seed, copy i of a prompt uses seed + i: reproducible, yet the copies differ.
    request.sampling.seed = spec_.params.seed ? *spec_.params.seed + i % static_cast<uint64_t>(spec_.params.n)
                                              : (uint64_t{entropy()} << 32) ^ entropy();
    auto decoder = std::make_shared<ChoiceDecoder>(i, tokenizer_, spec_.params.stop, channel_, metrics_, spec_.received);
    auto submitted = engine_.submit(std::move(request), make_callbacks(std::move(decoder)));
    if (auto* error = std::get_if<SubmitError>(&submitted)) {
      cancel();
      return *error;
    }
    choices_[i].id = std::get<Engine::RequestId>(submitted);
  }
  return std::nullopt;
}

bool GenerationJob::all_finished() const {
  for (const Choice& c : choices_) {
    if (!c.finished) return false;
  }
  return true;
}

LogprobEntry GenerationJob::logprob_entry(const TokenOutput& token, size_t text_offset) const {
  const auto text = [&](int32_t id) { return std::string(tokenizer_.token_bytes(id).value_or("")); };
  LogprobEntry e{.token = text(token.id), .logprob = token.logprob, .text_offset = text_offset};
  for (const auto& [id, logprob] : token.top_logprobs) e.top.emplace_back(text(id), logprob);
  return e;
}

std::string GenerationJob::finish_reason(const Choice& c, bool stop_string) const {
  switch (c.result.reason) {
    case FinishReason::kStop: return c.out.calls.empty() ? "stop" : "tool_calls";
    case FinishReason::kLength: return stop_string ? "stop" : "length";
    case FinishReason::kCancelled: return "abort";  // vLLM's name; OpenAI has none
    case FinishReason::kError: return "error";
  }
  return "stop";
}

Usage GenerationJob::usage() const {
  Usage u;
  const size_t n = static_cast<size_t>(spec_.params.n);
  for (size_t i = 0; i < choices_.size(); ++i) {
    // The copies of one prompt share it: OpenAI counts a prompt once.
    if (i % n == 0) {
      u.prompt_tokens += static_cast<int64_t>(spec_.prompts[i].size());
      u.cached_tokens += choices_[i].result.cached_prompt_tokens;
    }
    u.completion_tokens += choices_[i].result.completion_tokens;
  }
  return u;
}

void GenerationJob::handle(const GenerationEvent& event, std::string* sse) {
  Choice& c = choices_[event.choice];
  using json = nlohmann::json;
  json logprobs = nullptr;
  if (event.token && c.out.logprobs) {
    LogprobEntry entry = logprob_entry(*event.token, c.text_bytes);
    if (sse) {
      const LogprobEntry one[] = {entry};
      logprobs = spec_.meta.chat ? chat_logprobs_json(one) : completion_logprobs_json(one);
    }
    c.out.logprobs->push_back(std::move(entry));
  }
  c.text_bytes += event.text.size();

  json delta;
  bool has_delta = false;
  if (c.parser) {
    MessageDelta d = c.parser->push(event.text);
    if (event.finish) {
      MessageDelta rest = c.parser->finish();
      d.reasoning += rest.reasoning;
      d.content += rest.content;
      for (ToolCallDelta& t : rest.tool_calls) d.tool_calls.push_back(std::move(t));
    }
    c.out.reasoning += d.reasoning;
    c.out.content += d.content;
    for (const ToolCallDelta& t : d.tool_calls) {
      if (t.index == c.out.calls.size()) {
        // The model's own id where its syntax has one (Kimi K2's templates render it back).
        c.call_ids.push_back(!t.id.empty() ? t.id
                                           : spec_.meta.id + "-call-" + std::to_string(event.choice) + "-" +
                                                 std::to_string(t.index));
        c.out.calls.push_back({.id = c.call_ids.back(), .name = t.name});
      }
      c.out.calls[t.index].arguments += t.arguments;
    }
    has_delta = !d.empty();
    if (sse) delta = chat_delta_json(d, c.call_ids);
  } else {
    c.out.content += event.text;
    has_delta = !event.text.empty();
    if (sse) delta = event.text;
  }
  if (sse && (has_delta || !logprobs.is_null())) {
    *sse += sse_data(chunk_json(spec_.meta, event.choice, std::move(delta), std::move(logprobs), std::nullopt));
  }

  if (event.finish) {
    c.finished = true;
    c.result = *event.finish;
    c.out.finish_reason = finish_reason(c, event.stop_string);
    if (sse) {
      if (c.result.reason == FinishReason::kError) {
        *sse += sse_data(internal_error("generation failed: " + c.result.error).to_json());
      }
      *sse += sse_data(chunk_json(spec_.meta, event.choice, spec_.meta.chat ? json::object() : json(""), nullptr,
                                  c.out.finish_reason));
    }
  }
}

ApiResult<nlohmann::json> GenerationJob::collect(const std::function<bool()>& client_gone) {
  std::vector<GenerationEvent> events;
  while (!all_finished()) {
    events.clear();
    channel_->wait(events, kClientCheck);
    for (const GenerationEvent& e : events) handle(e, nullptr);
    if (!all_finished() && client_gone()) {
      cancel();
      return client_closed_request();
    }
  }
  std::vector<ChoiceResult> results;
  for (const Choice& c : choices_) {
    if (c.result.reason == FinishReason::kError) return internal_error("generation failed: " + c.result.error);
    if (c.result.reason == FinishReason::kCancelled) return unavailable("the request was cancelled: the server is shutting down");
    results.push_back(c.out);
  }
  return completion_response_json(spec_.meta, results, usage());
}

bool GenerationJob::next_sse(std::string& out, std::chrono::milliseconds poll) {
  if (done_) return false;
  if (!started_stream_) {
    started_stream_ = true;
    // OpenAI opens each chat choice with the role.
    if (spec_.meta.chat) {
      for (size_t i = 0; i < choices_.size(); ++i) {
        out += sse_data(chunk_json(spec_.meta, i, {{"role", "assistant"}, {"content", ""}}, nullptr, std::nullopt));
      }
      return true;
    }
  }
  std::vector<GenerationEvent> events;
  channel_->wait(events, poll);
  for (const GenerationEvent& e : events) handle(e, &out);
  if (all_finished()) {
    if (spec_.meta.include_usage) out += sse_data(usage_chunk_json(spec_.meta, usage()));
    out += sse_done();
    done_ = true;
  }
  return true;
}

}  // namespace dsinfer::server
