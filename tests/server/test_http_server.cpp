// The HTTP routes end to end over a fake engine (no model): real sockets, real tokenizer
// and chat template (DeepSeek-V3's), the responses parsed as a client would.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "fake_engine.h"
#include "server/http_server.h"

namespace dsinfer::server {
namespace {

using json = nlohmann::json;

const Tokenizer& v3_tokenizer() {
  static const Tokenizer* tokenizer = [] {
    auto loaded = Tokenizer::load(std::string(DSINFER_SOURCE_DIR) + "/data/tokenizers/deepseek_v3");
    if (!loaded.is_ok()) {
      ADD_FAILURE() << loaded.status().message();
      std::abort();
    }
    return new Tokenizer(std::move(loaded).value());
  }();
  return *tokenizer;
}

std::vector<int32_t> encode(const std::string& text) {
  auto ids = v3_tokenizer().encode(text, {.match_special_tokens = true});
  EXPECT_TRUE(ids.is_ok());
  return {ids->begin(), ids->end()};
}

// The `data:` payloads of an SSE body; checks the framing on the way.
std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos) << "unterminated event at " << pos;
    if (end == std::string::npos) break;
    const std::string event = body.substr(pos, end - pos);
    pos = end + 2;
    if (event.starts_with(":")) continue;  // comment (heartbeat)
    EXPECT_TRUE(event.starts_with("data: ")) << event;
    out.push_back(event.substr(6));
  }
  return out;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void start(const std::string& reply, ServerOptions options = {}, int64_t context = 4096,
             std::optional<ToolCallSyntax> syntax = std::nullopt) {
    engine_ = std::make_unique<testing::FakeEngine>(encode(reply), EngineOptions{.context_size = context});
    auto format = ChatPromptFormat::create(v3_tokenizer().config(), "deepseek_v3");
    ASSERT_TRUE(format.is_ok()) << format.status().message();
    options.port = 0;
    options.model_name = "demo";
    if (options.max_body_bytes == ServerOptions{}.max_body_bytes) options.max_body_bytes = 4096;
    server_ = std::make_unique<HttpServer>(*engine_, v3_tokenizer(),
                                           PromptBuilder::create(v3_tokenizer(), std::move(format).value(), syntax),
                                           options);
    auto port = server_->bind();
    ASSERT_TRUE(port.is_ok()) << port.status().message();
    port_ = *port;
    thread_ = std::thread([this] { EXPECT_TRUE(server_->serve().is_ok()); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(10, 0);
  }

  void TearDown() override {
    if (!server_) return;
    server_->stop();
    engine_->shutdown(false);
    thread_.join();
    server_.reset();
  }

  httplib::Result post(const std::string& path, const json& body, httplib::Headers headers = {}) {
    return client_->Post(path.c_str(), headers, body.dump(), "application/json");
  }

  static json chat(json extra = json::object()) {
    json body = {{"model", "demo"}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"temperature", 0}};
    body.update(extra);
    return body;
  }

  std::unique_ptr<testing::FakeEngine> engine_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpServerTest, HealthAndModels) {
  start("Hello");
  auto health = client_->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto models = client_->Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 200);
  const json j = json::parse(models->body);
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["data"][0]["id"], "demo");
}

