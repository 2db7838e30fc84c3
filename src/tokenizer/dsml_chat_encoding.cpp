#include "tokenizer/dsml_chat_encoding.h"

#include <vector>

#include <fmt/format.h>

#include "tokenizer/dsml/dsml_common.h"

namespace dsinfer {

using dsml::Json;
using dsml::Message;
using dsml::Role;

Result<std::string> render_dsml_chat(DsmlVersion version, const DsmlChatInputs& inputs) {
  if (!inputs.messages.is_array()) return error("messages: must be an array of messages");
  if (!inputs.context.is_array()) return error("context: must be an array of messages");
  std::vector<Message> msgs;
  msgs.reserve(inputs.context.size() + inputs.messages.size() + 1);
  for (size_t k = 0; k < inputs.context.size(); ++k) {
    DSINFER_ASSIGN_OR_RETURN(Message m, dsml::check_message(inputs.context[k], fmt::format("context[{}]", k), version));
    msgs.push_back(std::move(m));
  }
  for (size_t k = 0; k < inputs.messages.size(); ++k) {
    DSINFER_ASSIGN_OR_RETURN(Message m, dsml::check_message(inputs.messages[k], fmt::format("messages[{}]", k), version));
    msgs.push_back(std::move(m));
  }
  size_t n_context = inputs.context.size();

  // The scripts read tools from a system message; the request's list goes on the leading
  // one (a copy of it), or on an empty system message put first. Giving tools in both
  // places is ambiguous.
  Json system_with_tools;
  if (inputs.tools && dsml::truthy(&*inputs.tools)) {
    DSINFER_RETURN_IF_ERROR(dsml::check_tools(*inputs.tools, "tools"));
    if (!msgs.empty() && msgs.front().role == Role::kSystem) {
      if (dsml::truthy(dsml::field(*msgs.front().json, "tools")))
        return error("tools: given both in the request and on {}", msgs.front().where);
      system_with_tools = *msgs.front().json;
      system_with_tools["tools"] = *inputs.tools;
      msgs.front().json = &system_with_tools;
    } else {
      system_with_tools = Json{{"role", "system"}, {"content", ""}, {"tools", *inputs.tools}};
      msgs.insert(msgs.begin(), Message{.role = Role::kSystem, .json = &system_with_tools, .where = "tools"});
      // In front of the context, it is part of what the caller already rendered.
      if (n_context > 0) ++n_context;
    }
  }
  return version == DsmlVersion::kV32 ? dsml::render_v32(std::move(msgs), n_context, inputs)
                                      : dsml::render_v4(std::move(msgs), n_context, inputs);
}

}  // namespace dsinfer
