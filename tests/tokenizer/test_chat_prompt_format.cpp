// Which prompt format a model gets (chat_prompt_format.h) and how the chat-template
// kwargs reach the DeepSeek-V3.2 / V4 encoders.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../formats/temp_dir.h"
#include "tokenizer/chat_prompt_format.h"
#include "tokenizer/dsml_chat_encoding.h"
#include "tokenizer/tokenizer_config.h"

namespace dsinfer {
namespace {

using nlohmann::ordered_json;
using Kind = ChatPromptFormat::Kind;

const ordered_json kHello = ordered_json::parse(R"([{"role": "user", "content": "Hello!"}])");

ChatPromptFormat make(const TokenizerConfig& config, std::string_view model_type) {
  auto f = ChatPromptFormat::create(config, model_type);
  EXPECT_TRUE(f.is_ok()) << f.status().message();
  return std::move(f).value();
}

TEST(ChatPromptFormat, TemplateWinsOverModelType) {
  TokenizerConfig config{.bos_token = "<s>", .chat_template = "{{ bos_token }}{{ messages[0]['content'] }}"};
  ChatPromptFormat f = make(config, "deepseek_v32");
  EXPECT_EQ(f.kind(), Kind::kJinja);
  auto text = f.render({.messages = kHello});
  ASSERT_TRUE(text.is_ok()) << text.status().message();
  EXPECT_EQ(*text, "<s>Hello!");
}

TEST(ChatPromptFormat, EncoderFromModelType) {
  EXPECT_EQ(make({}, "deepseek_v32").kind(), Kind::kDsmlV32);
  EXPECT_EQ(make({}, "deepseek_v4").kind(), Kind::kDsmlV4);
  EXPECT_EQ(make({}, "deepseek_v3").kind(), Kind::kNone);
  auto text = make({}, "deepseek_v3").render({.messages = kHello});
  ASSERT_FALSE(text.is_ok());
  EXPECT_NE(text.status().message().find("model_type 'deepseek_v3' has no built-in encoder"), std::string::npos);
}

TEST(ChatPromptFormat, KwargsSelectTheMode) {
  for (const char* type : {"deepseek_v32", "deepseek_v4"}) {
    ChatPromptFormat f = make({}, type);
    auto chat = f.render({.messages = kHello});
    auto thinking = f.render({.messages = kHello, .kwargs = {{"thinking", true}}});
    ASSERT_TRUE(chat.is_ok() && thinking.is_ok());
    EXPECT_EQ(*chat, "<｜begin▁of▁sentence｜><｜User｜>Hello!<｜Assistant｜></think>");
    EXPECT_EQ(*thinking, "<｜begin▁of▁sentence｜><｜User｜>Hello!<｜Assistant｜><think>");
    auto bad = f.render({.messages = kHello, .kwargs = {{"thinking", "yes"}}});
    ASSERT_FALSE(bad.is_ok());
    EXPECT_EQ(bad.status().message(), "chat_template_kwargs.thinking: must be true or false");
  }
  auto max = make({}, "deepseek_v4").render({.messages = kHello, .kwargs = {{"thinking", true}, {"reasoning_effort", "max"}}});
  ASSERT_TRUE(max.is_ok());
  EXPECT_NE(max->find("Reasoning Effort: Absolute maximum"), std::string::npos);
  auto bad = make({}, "deepseek_v4").render({.messages = kHello, .kwargs = {{"reasoning_effort", "low"}}});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("reasoning_effort"), std::string::npos);
}

class ChatPromptFormatLoad : public test::TempDirTest {};

TEST_F(ChatPromptFormatLoad, ReadsModelTypeFromConfigJson) {
  auto none = ChatPromptFormat::load(dir_.string(), {});  // no config.json: no model_type
  ASSERT_TRUE(none.is_ok()) << none.status().message();
  EXPECT_EQ(none->kind(), Kind::kNone);
  write_text("config.json", R"({"model_type": "deepseek_v4"})");
  auto f = ChatPromptFormat::load(dir_.string(), {});
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f->kind(), Kind::kDsmlV4);
  write_text("config.json", "{not json");
  EXPECT_FALSE(ChatPromptFormat::load(dir_.string(), {}).is_ok());
}

class TokenizerConfigLoad : public test::TempDirTest {};

TEST_F(TokenizerConfigLoad, ChatTemplateFileReplacesTheConfigsTemplate) {
  write_text("tokenizer_config.json", R"({"bos_token": "<s>", "chat_template": "inline {{ bos_token }}"})");
  auto inline_only = load_tokenizer_config(dir_.string());
  ASSERT_TRUE(inline_only.is_ok()) << inline_only.status().message();
  EXPECT_EQ(inline_only->chat_template, "inline {{ bos_token }}");
  write_text("chat_template.jinja", "{% for m in messages %}{{ m.content }}{% endfor %}\n");
  auto both = load_tokenizer_config(dir_.string());
  ASSERT_TRUE(both.is_ok()) << both.status().message();
  EXPECT_EQ(both->chat_template, "{% for m in messages %}{{ m.content }}{% endfor %}\n");
  EXPECT_EQ(both->bos_token, "<s>");
  write_text("tokenizer_config.json", R"({"bos_token": "<s>"})");  // a template only in the file
  auto file_only = load_tokenizer_config(dir_.string());
  ASSERT_TRUE(file_only.is_ok()) << file_only.status().message();
  EXPECT_EQ(file_only->chat_template, "{% for m in messages %}{{ m.content }}{% endfor %}\n");
}

}  // namespace
}  // namespace dsinfer
