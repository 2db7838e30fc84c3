#include "tokenizer/chat_template.h"

#include <exception>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/json_io.h"
#include "tokenizer/jinja/parser.h"
#include "tokenizer/jinja/renderer.h"

namespace dsinfer {

Result<ChatTemplate> ChatTemplate::parse(std::string_view source) {
  try {
    auto parsed = jinja::parse_template(source);
    if (!parsed.is_ok()) return parsed.status().with_context("chat template");
    return ChatTemplate(std::move(parsed).value());
  } catch (const std::exception& e) {  // allocation failure on a huge template
    return error("chat template: {}", e.what());
  }
}

namespace {

Result<std::string> render_impl(const ChatTemplate& tmpl, const ChatTemplateInputs& inputs,
                                              const ChatTemplateLimits& limits) {
  using jinja::Value;
  jinja::DictData variables;
  DSINFER_ASSIGN_OR_RETURN(Value messages, jinja::value_from_json(inputs.messages, jinja::kMaxValueDepth));
  variables.set(Value::string("messages"), std::move(messages));
  Value tools = Value::none();
  if (inputs.tools && !inputs.tools->is_null()) {
    DSINFER_ASSIGN_OR_RETURN(tools, jinja::value_from_json(*inputs.tools, jinja::kMaxValueDepth));
  }
  variables.set(Value::string("tools"), std::move(tools));
  variables.set(Value::string("documents"), Value::none());
  variables.set(Value::string("add_generation_prompt"), Value::boolean(inputs.add_generation_prompt));
  if (inputs.bos_token) variables.set(Value::string("bos_token"), Value::string(*inputs.bos_token));
  if (inputs.eos_token) variables.set(Value::string("eos_token"), Value::string(*inputs.eos_token));
  if (!inputs.extra.is_null()) {
    if (!inputs.extra.is_object()) return error("chat template kwargs must be a JSON object");
    for (auto it = inputs.extra.begin(); it != inputs.extra.end(); ++it) {
      const std::string& key = it.key();
      if (key == "messages" || key == "tools" || key == "documents" || key == "add_generation_prompt")
        return error("chat template kwargs may not set '{}'", key);
      DSINFER_ASSIGN_OR_RETURN(Value v, jinja::value_from_json(it.value(), jinja::kMaxValueDepth));
      variables.set(Value::string(key), std::move(v));
    }
  }
  jinja::RenderLimits render_limits;
  render_limits.max_output_bytes = limits.max_output_bytes;
  render_limits.max_steps = limits.max_steps;
  render_limits.max_items = limits.max_items;
  jinja::Renderer renderer(tmpl.parsed(), render_limits);
  auto rendered = renderer.render(variables);
  if (!rendered.is_ok()) {
    const Status& status = rendered.status();
    if (jinja::is_raised_by_template(status)) return Status::error(jinja::strip_raise_marker(status.message()));
    return status.with_context("chat template");
  }
  return rendered;
}

}  // namespace

Result<std::string> render_chat_template(const ChatTemplate& tmpl, const ChatTemplateInputs& inputs,
                                         const ChatTemplateLimits& limits) {
  try {
    return render_impl(tmpl, inputs, limits);
  } catch (const std::exception& e) {  // allocation failure; nothing else throws
    return error("chat template: {}", e.what());
  }
}

}  // namespace dsinfer
