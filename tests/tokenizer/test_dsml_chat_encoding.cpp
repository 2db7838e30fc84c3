// The DeepSeek-V3.2 / V4 prompt encoders against the goldens of
// tests/fixtures/chat_encoding (made by tests/reference/chat_encoding/gen_chat_goldens.py,
// checked against DeepSeek's own encoding scripts), byte for byte, and their errors.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "chat_template_test_util.h"
#include "tokenizer/dsml_chat_encoding.h"

namespace dsinfer {
namespace {

using nlohmann::ordered_json;
using testing::first_difference;
using testing::read_text_file;

std::string golden_path(const std::string& name) {
  return std::string(DSINFER_SOURCE_DIR) + "/tests/fixtures/chat_encoding/" + name + ".jsonl";
}

DsmlChatInputs dsml_inputs_for(const ordered_json& c) {
  DsmlChatInputs in{.messages = c.at("messages"),
                    .context = c.at("context"),
                    .thinking = c.at("thinking").get<bool>(),
                    .drop_thinking = c.at("drop_thinking").get<bool>(),
                    .add_bos = c.at("bos").get<bool>()};
  const auto effort = c.find("reasoning_effort");
  if (effort != c.end() && *effort == "high") in.reasoning_effort = ReasoningEffort::kHigh;
  if (effort != c.end() && *effort == "max") in.reasoning_effort = ReasoningEffort::kMax;
  return in;
}

struct GoldenFile {
  const char* name;
  DsmlVersion version;
  size_t cases;  // as gen_chat_goldens.py writes them; a short file fails
};

class DsmlGolden : public ::testing::TestWithParam<GoldenFile> {};

TEST_P(DsmlGolden, MatchesReferenceEncoder) {
  const GoldenFile file = GetParam();
  std::istringstream lines(read_text_file(golden_path(file.name)));
  size_t checked = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    const auto c = ordered_json::parse(line);
    const std::string name = c.at("name");
    Result<std::string> text = render_dsml_chat(file.version, dsml_inputs_for(c));
    ASSERT_TRUE(text.is_ok()) << name << ": " << text.status().message();
    const std::string expected = c.at("text");
    EXPECT_EQ(*text, expected) << name << ": " << first_difference(expected, *text);
    ++checked;
  }
  EXPECT_EQ(checked, file.cases);
}

INSTANTIATE_TEST_SUITE_P(Versions, DsmlGolden,
                         ::testing::Values(GoldenFile{"v32", DsmlVersion::kV32, 24}, GoldenFile{"v4", DsmlVersion::kV4, 37}),
                         [](const auto& info) { return std::string(info.param.name); });

const char* kWeatherTool =
    R"([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}])";

// The request's tools end up where the scripts read them: on the leading system message.
TEST(DsmlChatEncoding, RequestToolsGoOnTheSystemMessage) {
  const auto tools = ordered_json::parse(kWeatherTool);
  const auto system = ordered_json::parse(R"({"role": "system", "content": "Be brief."})");
  const auto user = ordered_json::parse(R"({"role": "user", "content": "Hi"})");
  for (DsmlVersion v : {DsmlVersion::kV32, DsmlVersion::kV4}) {
    ordered_json with_tools = system;
    with_tools["tools"] = tools;
    auto expected = render_dsml_chat(v, {.messages = {with_tools, user}});
    auto actual = render_dsml_chat(v, {.messages = {system, user}, .tools = tools});
    ASSERT_TRUE(expected.is_ok() && actual.is_ok());
    EXPECT_EQ(*actual, *expected);

    // Without a system message, an empty one carries them.
    ordered_json empty_system = {{"role", "system"}, {"content", ""}, {"tools", tools}};
    expected = render_dsml_chat(v, {.messages = {empty_system, user}});
    actual = render_dsml_chat(v, {.messages = {user}, .tools = tools});
    ASSERT_TRUE(expected.is_ok() && actual.is_ok());
    EXPECT_EQ(*actual, *expected);
    EXPECT_NE(actual->find("get_weather"), std::string::npos);

    // An empty list is no tools.
    actual = render_dsml_chat(v, {.messages = {user}, .tools = ordered_json::array()});
    ASSERT_TRUE(actual.is_ok());
    EXPECT_EQ(actual->find("## Tools"), std::string::npos);
  }
}

TEST(DsmlChatEncoding, CallArgumentsMayComeParsed) {
  const auto as_text = ordered_json::parse(R"([{"role": "user", "content": "x"},
      {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": "{\"a\": 1, \"b\": \"s\"}"}}]}])");
  ordered_json parsed = as_text;
  parsed[1]["tool_calls"][0]["function"]["arguments"] = ordered_json::parse(R"({"a": 1, "b": "s"})");
  auto a = render_dsml_chat(DsmlVersion::kV32, {.messages = as_text});
  auto b = render_dsml_chat(DsmlVersion::kV32, {.messages = parsed});
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(a->find(R"(<｜DSML｜parameter name="a" string="false">1</｜DSML｜parameter>)"), std::string::npos);
  EXPECT_NE(a->find(R"(<｜DSML｜parameter name="b" string="true">s</｜DSML｜parameter>)"), std::string::npos);
}

