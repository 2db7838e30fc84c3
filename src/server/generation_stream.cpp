#include "server/generation_stream.h"

namespace dsinfer::server {

void GenerationChannel::push(GenerationEvent event) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
  ready_.notify_one();
}

void GenerationChannel::wait(std::vector<GenerationEvent>& out, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, timeout, [&] { return !events_.empty(); });
  for (GenerationEvent& e : events_) out.push_back(std::move(e));
  events_.clear();
}

ChoiceDecoder::ChoiceDecoder(size_t choice, const Tokenizer& tokenizer, std::vector<std::string> stops,
                             std::shared_ptr<GenerationChannel> channel, Metrics* metrics,
                             std::chrono::steady_clock::time_point received)
    : choice_(choice),
      // Special tokens (BOS, EOS) are not reply text; the tool-call and think tags are
      // added but not special, so they stay in the text for the output parsers.
      decoder_(tokenizer, {.skip_special_tokens = true}),
      stops_(std::move(stops)),
      channel_(std::move(channel)),
      metrics_(metrics),
      last_(received) {}

bool ChoiceDecoder::on_token(const TokenOutput& token) {
  const auto now = std::chrono::steady_clock::now();
  if (metrics_) {
    const double seconds = std::chrono::duration<double>(now - last_).count();
    if (first_token_) {
      metrics_->observe_time_to_first_token(seconds);
    } else {
      metrics_->observe_inter_token_latency(seconds);
    }
  }
  first_token_ = false;
  last_ = now;

  GenerationEvent event{.choice = choice_, .token = token};
  // An id the tokenizer has no token for adds no text (the model's vocabulary may be
  // padded beyond the tokenizer's).
  Result<std::string> piece = decoder_.push(token.id);
  StopMatcher::Output out = stops_.push(piece.is_ok() ? piece.value() : std::string());
  event.text = std::move(out.text);
  channel_->push(std::move(event));
  return !out.stopped;
}

void ChoiceDecoder::on_finish(const RequestResult& result) {
  GenerationEvent event{.choice = choice_, .finish = result, .stop_string = stops_.stopped()};
  if (!stops_.stopped()) {
    StopMatcher::Output out = stops_.push(decoder_.finish());
    event.text = std::move(out.text);
    if (out.stopped) {
      event.stop_string = true;
    } else {
      event.text += stops_.finish();
    }
  }
  channel_->push(std::move(event));
}

RequestCallbacks make_callbacks(std::shared_ptr<ChoiceDecoder> decoder) {
  return {
      .on_token = [decoder](const TokenOutput& token) { return decoder->on_token(token); },
      .on_finish = [decoder](const RequestResult& result) { decoder->on_finish(result); },
  };
}

}  // namespace dsinfer::server