TEST_F(HttpServerTest, ChatCompletion) {
  start("Hello world, this is dsinfer.");
  auto res = post("/v1/chat/completions", chat({{"seed", 5}, {"max_tokens", 100}}));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json::parse(res->body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "demo");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Hello world, this is dsinfer.");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
  // The V3 template's rendering of one user turn, tokenized.
  const auto prompt = encode("<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜>");
  EXPECT_EQ(j["usage"]["prompt_tokens"], prompt.size());
  EXPECT_EQ(j["usage"]["completion_tokens"], encode("Hello world, this is dsinfer.").size());
  EXPECT_EQ(j["usage"]["total_tokens"], j["usage"]["prompt_tokens"].get<int>() + j["usage"]["completion_tokens"].get<int>());
  EXPECT_EQ(j["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  ASSERT_EQ(engine_->submitted.size(), 1u);
  EXPECT_EQ(engine_->submitted[0].prompt, prompt);
  EXPECT_EQ(engine_->submitted[0].max_tokens, 100);
  EXPECT_EQ(engine_->submitted[0].sampling.seed, 5u);
  EXPECT_EQ(engine_->submitted[0].stop_tokens, std::vector<int32_t>{1});  // <｜end▁of▁sentence｜>
}

TEST_F(HttpServerTest, StreamingChatFramesLikeOpenAI) {
  start("Hello world, this is dsinfer.");
  auto res = post("/v1/chat/completions", chat({{"stream", true}, {"stream_options", {{"include_usage", true}}}}));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
  const auto payloads = sse_payloads(res->body);
  ASSERT_GE(payloads.size(), 4u);
  EXPECT_EQ(payloads.back(), "[DONE]");
  std::string content;
  std::string finish;
  json usage;
  for (size_t i = 0; i + 1 < payloads.size(); ++i) {
    const json chunk = json::parse(payloads[i]);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    EXPECT_TRUE(chunk.contains("usage"));
    if (chunk["choices"].empty()) {
      usage = chunk["usage"];
      EXPECT_EQ(i + 2, payloads.size()) << "the usage chunk comes last";
      continue;
    }
    const json& choice = chunk["choices"][0];
    if (i == 0) {
      EXPECT_EQ(choice["delta"]["role"], "assistant");
    }
    if (choice["delta"].contains("content")) content += choice["delta"]["content"].get<std::string>();
    if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
  }
  EXPECT_EQ(content, "Hello world, this is dsinfer.");
  EXPECT_EQ(finish, "stop");
  EXPECT_EQ(usage["completion_tokens"], encode("Hello world, this is dsinfer.").size());
}

TEST_F(HttpServerTest, StopStringEndsTheRequest) {
  start("Hello world, this is dsinfer.");
  auto res = post("/v1/chat/completions", chat({{"stop", {"is dsi", "nothing"}}}));
  ASSERT_TRUE(res);
  const json j = json::parse(res->body);
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Hello world, this ");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(engine_->finished_with_stop, 1);  // on_token said stop: the engine freed it at once
}

TEST_F(HttpServerTest, MaxTokensGivesLength) {
  start("Hello world, this is dsinfer.");
  auto res = post("/v1/completions", {{"prompt", "Say"}, {"max_tokens", 2}, {"logprobs", 1}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json::parse(res->body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], "Hello world");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  const json& lp = j["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"], json({"Hello", " world"}));
  EXPECT_EQ(lp["token_logprobs"], json({-0.5, -0.5}));
  EXPECT_EQ(lp["text_offset"], json({0, 5}));
  EXPECT_EQ(lp["top_logprobs"][0]["Hello"], -0.5);
  // BOS is added to completion prompts, as the tokenizer config says.
  EXPECT_EQ(engine_->submitted[0].prompt.front(), 0);
}

TEST_F(HttpServerTest, NChoicesWithSeeds) {
  start("Hi there");
  auto res = post("/v1/chat/completions", chat({{"n", 3}, {"seed", 10}, {"logprobs", true}, {"top_logprobs", 2}}));
  ASSERT_TRUE(res);
  const json j = json::parse(res->body);
  ASSERT_EQ(j["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(j["choices"][i]["index"], i);
    EXPECT_EQ(j["choices"][i]["message"]["content"], "Hi there");
    const json& content = j["choices"][i]["logprobs"]["content"];
    ASSERT_EQ(content.size(), 2u);
    EXPECT_EQ(content[0]["token"], "Hi");
    EXPECT_EQ(content[0]["bytes"], json({72, 105}));
    EXPECT_EQ(content[0]["top_logprobs"].size(), 2u);
  }
  std::vector<uint64_t> seeds;
  for (const auto& r : engine_->submitted) seeds.push_back(r.sampling.seed);
  std::sort(seeds.begin(), seeds.end());
  EXPECT_EQ(seeds, (std::vector<uint64_t>{10, 11, 12}));
  EXPECT_EQ(j["usage"]["completion_tokens"], 6);
}

TEST_F(HttpServerTest, ToolCallsInV3Syntax) {
  const std::string reply =
      "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Paris\"}\n```"
      "<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
  start(reply);
  const json tools = json::parse(R"([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}])");
  auto res = post("/v1/chat/completions", chat({{"tools", tools}}));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json::parse(res->body);
  const json& message = j["choices"][0]["message"];
  EXPECT_TRUE(message["content"].is_null());
  ASSERT_EQ(message["tool_calls"].size(), 1u);
  EXPECT_EQ(message["tool_calls"][0]["type"], "function");
  EXPECT_EQ(message["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(message["tool_calls"][0]["function"]["arguments"], "{\"city\": \"Paris\"}");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "tool_calls");

  // Streamed: the first delta has id, type and name; the arguments follow in pieces.
  auto streamed = post("/v1/chat/completions", chat({{"tools", tools}, {"stream", true}}));
  ASSERT_TRUE(streamed);
  std::string name, arguments, id, finish;
  for (const std::string& p : sse_payloads(streamed->body)) {
    if (p == "[DONE]") continue;
    const json chunk = json::parse(p);
    const json& choice = chunk["choices"][0];
    if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
    if (!choice["delta"].contains("tool_calls")) continue;
    const json& call = choice["delta"]["tool_calls"][0];
    EXPECT_EQ(call["index"], 0);
    if (call.contains("id")) id = call["id"];
    if (call["function"].contains("name")) name += call["function"]["name"].get<std::string>();
    arguments += call["function"]["arguments"].get<std::string>();
  }
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(name, "get_weather");
  EXPECT_EQ(arguments, "{\"city\": \"Paris\"}");
  EXPECT_EQ(finish, "tool_calls");
}

// Kimi K2 names its calls "functions.NAME:INDEX" and its templates render that id back in
// the history, so the response carries the model's id, not one the server makes up.
TEST_F(HttpServerTest, ToolCallsInKimiK2SyntaxKeepTheModelsIds) {
  const std::string reply =
      "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>"
      "{\"city\": \"Paris\"}<|tool_call_end|><|tool_calls_section_end|>";
  start(reply, {}, 4096, ToolCallSyntax::kKimiK2);
  const json tools = json::parse(R"([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}])");
  auto res = post("/v1/chat/completions", chat({{"tools", tools}}));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json call = json::parse(res->body)["choices"][0]["message"]["tool_calls"][0];
  EXPECT_EQ(call["id"], "functions.get_weather:0");
  EXPECT_EQ(call["function"]["name"], "get_weather");
  EXPECT_EQ(call["function"]["arguments"], "{\"city\": \"Paris\"}");
  auto streamed = post("/v1/chat/completions", chat({{"tools", tools}, {"stream", true}}));
  ASSERT_TRUE(streamed);
  std::string id;
  for (const std::string& p : sse_payloads(streamed->body)) {
    if (p == "[DONE]") continue;
    const json chunk = json::parse(p);
    const json& delta = chunk["choices"][0]["delta"];
    if (delta.contains("tool_calls") && delta["tool_calls"][0].contains("id")) id = delta["tool_calls"][0]["id"];
  }
  EXPECT_EQ(id, "functions.get_weather:0");
}

TEST_F(HttpServerTest, ErrorsAreOpenAIObjects) {
  start("Hello", {.api_key = "sekret"});
  const httplib::Headers auth = {{"Authorization", "Bearer sekret"}};
  const auto expect_error = [](const httplib::Result& res, int status, const std::string& type) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << res->body;
    const json j = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << res->body;
    EXPECT_EQ(j["error"]["type"], type) << res->body;
    EXPECT_TRUE(j["error"].contains("message") && j["error"].contains("param") && j["error"].contains("code"));
  };
  expect_error(post("/v1/chat/completions", chat()), 401, "invalid_request_error");
  expect_error(post("/v1/chat/completions", chat(), {{"Authorization", "Bearer wrong"}}), 401, "invalid_request_error");
  expect_error(client_->Get("/v1/models"), 401, "invalid_request_error");
  expect_error(post("/v1/chat/completions", chat({{"temperature", -1}}), auth), 400, "invalid_request_error");
  expect_error(post("/v1/chat/completions", chat({{"model", "gpt-4o"}}), auth), 404, "invalid_request_error");
  expect_error(client_->Post("/v1/chat/completions", auth, "{not json", "application/json"), 400, "invalid_request_error");
  expect_error(post("/v1/chat/completions", chat({{"messages", {{{"role", "user"}, {"content", std::string(5000, 'x')}}}}}), auth),
               413, "invalid_request_error");
  expect_error(client_->Get("/v1/nothing", auth), 404, "invalid_request_error");
  engine_->saturated = true;
  auto busy = post("/v1/chat/completions", chat(), auth);
  expect_error(busy, 429, "rate_limit_error");
  EXPECT_EQ(busy->get_header_value("Retry-After"), "1");
  engine_->saturated = false;
  // Still serving.
  auto ok = post("/v1/chat/completions", chat(), auth);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  // Health and metrics need no key.
  EXPECT_EQ(client_->Get("/health")->status, 200);
}

TEST_F(HttpServerTest, PromptLongerThanTheContext) {
  start("Hello", {}, /*context=*/8);
  auto res = post("/v1/chat/completions", chat({{"messages", {{{"role", "user"}, {"content", "one two three four five six"}}}}}));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(res->body.find("maximum context length is 8 tokens"), std::string::npos) << res->body;
  // A short prompt gets max_tokens clipped to what is left.
  auto ok = post("/v1/completions", {{"prompt", "Hi"}, {"max_tokens", 100}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(engine_->submitted.back().max_tokens, 8 - static_cast<int64_t>(engine_->submitted.back().prompt.size()));
}

TEST_F(HttpServerTest, ClientDisconnectCancels) {
  start(std::string(2000, 'a') + " end");  // long enough to still be running
  std::string received;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = json({{"prompt", "x"}, {"stream", true}}).dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    received.append(data, n);
    return received.size() < 300;  // hang up after a few chunks
  };
  client_->send(req);
  for (int i = 0; i < 200 && engine_->cancels == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GE(engine_->cancels, 1);
}

// A non-streaming request writes nothing until it is done: the server must notice the
// closed connection on its own. The client sends the request on a raw socket and closes
// it; the reply script is long enough (thousands of 1 ms ticks) to still be running.
TEST_F(HttpServerTest, NonStreamingClientDisconnectCancels) {
  std::string reply;
  for (int i = 0; i < 3000; ++i) reply += " a";
  start(reply);
  const std::string body = json({{"prompt", "x"}}).dump();
  const std::string request = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  const int sock = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(send(sock, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  for (int i = 0; i < 200 && engine_->stats().running == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(engine_->stats().running, 1);
  ASSERT_EQ(engine_->cancels, 0);
  close(sock);
  for (int i = 0; i < 200 && engine_->cancels == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GE(engine_->cancels, 1);
}

TEST_F(HttpServerTest, MetricsCountRequests) {
  start("Hello world");
  post("/v1/chat/completions", chat());
  post("/v1/chat/completions", chat({{"n", 0}}));
  // A request is counted once its response is written, which may be just after the
  // client has read it: poll briefly for the second one.
  std::string text;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto res = client_->Get("/metrics");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    text = res->body;
    if (text.find("status=\"400\"} 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(text.find("dsinfer_http_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("dsinfer_http_requests_total{endpoint=\"/v1/chat/completions\",status=\"400\"} 1"), std::string::npos);
  EXPECT_NE(text.find("dsinfer_time_to_first_token_seconds_count 1"), std::string::npos);
  EXPECT_NE(text.find("dsinfer_inter_token_latency_seconds_count 1"), std::string::npos);  // two tokens, one gap
  EXPECT_NE(text.find("dsinfer_kv_blocks_free 61"), std::string::npos);
  EXPECT_NE(text.find("# TYPE dsinfer_time_to_first_token_seconds histogram"), std::string::npos);
}

}  // namespace
}  // namespace dsinfer::server
