// Errors and limits: templates outside the supported subset, malformed templates,
// raise_exception, and hostile templates or inputs must give clear errors (with
// positions) rather than crash, hang or exhaust memory. Also the public API's
// contract (parse once, render many; variables as transformers passes them).
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/chat_template.h"

namespace dsinfer {
namespace {

using nlohmann::ordered_json;

std::string parse_error(const std::string& source) {
  auto t = ChatTemplate::parse(source);
  return t.is_ok() ? std::string("<parsed>") : t.status().message();
}

Result<std::string> render(const std::string& source, ChatTemplateInputs in = {}, ChatTemplateLimits limits = {}) {
  DSINFER_ASSIGN_OR_RETURN(ChatTemplate t, ChatTemplate::parse(source));
  return render_chat_template(t, in, limits);
}

std::string render_error(const std::string& source, ChatTemplateInputs in = {}, ChatTemplateLimits limits = {}) {
  auto r = render(source, std::move(in), limits);
  return r.is_ok() ? std::string("<rendered: ") + *r + ">" : r.status().message();
}

#define EXPECT_HAS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

TEST(ChatTemplateErrors, UnsupportedTagIsNamedWithItsLine) {
  const std::string message = parse_error("a\nb\n{% call greet() %}hi{% endcall %}");
  EXPECT_HAS(message, "unsupported Jinja tag 'call'");
  EXPECT_HAS(message, "line 3, column 4");
  EXPECT_HAS(parse_error("{% include 'x.jinja' %}"), "unsupported Jinja tag 'include'");
  EXPECT_HAS(parse_error("{% do ns.update() %}"), "unsupported Jinja tag 'do'");
  EXPECT_HAS(parse_error("{% frobnicate %}"), "unknown Jinja tag 'frobnicate'");
  EXPECT_HAS(parse_error("{% for x in xs recursive %}{% endfor %}"), "recursive");
}

TEST(ChatTemplateErrors, UnsupportedFiltersAndTestsAreNamed) {
  EXPECT_HAS(parse_error("{{ x | wordwrap }}"), "unsupported Jinja filter 'wordwrap'");
  EXPECT_HAS(parse_error("{{ x | frobnicate }}"), "unknown Jinja filter 'frobnicate'");
  EXPECT_HAS(parse_error("{{ x is frobnicated }}"), "unknown Jinja test 'frobnicated'");
  EXPECT_HAS(parse_error("{{ f(*args) }}"), "*args");
}

TEST(ChatTemplateErrors, MalformedTemplates) {
  EXPECT_HAS(parse_error("{% if x %}never closed"), "unclosed 'if' block");
  EXPECT_HAS(parse_error("{% for m in messages %}{% if x %}{% endfor %}"), "unknown Jinja tag 'endfor'");
  EXPECT_HAS(parse_error("{% for m in messages %}"), "unclosed 'for' block");
  EXPECT_HAS(parse_error("{% set x %}"), "unclosed 'set' block");
  EXPECT_HAS(parse_error("{% endif %}"), "unknown Jinja tag 'endif'");
  EXPECT_HAS(parse_error("{{ x "), "unexpected end of template");
  EXPECT_HAS(parse_error("{# never closed"), "missing end of comment tag");
  EXPECT_HAS(parse_error("{% raw %}never closed"), "missing end of raw directive");
  EXPECT_HAS(parse_error("{{ 'unterminated }}"), "unterminated string literal");
  EXPECT_HAS(parse_error("{{ (1 }}"), "expected ')'");
  EXPECT_HAS(parse_error("{{ 1 ) }}"), "unexpected ')'");
  EXPECT_HAS(parse_error("{{ }}"), "expected an expression");
  EXPECT_HAS(parse_error("{% break %}"), "'break' outside of a loop");
  EXPECT_HAS(parse_error("{{ x @ y }}"), "unexpected char '@'");
  EXPECT_HAS(parse_error("{% set true = 1 %}"), "can't assign");
  EXPECT_HAS(parse_error("x\n  {{ 1 +* 2 }}"), "line 2, column");
}

TEST(ChatTemplateErrors, RaiseExceptionGivesTheTemplatesMessage) {
  ChatTemplateInputs in;
  in.messages = ordered_json::parse(R"([{"role": "tool", "content": "x"}])");
  const std::string source =
      "{% for m in messages %}{% if m.role not in ['user', 'assistant'] %}"
      "{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";
  EXPECT_EQ(render_error(source, in), "Only user and assistant roles are supported!");
}

TEST(ChatTemplateErrors, RuntimeErrorsCarryLineAndColumn) {
  const std::string message = render_error("line one\n{{ 'a' + 1 }}");
  EXPECT_HAS(message, "can only concatenate str");
  EXPECT_HAS(message, "line 2, column");
  EXPECT_HAS(render_error("{{ messages[0].content }}"), "has no element 0");
  EXPECT_HAS(render_error("{{ l.append(1) }}{% set l = [] %}"), "is undefined");
  EXPECT_HAS(render_error("{% set l = [] %}{{ l.append(1) }}"), "unsafe");
}

TEST(ChatTemplateErrors, RunawayMacroRecursionIsStopped) {
  EXPECT_HAS(render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"), "recursed deeper than");
  // Bounded recursion is fine.
  EXPECT_EQ(*render("{% macro count(n) %}{{ n }}{% if n > 0 %}{{ count(n - 1) }}{% endif %}{% endmacro %}"
                    "{{ count(5) }}"),
            "543210");
}

TEST(ChatTemplateErrors, StepLimitStopsRunawayLoops) {
  ChatTemplateLimits limits;
  limits.max_steps = 100000;
  const std::string message =
      render_error("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", {}, limits);
  EXPECT_HAS(message, "evaluation steps");
}

TEST(ChatTemplateErrors, OutputAndValueSizeLimits) {
  ChatTemplateLimits limits;
  limits.max_output_bytes = 1 << 20;
  EXPECT_HAS(render_error("{% for a in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", {}, limits),
             "output exceeded");
  EXPECT_HAS(render_error("{{ 'x' * 100000000000 }}", {}, limits), "longer than the limit");
  EXPECT_HAS(render_error("{% set ns = namespace(s='x') %}{% for i in range(100) %}"
                          "{% set ns.s = ns.s + ns.s %}{% endfor %}",
                          {}, limits),
             "longer than the limit");
  EXPECT_HAS(render_error("{{ [1] * 100000000000 }}", {}, limits), "list longer than the limit");
  EXPECT_HAS(render_error("{{ range(1000000) | length }}"), "MAX_RANGE");
}

TEST(ChatTemplateErrors, DeepNestingIsRefusedNotACrash) {
  EXPECT_HAS(parse_error("{{ " + std::string(20000, '(') + "1" + std::string(20000, ')') + " }}"),
             "nests too deeply");
  EXPECT_HAS(parse_error("{{ " + std::string(20000, '-') + "1 }}"), "nests too deeply");
  EXPECT_HAS(parse_error("{{ " + [] {
               std::string s;
               for (int i = 0; i < 20000; ++i) s += "not ";
               return s;
             }() + "x }}"),
             "nests too deeply");
  std::string blocks;
  for (int i = 0; i < 5000; ++i) blocks += "{% if true %}";
  EXPECT_HAS(parse_error(blocks), "nests too deeply");

  ChatTemplateInputs deep;
  std::string json_text(5000, '[');
  json_text += std::string(5000, ']');
  deep.messages = ordered_json::parse(json_text);
  EXPECT_HAS(render_error("{{ messages }}", deep), "nests too deeply");
  EXPECT_HAS(render_error("{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% set ns.x = [ns.x] %}"
                          "{% endfor %}{{ ns.x }}"),
             "nests too deeply");
}

TEST(ChatTemplateErrors, NamespacesCannotFormCycles) {
  EXPECT_HAS(render_error("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}"), "may not hold");
  EXPECT_HAS(render_error("{% set ns = namespace() %}{% set ns.l = [ns] %}"), "may not hold");
  EXPECT_HAS(render_error("{% set ns = namespace() %}{% set n2 = namespace(x=ns) %}"), "may not hold");
}

TEST(ChatTemplateErrors, MalformedInputs) {
  ChatTemplateInputs in;
  in.extra = ordered_json::parse(R"({"messages": []})");
  EXPECT_HAS(render_error("x", in), "may not set 'messages'");
  in.extra = ordered_json::array();
  EXPECT_HAS(render_error("x", in), "must be a JSON object");
}

TEST(ChatTemplateApi, VariablesAsTransformersPassesThem) {
  ChatTemplateInputs in;
  in.messages = ordered_json::parse(R"([{"role": "user", "content": "hi"}])");
  // No special tokens configured: undefined, as transformers passes only those the tokenizer has.
  EXPECT_EQ(*render("[{{ bos_token }}]{{ bos_token is defined }}{{ tools is none }}{{ documents is none }}"
                    "{{ add_generation_prompt }}",
                    in),
            "[]FalseTrueTrueFalse");
  in.bos_token = "<s>";
  in.add_generation_prompt = true;
  in.tools = ordered_json::parse(R"([{"type": "function", "function": {"name": "f", "b": 1, "a": 2}}])");
  in.extra = ordered_json::parse(R"({"thinking": true})");
  EXPECT_EQ(*render("{{ bos_token }}{{ add_generation_prompt }}{{ thinking }}{{ tools[0] | tojson }}", in),
            R"(<s>TrueTrue{"type": "function", "function": {"name": "f", "b": 1, "a": 2}})");
}

TEST(ChatTemplateApi, ParseOnceRenderConcurrently) {
  auto tmpl = ChatTemplate::parse(
      "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{{ m.content }}{% endfor %}"
      "{{ ns.n }}");
  ASSERT_TRUE(tmpl.is_ok());
  std::vector<std::thread> threads;
  std::vector<std::string> results(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      ChatTemplateInputs in;
      for (int i = 0; i <= t; ++i) in.messages.push_back({{"role", "user"}, {"content", std::to_string(i)}});
      for (int rep = 0; rep < 50; ++rep) results[t] = *render_chat_template(*tmpl, in);
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) {
    std::string want;
    for (int i = 0; i <= t; ++i) want += std::to_string(i);
    EXPECT_EQ(results[t], want + std::to_string(t + 1));
  }
}

}  // namespace
}  // namespace dsinfer
