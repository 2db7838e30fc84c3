#include <string>

#include <gtest/gtest.h>

#include "server/metrics.h"
#include "server/openai_response.h"
#include "server/sse.h"

namespace dsinfer::server {
namespace {

TEST(Sse, Framing) {
  EXPECT_EQ(sse_data({{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
  // A token's bytes may be half a character: replaced, not thrown.
  EXPECT_EQ(sse_data(std::string("\xE4\xBD")), "data: \"\xEF\xBF\xBD\"\n\n");
}

TEST(Histogram, CumulativeBuckets) {
  Histogram h({0.1, 1.0});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(0.5);
  h.observe(7);
  std::string out;
  h.render(out, "x_seconds", "help");
  EXPECT_EQ(out,
            "# HELP x_seconds help\n# TYPE x_seconds histogram\n"
            "x_seconds_bucket{le=\"0.1\"} 1\nx_seconds_bucket{le=\"1\"} 3\nx_seconds_bucket{le=\"+Inf\"} 4\n"
            "x_seconds_sum 8.05\nx_seconds_count 4\n");
}

TEST(Metrics, EngineGaugesAndRequestCounters) {
  Metrics m;
  m.count_request("/v1/completions", 200);
  m.count_request("/v1/completions", 200);
  m.count_request("/v1/completions", 429);
  EngineStats stats{.queued = 2, .running = 3, .kv_blocks_total = 10, .kv_blocks_used = 4,
                    .last_batch_sequences = 3, .preemptions = 1, .prompt_tokens = 50, .generated_tokens = 9};
  stats.batch_sequences_steps = {5, 0, 2, 0, 0, 0, 0, 0, 1};  // 5 steps of 1, 2 of 3-4, 1 of over 128
  stats.batch_sequences_sum = 5 + 7 + 200;
  const std::string text = m.render(stats);
  for (const char* line : {"dsinfer_http_requests_total{endpoint=\"/v1/completions\",status=\"200\"} 2\n",
                           "dsinfer_http_requests_total{endpoint=\"/v1/completions\",status=\"429\"} 1\n",
                           "dsinfer_requests_queued 2\n", "dsinfer_requests_running 3\n", "dsinfer_kv_blocks_used 4\n",
                           "dsinfer_kv_blocks_free 6\n", "dsinfer_batch_sequences 3\n", "dsinfer_preemptions_total 1\n",
                           "dsinfer_prompt_tokens_total 50\n", "dsinfer_generation_tokens_total 9\n",
                           "# TYPE dsinfer_preemptions_total counter\n",
                           "dsinfer_batch_sequences_per_step_bucket{le=\"1\"} 5\n",
                           "dsinfer_batch_sequences_per_step_bucket{le=\"2\"} 5\n",
                           "dsinfer_batch_sequences_per_step_bucket{le=\"4\"} 7\n",
                           "dsinfer_batch_sequences_per_step_bucket{le=\"128\"} 7\n",
                           "dsinfer_batch_sequences_per_step_bucket{le=\"+Inf\"} 8\n",
                           "dsinfer_batch_sequences_per_step_sum 212\n", "dsinfer_batch_sequences_per_step_count 8\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

TEST(OpenAiResponse, ChatDeltaToolCallPieces) {
  MessageDelta d;
  d.tool_calls = {{.index = 0, .name = "f", .arguments = "{\"a\""}, {.index = 1, .arguments = "1}"}};
  const auto j = chat_delta_json(d, {"call-0", "call-1"});
  EXPECT_EQ(j, nlohmann::json::parse(R"({"tool_calls":[
      {"index":0,"id":"call-0","type":"function","function":{"name":"f","arguments":"{\"a\""}},
      {"index":1,"function":{"arguments":"1}"}}]})"));
}

TEST(OpenAiResponse, UsageChunk) {
  const ResponseMeta meta{.id = "x", .model = "m", .created = 7, .chat = true, .include_usage = true};
  const auto j = usage_chunk_json(meta, {.prompt_tokens = 3, .completion_tokens = 4, .cached_tokens = 1});
  EXPECT_EQ(j, nlohmann::json::parse(R"({"id":"x","object":"chat.completion.chunk","created":7,"model":"m","choices":[],
      "usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":1}}})"));
}

}  // namespace
}  // namespace dsinfer::server
