#include <string>

#include <gtest/gtest.h>

#include "server/openai_request.h"

namespace dsinfer::server {
namespace {

const RequestLimits kLimits{.model_name = "demo"};

ChatRequest chat_ok(const std::string& body) {
  auto r = parse_chat_request(body, kLimits);
  if (auto* e = std::get_if<ApiError>(&r)) {
    ADD_FAILURE() << body << " -> " << e->message;
    return {};
  }
  return std::get<ChatRequest>(r);
}

ApiError chat_error(const std::string& body) {
  auto r = parse_chat_request(body, kLimits);
  if (!std::holds_alternative<ApiError>(r)) {
    ADD_FAILURE() << body << " was accepted";
    return {};
  }
  return std::get<ApiError>(r);
}

ApiError completion_error(const std::string& body) {
  auto r = parse_completion_request(body, kLimits);
  if (!std::holds_alternative<ApiError>(r)) {
    ADD_FAILURE() << body << " was accepted";
    return {};
  }
  return std::get<ApiError>(r);
}

TEST(ChatRequest, Defaults) {
  ChatRequest r = chat_ok(R"({"model":"demo","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(r.messages.size(), 1u);
  EXPECT_FALSE(r.params.max_tokens);
  EXPECT_FLOAT_EQ(r.params.sampling.temperature, 1.0f);
  EXPECT_EQ(r.params.n, 1);
  EXPECT_EQ(r.params.top_logprobs, -1);
  EXPECT_FALSE(r.params.stream);
  EXPECT_FALSE(r.params.seed);
  EXPECT_FALSE(r.tools);
}

TEST(ChatRequest, AllFields) {
  ChatRequest r = chat_ok(R"({
    "model": "demo", "messages": [{"role": "developer", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                                  {"role": "user", "content": "hi"},
                                  {"role": "assistant", "content": null,
                                   "tool_calls": [{"id": "x", "type": "function", "function": {"name": "f", "arguments": {"k": 1}}}]},
                                  {"role": "tool", "tool_call_id": "x", "content": "ok"}],
    "max_completion_tokens": 7, "temperature": 0, "top_p": 0.5, "top_k": -1, "min_p": 0.1, "seed": -3,
    "stop": ["a", "", "b"], "presence_penalty": 1.5, "frequency_penalty": -0.5, "logprobs": true, "top_logprobs": 3,
    "n": 2, "stream": true, "stream_options": {"include_usage": true},
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    "tool_choice": {"type": "function", "function": {"name": "f"}},
    "chat_template_kwargs": {"thinking": true}, "unknown_field": 1})");
  EXPECT_EQ(r.messages[0]["role"], "system");
  EXPECT_EQ(r.messages[0]["content"], "a\nb");
  EXPECT_EQ(r.messages[2]["tool_calls"][0]["function"]["arguments"], "{\"k\":1}");
  EXPECT_EQ(r.params.max_tokens, 7);
  EXPECT_EQ(r.params.sampling.temperature, 0.0f);
  EXPECT_FLOAT_EQ(r.params.sampling.top_p, 0.5f);
  EXPECT_EQ(r.params.sampling.top_k, 0);
  EXPECT_FLOAT_EQ(r.params.sampling.min_p, 0.1f);
  EXPECT_EQ(r.params.seed, static_cast<uint64_t>(-3));
  EXPECT_EQ(r.params.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_FLOAT_EQ(r.params.sampling.presence_penalty, 1.5f);
  EXPECT_FLOAT_EQ(r.params.sampling.frequency_penalty, -0.5f);
  EXPECT_EQ(r.params.top_logprobs, 3);
  EXPECT_EQ(r.params.n, 2);
  EXPECT_TRUE(r.params.include_usage);
  ASSERT_TRUE(r.tools);
  EXPECT_EQ(r.tool_choice, "f");
  EXPECT_EQ(r.template_kwargs["thinking"], true);
}

TEST(ChatRequest, ModelMayBeOmittedButNotWrong) {
  chat_ok(R"({"messages":[{"role":"user","content":"hi"}]})");
  ApiError e = chat_error(R"({"model":"gpt-4","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(e.http_status, 404);
  EXPECT_EQ(e.code, "model_not_found");
}

TEST(ChatRequest, BadRequestsName400AndTheField) {
  struct Case {
    const char* body;
    const char* param;
  };
  const Case cases[] = {
      {R"({"messages":[]})", "messages"},
      {R"({"messages":"hi"})", "messages"},
      {R"({})", "messages"},
      {R"({"messages":[{"role":"robot","content":"x"}]})", "messages[0].role"},
      {R"({"messages":[{"content":"x"}]})", "messages[0].role"},
      {R"({"messages":[{"role":"user","content":null}]})", "messages[0].content"},
      {R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})", "messages[0].content[0].type"},
      {R"({"messages":[{"role":"user","content":"x"}],"temperature":"hot"})", "temperature"},
      {R"({"messages":[{"role":"user","content":"x"}],"temperature":3})", "temperature"},
      {R"({"messages":[{"role":"user","content":"x"}],"top_p":0})", "top_p"},
      {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})", "max_tokens"},
      {R"({"messages":[{"role":"user","content":"x"}],"max_tokens":1.5})", "max_tokens"},
      {R"({"messages":[{"role":"user","content":"x"}],"n":0})", "n"},
      {R"({"messages":[{"role":"user","content":"x"}],"n":100})", "n"},
      {R"({"messages":[{"role":"user","content":"x"}],"stop":5})", "stop"},
      {R"({"messages":[{"role":"user","content":"x"}],"stop":["a",1]})", "stop[1]"},
      {R"({"messages":[{"role":"user","content":"x"}],"presence_penalty":2.5})", "presence_penalty"},
      {R"({"messages":[{"role":"user","content":"x"}],"logprobs":1})", "logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})", "top_logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21})", "top_logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"stream":"yes"})", "stream"},
      {R"({"messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}})", "stream_options"},
      {R"({"messages":[{"role":"user","content":"x"}],"seed":"1"})", "seed"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":{}})", "tools"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]})", "tools[0].function"},
      {R"({"messages":[{"role":"user","content":"x"}],"tool_choice":"maybe"})", "tool_choice"},
      {R"({"messages":[{"role":"user","content":"x"}],"tool_choice":"required"})", "tool_choice"},
      {R"({"messages":[{"role":"user","content":"x"}],"chat_template_kwargs":[]})", "chat_template_kwargs"},
      {R"({"model":5,"messages":[{"role":"user","content":"x"}]})", "model"},
  };
  for (const Case& c : cases) {
    ApiError e = chat_error(c.body);
    EXPECT_EQ(e.http_status, 400) << c.body;
    EXPECT_EQ(e.type, "invalid_request_error");
    EXPECT_EQ(e.param, c.param) << c.body << " -> " << e.message;
    EXPECT_NE(e.message.find(c.param), std::string::npos) << e.message;
  }
}

