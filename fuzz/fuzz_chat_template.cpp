// Fuzzes the chat-template parser and renderer: the bytes before the first NUL
// are the template, the bytes after it (when they parse as JSON) the messages.
// Must never crash, hang or exhaust memory; errors are fine.
//
// Run: scripts/fuzz.sh fuzz_chat_template [SECONDS] (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenizer/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find('\0');
  const std::string_view source = input.substr(0, split);
  auto tmpl = dsinfer::ChatTemplate::parse(source);
  if (!tmpl.is_ok()) return 0;

  dsinfer::ChatTemplateInputs inputs;
  inputs.messages = nlohmann::ordered_json::parse(
      R"([{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
          {"role": "assistant", "content": null, "tool_calls": [{"type": "function",
           "function": {"name": "f", "arguments": "{}"}}]}, {"role": "tool", "content": "ok"}])");
  if (split != std::string_view::npos) {
    auto messages = nlohmann::ordered_json::parse(input.substr(split + 1), nullptr, /*allow_exceptions=*/false);
    if (!messages.is_discarded()) inputs.messages = std::move(messages);
  }
  inputs.add_generation_prompt = true;
  inputs.bos_token = "<s>";
  inputs.eos_token = "</s>";
  inputs.extra = {{"thinking", true}};
  dsinfer::ChatTemplateLimits limits;
  limits.max_steps = 200000;
  limits.max_output_bytes = 1 << 20;
  limits.max_items = 100000;
  (void)dsinfer::render_chat_template(*tmpl, inputs, limits);
  return 0;
}
