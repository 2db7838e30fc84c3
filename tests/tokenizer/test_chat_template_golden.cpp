// Every real DeepSeek chat template in tests/fixtures/chat_templates, rendered
// with every conversation in conversations.json, must match byte for byte what
// Python Jinja2 produced under transformers' settings
// (tests/reference/chat_template/gen_golden.py), including where Jinja2 fails.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat_template_test_util.h"
#include "tokenizer/chat_template.h"

namespace dsinfer {
namespace {

using nlohmann::ordered_json;
using testing::chat_template_fixture;
using testing::read_text_file;

std::vector<std::string> template_names() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(chat_template_fixture(""))) {
    if (entry.path().extension() == ".jinja") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

ChatTemplateInputs inputs_for(const ordered_json& conversation) {
  ChatTemplateInputs in;
  in.messages = conversation.at("messages");
  if (conversation.contains("tools")) in.tools = conversation["tools"];
  in.add_generation_prompt = conversation.value("add_generation_prompt", false);
  in.bos_token = "<｜begin▁of▁sentence｜>";
  in.eos_token = "<｜end▁of▁sentence｜>";
  if (conversation.contains("kwargs")) in.extra = conversation["kwargs"];
  return in;
}

class ChatTemplateGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatTemplateGolden, MatchesJinja2) {
  const std::string name = GetParam();
  auto tmpl = ChatTemplate::parse(read_text_file(chat_template_fixture(name + ".jinja")));
  ASSERT_TRUE(tmpl.is_ok()) << tmpl.status().message();

  const auto conversations = ordered_json::parse(read_text_file(chat_template_fixture("conversations.json")));
  std::istringstream golden(read_text_file(chat_template_fixture("golden/" + name + ".jsonl")));
  std::string line;
  size_t index = 0, checked = 0;
  while (std::getline(golden, line)) {
    if (line.empty()) continue;
    const auto expected = ordered_json::parse(line);
    ASSERT_LT(index, conversations.size());
    const auto& conversation = conversations[index++];
    const std::string conv_name = expected.at("conversation");
    ASSERT_EQ(conv_name, conversation.at("name").get<std::string>()) << "golden out of date: rerun gen_golden.py";
    SCOPED_TRACE(name + " x " + conv_name);
    auto rendered = render_chat_template(*tmpl, inputs_for(conversation));
    if (expected.contains("rendered")) {
      ASSERT_TRUE(rendered.is_ok()) << rendered.status().message();
      const std::string want = expected["rendered"];
      EXPECT_EQ(want, *rendered) << testing::first_difference(want, *rendered);
    } else {
      EXPECT_FALSE(rendered.is_ok()) << "Jinja2 failed with: " << expected["error"].get<std::string>();
      if (expected["error_type"] == "TemplateError" && !rendered.is_ok()) {  // raise_exception: same message
        EXPECT_EQ(expected["error"].get<std::string>(), rendered.status().message());
      }
    }
    ++checked;
  }
  EXPECT_EQ(checked, conversations.size());
}

INSTANTIATE_TEST_SUITE_P(DeepSeek, ChatTemplateGolden, ::testing::ValuesIn(template_names()),
                         [](const auto& info) {
                           std::string id = info.param;
                           for (char& c : id) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return id;
                         });

TEST(ChatTemplateGolden, CoversTheRequiredModels) {
  const auto names = template_names();
  for (const char* required : {"deepseek-v2-lite-chat", "deepseek-v2.5", "deepseek-v3", "deepseek-r1", "deepseek-v3.1"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), required), names.end()) << required;
  }
  const auto conversations = ordered_json::parse(read_text_file(chat_template_fixture("conversations.json")));
  EXPECT_GE(conversations.size(), 20u);
}

}  // namespace
}  // namespace dsinfer
