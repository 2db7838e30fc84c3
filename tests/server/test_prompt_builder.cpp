// Chat requests -> prompt ids for a model whose prompt format is a built-in DeepSeek-V3.2 /
// V4 encoder (config.json model_type, no chat_template): the real DeepSeek-V3 tokenizer
// files with the template taken out, so only the encoders can render.
#include <fstream>
#include <sstream>
#include <string>
#include <variant>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "server/prompt_builder.h"
#include "tokenizer/dsml_chat_encoding.h"

namespace dsinfer::server {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

const Tokenizer& tokenizer_without_template() {
  static const Tokenizer* tokenizer = [] {
    auto loaded = Tokenizer::load(std::string(DSINFER_SOURCE_DIR) + "/data/tokenizers/deepseek_v3");
    if (!loaded.is_ok()) {
      ADD_FAILURE() << loaded.status().message();
      std::abort();
    }
    TokenizerConfig config = loaded->config();
    config.chat_template.reset();
    std::ifstream in(std::string(DSINFER_SOURCE_DIR) + "/data/tokenizers/deepseek_v3/tokenizer.json", std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    auto bare = Tokenizer::from_json(text.str(), config);
    if (!bare.is_ok()) {
      ADD_FAILURE() << bare.status().message();
      std::abort();
    }
    return new Tokenizer(std::move(bare).value());
  }();
  return *tokenizer;
}

PromptBuilder builder(std::string_view model_type) {
  auto format = ChatPromptFormat::create(tokenizer_without_template().config(), model_type);
  EXPECT_TRUE(format.is_ok()) << format.status().message();
  return PromptBuilder::create(tokenizer_without_template(), std::move(format).value());
}

ChatRequest request(const json& extra) {
  json body = {{"model", "demo"}, {"messages", {{{"role", "user"}, {"content", "Weather in Paris?"}}}}};
  body.update(extra);
  auto parsed = parse_chat_request(body.dump(), {.model_name = "demo"});
  if (auto* e = std::get_if<ApiError>(&parsed)) ADD_FAILURE() << e->message;
  return std::get<ChatRequest>(parsed);
}

std::string decoded(const ChatPrompt& prompt) {
  std::vector<TokenId> ids(prompt.ids.begin(), prompt.ids.end());
  auto text = tokenizer_without_template().decode(ids);
  EXPECT_TRUE(text.is_ok());
  return *text;
}

const json kTools = json::parse(R"([{"type": "function", "function": {"name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])");

TEST(PromptBuilderDsml, V32ThinkingFromKwargs) {
  PromptBuilder prompts = builder("deepseek_v32");
  EXPECT_EQ(prompts.format().tool_calls, ToolCallSyntax::kDsmlV32);
  EXPECT_TRUE(prompts.format().reasoning);

  auto r = prompts.chat(request({{"chat_template_kwargs", {{"thinking", true}}}}));
  ASSERT_TRUE(std::holds_alternative<ChatPrompt>(r)) << std::get<ApiError>(r).message;
  const ChatPrompt& p = std::get<ChatPrompt>(r);
  EXPECT_TRUE(p.opens_reasoning);
  EXPECT_EQ(p.ids.front(), 0);  // BOS, written by the encoder, once
  EXPECT_EQ(decoded(p), "<｜begin▁of▁sentence｜><｜User｜>Weather in Paris?<｜Assistant｜><think>");

  auto chat = prompts.chat(request(json::object()));
  ASSERT_TRUE(std::holds_alternative<ChatPrompt>(chat));
  EXPECT_FALSE(std::get<ChatPrompt>(chat).opens_reasoning);
}

TEST(PromptBuilderDsml, V4ToolsUnlessToolChoiceNone) {
  PromptBuilder prompts = builder("deepseek_v4");
  EXPECT_EQ(prompts.format().tool_calls, ToolCallSyntax::kDsmlV4);

  auto with_tools = prompts.chat(request({{"tools", kTools}}));
  ASSERT_TRUE(std::holds_alternative<ChatPrompt>(with_tools)) << std::get<ApiError>(with_tools).message;
  const auto user = ordered_json::parse(R"([{"role": "user", "content": "Weather in Paris?"}])");
  auto expected = render_dsml_chat(DsmlVersion::kV4, {.messages = user, .tools = ordered_json::parse(kTools.dump())});
  ASSERT_TRUE(expected.is_ok());
  EXPECT_EQ(decoded(std::get<ChatPrompt>(with_tools)), *expected);
  EXPECT_NE(expected->find("<｜DSML｜tool_calls>"), std::string::npos);

  auto without = prompts.chat(request({{"tools", kTools}, {"tool_choice", "none"}}));
  ASSERT_TRUE(std::holds_alternative<ChatPrompt>(without));
  EXPECT_EQ(decoded(std::get<ChatPrompt>(without)).find("get_weather"), std::string::npos);
}

// tool_choice "required" / named: the prompt ends with the call's opening (decoded from
// the prompt ids, so the special tags tokenized as the model's own), and a thinking
// prompt, which cannot be forced, is refused.
TEST(PromptBuilderDsml, ForcedToolChoiceOpensTheCall) {
  PromptBuilder prompts = builder("deepseek_v4");
  auto named = prompts.chat(request({{"tools", kTools},
                                     {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_weather"}}}}}}));
  ASSERT_TRUE(std::holds_alternative<ChatPrompt>(named)) << std::get<ApiError>(named).message;
  const ChatPrompt& p = std::get<ChatPrompt>(named);
  EXPECT_EQ(p.forced_output, "<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"get_weather\">\n");
  const std::string text = decoded(p);
  ASSERT_GE(text.size(), p.forced_output.size());
  EXPECT_EQ(text.substr(text.size() - p.forced_output.size()), p.forced_output);

  auto required = prompts.chat(request({{"tools", kTools}, {"tool_choice", "required"}}));
  ASSERT_TRUE(std::holds_alternative<ChatPrompt>(required));
  EXPECT_EQ(std::get<ChatPrompt>(required).forced_output, "<｜DSML｜tool_calls>\n");

  auto automatic = prompts.chat(request({{"tools", kTools}}));
  ASSERT_TRUE(std::holds_alternative<ChatPrompt>(automatic));
  EXPECT_EQ(std::get<ChatPrompt>(automatic).forced_output, "");

  auto thinking = prompts.chat(
      request({{"tools", kTools}, {"tool_choice", "required"}, {"chat_template_kwargs", {{"thinking", true}}}}));
  ASSERT_TRUE(std::holds_alternative<ApiError>(thinking));
  EXPECT_EQ(std::get<ApiError>(thinking).http_status, 400);
  EXPECT_NE(std::get<ApiError>(thinking).message.find("thinking"), std::string::npos);
}

TEST(PromptBuilderDsml, MalformedConversationIsTheClientsFault) {
  PromptBuilder prompts = builder("deepseek_v32");
  auto r = prompts.chat(request({{"messages", {{{"role", "user"}, {"content", "x"}},
                                               {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "18"}}}}}));
  ASSERT_TRUE(std::holds_alternative<ApiError>(r));
  const ApiError& e = std::get<ApiError>(r);
  EXPECT_EQ(e.http_status, 400);
  EXPECT_EQ(e.param, "messages");
  EXPECT_NE(e.message.find("messages[1]: tool message does not answer a tool call"), std::string::npos) << e.message;

  auto bad_kwargs = prompts.chat(request({{"chat_template_kwargs", {{"thinking", "yes"}}}}));
  ASSERT_TRUE(std::holds_alternative<ApiError>(bad_kwargs));
  EXPECT_NE(std::get<ApiError>(bad_kwargs).message.find("chat_template_kwargs.thinking"), std::string::npos);
}

TEST(PromptBuilderDsml, NoFormatServesCompletionsOnly) {
  PromptBuilder prompts = builder("deepseek_v3");
  auto r = prompts.chat(request(json::object()));
  ASSERT_TRUE(std::holds_alternative<ApiError>(r));
  EXPECT_NE(std::get<ApiError>(r).message.find("use /v1/completions"), std::string::npos);
  auto ids = prompts.completion(std::string("Hello"));
  ASSERT_TRUE(std::holds_alternative<std::vector<int32_t>>(ids));
}

}  // namespace
}  // namespace dsinfer::server