struct ErrorCase {
  const char* name;
  DsmlVersion version;
  const char* messages;
  const char* expected;  // a substring of the message
  bool thinking = false;
  const char* tools = nullptr;
};

class DsmlErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(DsmlErrors, NamesTheProblem) {
  const ErrorCase& c = GetParam();
  DsmlChatInputs in{.messages = ordered_json::parse(c.messages), .thinking = c.thinking};
  if (c.tools) in.tools = ordered_json::parse(c.tools);
  Result<std::string> text = render_dsml_chat(c.version, in);
  ASSERT_FALSE(text.is_ok()) << *text;
  EXPECT_NE(text.status().message().find(c.expected), std::string::npos) << text.status().message();
}

constexpr auto kV32 = DsmlVersion::kV32;
constexpr auto kV4 = DsmlVersion::kV4;

INSTANTIATE_TEST_SUITE_P(
    Cases, DsmlErrors,
    ::testing::Values(
        ErrorCase{"not_an_array", kV32, R"({"role": "user"})", "messages: must be an array"},
        ErrorCase{"not_an_object", kV32, R"(["hi"])", "messages[0]: a message must be a JSON object"},
        ErrorCase{"unknown_role", kV32, R"([{"role": "bot", "content": "x"}])", "messages[0]: unknown role 'bot'"},
        ErrorCase{"reminder_is_v4_only", kV32, R"([{"role": "latest_reminder", "content": "x"}])",
                  "unknown role 'latest_reminder'"},
        ErrorCase{"missing_role", kV4, R"([{"content": "x"}])", "messages[0].role: must be a string"},
        ErrorCase{"content_not_string", kV32, R"([{"role": "user", "content": 3}])", "messages[0].content: must be a string"},
        ErrorCase{"v4_null_user_content", kV4, R"([{"role": "user", "content": null}])", "messages[0].content"},
        ErrorCase{"developer_without_content", kV4, R"([{"role": "developer", "content": ""}])",
                  "a developer message needs content"},
        ErrorCase{"tool_without_call", kV32, R"([{"role": "user", "content": "x"}, {"role": "tool", "content": "r"}])",
                  "messages[1]: tool message does not answer a tool call"},
        ErrorCase{"more_results_than_calls", kV32,
                  R"([{"role": "user", "content": "x"},
                      {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]},
                      {"role": "tool", "content": "1"}, {"role": "tool", "content": "2"}])",
                  "messages[3]: tool message does not answer a tool call"},
        ErrorCase{"tool_first", kV32, R"([{"role": "tool", "content": "r"}])", "does not answer a tool call"},
        ErrorCase{"v32_arguments_not_json", kV32,
                  R"([{"role": "user", "content": "x"},
                      {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "nope"}}]}])",
                  "messages[1].tool_calls[0].function.arguments: not valid JSON"},
        ErrorCase{"arguments_not_object", kV4,
                  R"([{"role": "user", "content": "x"},
                      {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "[1]"}}]}])",
                  "arguments: must be a JSON object"},
        ErrorCase{"call_without_name", kV4,
                  R"([{"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}])",
                  "messages[0].tool_calls[0].function.name: must be a string"},
        ErrorCase{"thinking_turn_without_reasoning", kV32,
                  R"([{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}])",
                  "needs reasoning_content or tool_calls", /*thinking=*/true},
        ErrorCase{"tool_schema_not_object", kV32, R"([{"role": "system", "content": "s", "tools": ["f"]}])",
                  "messages[0].tools[0]: must be an object with a \"function\" object"},
        ErrorCase{"tool_schema_name", kV4, R"([{"role": "system", "content": "s", "tools": [{"function": {"name": 1}}]}])",
                  "messages[0].tools[0].function.name: must be a string"},
        ErrorCase{"request_tools_not_array", kV4, R"([{"role": "user", "content": "x"}])", "tools: must be an array",
                  false, R"({"function": {"name": "f"}})"},
        ErrorCase{"tools_twice", kV32, R"([{"role": "system", "content": "s", "tools": [{"function": {"name": "f"}}]}])",
                  "tools: given both in the request and on messages[0]", false, R"([{"function": {"name": "g"}}])"},
        ErrorCase{"unknown_task", kV4, R"([{"role": "user", "content": "x", "task": "summarise"}])",
                  "messages[0].task: must be one of"},
        ErrorCase{"v32_tool_content_parts", kV32,
                  R"([{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]},
                      {"role": "tool", "content": [{"type": "text", "text": "r"}]}])",
                  "messages[1].content: must be a string"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(DsmlChatEncoding, ReasoningEffortIsV4Only) {
  auto text = render_dsml_chat(kV32, {.messages = ordered_json::parse(R"([{"role": "user", "content": "x"}])"),
                                      .reasoning_effort = ReasoningEffort::kMax});
  ASSERT_FALSE(text.is_ok());
  EXPECT_NE(text.status().message().find("DeepSeek-V4 option"), std::string::npos);
}

TEST(DsmlChatEncoding, ContextMustBeAnArray) {
  auto text = render_dsml_chat(kV4, {.context = ordered_json::object()});
  ASSERT_FALSE(text.is_ok());
  EXPECT_EQ(text.status().message(), "context: must be an array of messages");
}

}  // namespace
}  // namespace dsinfer