TEST(ChatRequest, UnparsableBody) {
  for (const char* body : {"", "{", "[1]", "null", "{\"messages\": [}"}) {
    ApiError e = chat_error(body);
    EXPECT_EQ(e.http_status, 400);
    EXPECT_FALSE(e.param);
  }
}

TEST(ApiError, OpenAiShape) {
  const nlohmann::json j = invalid_request("top_p", "top_p: bad").to_json();
  EXPECT_EQ(j, nlohmann::json::parse(
                   R"({"error":{"message":"top_p: bad","type":"invalid_request_error","param":"top_p","code":null}})"));
}

TEST(CompletionRequest, PromptForms) {
  const auto prompts = [](const std::string& body) {
    auto r = parse_completion_request(body, kLimits);
    EXPECT_TRUE(std::holds_alternative<CompletionRequest>(r)) << body;
    return std::holds_alternative<CompletionRequest>(r) ? std::get<CompletionRequest>(r).prompts
                                                       : std::vector<CompletionPrompt>{};
  };
  EXPECT_EQ(prompts(R"({"prompt":"hello"})"), (std::vector<CompletionPrompt>{std::string("hello")}));
  EXPECT_EQ(prompts(R"({"prompt":["a","b"]})"), (std::vector<CompletionPrompt>{std::string("a"), std::string("b")}));
  EXPECT_EQ(prompts(R"({"prompt":[1,2,3]})"), (std::vector<CompletionPrompt>{std::vector<int32_t>{1, 2, 3}}));
  EXPECT_EQ(prompts(R"({"prompt":[[1],[2,3]]})"),
            (std::vector<CompletionPrompt>{std::vector<int32_t>{1}, std::vector<int32_t>{2, 3}}));
  auto r = parse_completion_request(R"({"prompt":"x","logprobs":2,"max_tokens":4})", kLimits);
  ASSERT_TRUE(std::holds_alternative<CompletionRequest>(r));
  EXPECT_EQ(std::get<CompletionRequest>(r).params.top_logprobs, 2);
  EXPECT_EQ(std::get<CompletionRequest>(r).params.max_tokens, 4);
}

TEST(CompletionRequest, BadPrompts) {
  EXPECT_EQ(completion_error(R"({})").param, "prompt");
  EXPECT_EQ(completion_error(R"({"prompt":5})").param, "prompt");
  EXPECT_EQ(completion_error(R"({"prompt":[]})").param, "prompt");
  EXPECT_EQ(completion_error(R"({"prompt":[1,-2]})").param, "prompt");
  EXPECT_EQ(completion_error(R"({"prompt":["a",3]})").param, "prompt[1]");
  EXPECT_EQ(completion_error(R"({"prompt":"a","logprobs":true})").param, "logprobs");
  EXPECT_EQ(completion_error(R"({"prompt":["a","b"],"n":9})").param, "n");
}

}  // namespace
}  // namespace dsinfer::server
