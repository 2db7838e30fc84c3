// One Jinja construct per case (tests/fixtures/chat_templates/jinja_cases.json,
// made by tests/reference/chat_template/gen_jinja_cases.py with Python Jinja2):
// the interpreter must print the same bytes, or fail where Jinja2 fails.
#include <gtest/gtest.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "chat_template_test_util.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/json_io.h"
#include "tokenizer/jinja/parser.h"
#include "tokenizer/jinja/renderer.h"

namespace dsinfer::jinja {
namespace {

using nlohmann::ordered_json;

struct Case {
  std::string name;
  ordered_json data;
};

std::vector<Case> load_cases(const std::string& path) {
  std::vector<Case> cases;
  const auto all = ordered_json::parse(testing::read_text_file(path));
  for (const auto& c : all) cases.push_back({c.at("name").get<std::string>(), c});
  return cases;
}

// Cases in the same format from elsewhere, e.g. made by
// tests/reference/chat_template/gen_random_cases.py for differential testing.
std::vector<Case> load_extra_cases() {
  const char* path = std::getenv("DSINFER_JINJA_CASES");
  return path ? load_cases(path) : std::vector<Case>{};
}

class JinjaCase : public ::testing::TestWithParam<Case> {};

TEST_P(JinjaCase, MatchesJinja2) {
  const ordered_json& c = GetParam().data;
  const std::string source = c.at("template");
  auto parsed = parse_template(source);
  auto vars = value_from_json(c.at("vars"), kMaxValueDepth);
  ASSERT_TRUE(vars.is_ok()) << vars.status().message();
  Result<std::string> rendered = parsed.is_ok() ? Renderer(**parsed, RenderLimits{}).render(vars->dict_data())
                                                : Result<std::string>(parsed.status());
  if (c.contains("expected")) {
    ASSERT_TRUE(rendered.is_ok()) << rendered.status().message();
    const std::string want = c["expected"];
    EXPECT_EQ(want, *rendered) << testing::first_difference(want, *rendered);
  } else {
    ASSERT_FALSE(rendered.is_ok()) << "Jinja2 failed with: " << c["error"].get<std::string>() << "\nwe rendered: "
                                   << *rendered;
    if (c["error_type"] == "TemplateError") {
      EXPECT_TRUE(is_raised_by_template(rendered.status()));
      EXPECT_EQ(c["error"].get<std::string>(), strip_raise_marker(rendered.status().message()));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Constructs, JinjaCase,
                         ::testing::ValuesIn(load_cases(testing::chat_template_fixture("jinja_cases.json"))),
                         [](const auto& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(Extra, JinjaCase, ::testing::ValuesIn(load_extra_cases()),
                         [](const auto& info) { return info.param.name; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(JinjaCase);

}  // namespace
}  // namespace dsinfer::jinja
