// libFuzzer target for the V3.2 / V4 prompt format (render_dsml_chat): the messages and
// tools of a chat request come from any client. Byte 0 holds the switches (bit 0: V4,
// bit 1: thinking, bit 2: drop_thinking, bit 3: BOS, bits 4-5: reasoning effort); the rest
// is a JSON object with "messages" and, optionally, "context" and "tools". Any input must
// give either an error with a message or a prompt (starting with BOS when asked for and
// there is no context); never a crash, an uncaught exception or a hang.
//
// Run: scripts/fuzz.sh fuzz_dsml_chat [SECONDS] (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenizer/dsml_chat_encoding.h"
#include "fuzz_check.h"

using dsinfer::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const auto body = nlohmann::ordered_json::parse(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1),
                                                  nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) return 0;

  dsinfer::DsmlChatInputs in;
  if (auto it = body.find("messages"); it != body.end()) in.messages = *it;
  if (auto it = body.find("context"); it != body.end()) in.context = *it;
  if (auto it = body.find("tools"); it != body.end()) in.tools = *it;
  in.thinking = flags & 2;
  in.drop_thinking = flags & 4;
  in.add_bos = flags & 8;
  const int effort = (flags >> 4) & 3;
  in.reasoning_effort = effort == 2 ? dsinfer::ReasoningEffort::kMax
                        : effort == 1 ? dsinfer::ReasoningEffort::kHigh
                                      : dsinfer::ReasoningEffort::kDefault;
  const auto version = flags & 1 ? dsinfer::DsmlVersion::kV4 : dsinfer::DsmlVersion::kV32;
  auto prompt = dsinfer::render_dsml_chat(version, in);
  if (!prompt.is_ok()) {
    require(!prompt.status().message().empty());
    return 0;
  }
  // BOS opens a conversation, not a continuation of earlier messages.
  const bool opens = in.add_bos && in.context.is_array() && in.context.empty();
  require(!opens || prompt->starts_with("<｜begin▁of▁sentence｜>"));
  return 0;
}
