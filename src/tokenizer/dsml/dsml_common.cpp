#include "tokenizer/dsml/dsml_common.h"

#include <algorithm>
#include <array>
#include <utility>

#include "tokenizer/jinja/json_io.h"

namespace dsinfer::dsml {
namespace {

// Deep enough for any real tool schema; bounds recursion on hostile input.
constexpr int kMaxJsonDepth = 128;

constexpr std::array<std::pair<std::string_view, Role>, 6> kRoles{{{"system", Role::kSystem},
                                                                   {"developer", Role::kDeveloper},
                                                                   {"user", Role::kUser},
                                                                   {"assistant", Role::kAssistant},
                                                                   {"tool", Role::kTool},
                                                                   {"latest_reminder", Role::kLatestReminder}}};

constexpr std::array<std::string_view, 6> kV4Tasks{"action", "query", "authority", "domain", "title", "read_url"};

bool is_string_or_null(const Json* v) { return v == nullptr || v->is_null() || v->is_string(); }

Status check_tool_calls(const Json& calls, const std::string& where) {
  if (!calls.is_array()) return error("{}.tool_calls: must be an array", where);
  for (size_t k = 0; k < calls.size(); ++k) {
    const Json* fn = calls[k].is_object() ? field(calls[k], "function") : nullptr;
    if (!fn || !fn->is_object())
      return error("{}.tool_calls[{}]: must be an object with a \"function\" object", where, k);
    const Json* name = field(*fn, "name");
    if (!name || !name->is_string()) return error("{}.tool_calls[{}].function.name: must be a string", where, k);
    const Json* args = field(*fn, "arguments");
    if (!args || !(args->is_string() || args->is_object()))
      return error("{}.tool_calls[{}].function.arguments: must be a JSON object or its text", where, k);
  }
  return Status::ok();
}

// V4 tool results may carry content parts; only their text is rendered.
Status check_content_parts(const Json& parts, const std::string& where) {
  for (size_t k = 0; k < parts.size(); ++k) {
    if (!parts[k].is_object()) return error("{}.content[{}]: a content part must be an object", where, k);
    if (const Json* text = field(parts[k], "text"); text && !text->is_string())
      return error("{}.content[{}].text: must be a string", where, k);
  }
  return Status::ok();
}

}  // namespace

Status check_tools(const Json& tools, const std::string& where) {
  if (!tools.is_array()) return error("{}: must be an array of tools", where);
  for (size_t k = 0; k < tools.size(); ++k) {
    const Json* fn = tools[k].is_object() ? field(tools[k], "function") : nullptr;
    if (!fn || !fn->is_object()) return error("{}[{}]: must be an object with a \"function\" object", where, k);
    const Json* name = field(*fn, "name");
    if (!name || !name->is_string()) return error("{}[{}].function.name: must be a string", where, k);
  }
  return Status::ok();
}

const Json* field(const Json& m, std::string_view key) {
  auto it = m.find(key);
  return it == m.end() ? nullptr : &*it;
}

bool truthy(const Json* v) {
  if (!v) return false;
  switch (v->type()) {
    case Json::value_t::null: return false;
    case Json::value_t::boolean: return v->get<bool>();
    case Json::value_t::number_integer: return v->get<int64_t>() != 0;
    case Json::value_t::number_unsigned: return v->get<uint64_t>() != 0;
    case Json::value_t::number_float: return v->get<double>() != 0.0;
    case Json::value_t::string: return !v->get_ref<const std::string&>().empty();
    default: return !v->empty();
  }
}

std::string_view string_or_empty(const Json& m, std::string_view key) {
  const Json* v = field(m, key);
  return v && v->is_string() ? std::string_view(v->get_ref<const std::string&>()) : std::string_view();
}

std::string py_format(const Json& m, std::string_view key) {
  const Json* v = field(m, key);
  return v && v->is_string() ? v->get<std::string>() : std::string("None");
}

Result<std::string> dumps(const Json& value) {
  DSINFER_ASSIGN_OR_RETURN(jinja::Value v, jinja::value_from_json(value, kMaxJsonDepth));
  return jinja::json_dumps(v, jinja::JsonDumpOptions{});
}

Result<Message> check_message(const Json& m, std::string where, DsmlVersion version) {
  if (!m.is_object()) return error("{}: a message must be a JSON object", where);
  const Json* role_field = field(m, "role");
  if (!role_field || !role_field->is_string()) return error("{}.role: must be a string", where);
  const std::string& name = role_field->get_ref<const std::string&>();
  const auto* found = std::find_if(kRoles.begin(), kRoles.end(), [&](const auto& r) { return r.first == name; });
  const bool known = found != kRoles.end() && (version == DsmlVersion::kV4 || found->second != Role::kLatestReminder);
  if (!known) {
    return error("{}: unknown role '{}' (expected system, user, assistant, tool or developer{})", where, name,
                 version == DsmlVersion::kV4 ? " or latest_reminder" : "");
  }
  const Role role = found->second;

  const Json* content = field(m, "content");
  const bool parts_allowed = version == DsmlVersion::kV4 && role == Role::kTool;
  if (parts_allowed && content && content->is_array()) {
    DSINFER_RETURN_IF_ERROR(check_content_parts(*content, where));
  } else if (!is_string_or_null(content)) {
    return error("{}.content: must be a string{}", where, parts_allowed ? " or a list of content parts" : "");
  }
  // The V4 script joins user text blocks and fails on None.
  if (version == DsmlVersion::kV4 && role == Role::kUser && content && content->is_null())
    return error("{}.content: must be a string", where);
  if (role == Role::kDeveloper && !truthy(content)) return error("{}.content: a developer message needs content", where);
  if (!is_string_or_null(field(m, "reasoning_content"))) return error("{}.reasoning_content: must be a string", where);
  if (const Json* tools = field(m, "tools"); tools && !tools->is_null())
    DSINFER_RETURN_IF_ERROR(check_tools(*tools, where + ".tools"));
  if (const Json* calls = field(m, "tool_calls"); truthy(calls)) DSINFER_RETURN_IF_ERROR(check_tool_calls(*calls, where));
  if (!is_string_or_null(field(m, "tool_call_id"))) return error("{}.tool_call_id: must be a string", where);
  if (version == DsmlVersion::kV4) {
    if (const Json* task = field(m, "task"); task && !task->is_null()) {
      const bool ok = task->is_string() &&
                      std::find(kV4Tasks.begin(), kV4Tasks.end(), task->get_ref<const std::string&>()) != kV4Tasks.end();
      if (!ok) return error("{}.task: must be one of action, query, authority, domain, title, read_url", where);
    }
  }
  return Message{.role = role, .json = &m, .where = std::move(where)};
}

std::ptrdiff_t last_user_index(std::span<const Message> msgs) {
  for (std::ptrdiff_t i = static_cast<std::ptrdiff_t>(msgs.size()) - 1; i >= 0; --i) {
    if (msgs[i].role == Role::kUser || msgs[i].role == Role::kDeveloper) return i;
  }
  return -1;
}

Result<std::string> response_format_block(const Json& schema) {
  DSINFER_ASSIGN_OR_RETURN(std::string json, dumps(schema));
  return "## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n" + json;
}

Result<std::string> instructions(const Json& m, Result<std::string> (*tools_block)(const Json& tools)) {
  std::string out;
  if (const Json* tools = field(m, "tools"); truthy(tools)) {
    DSINFER_ASSIGN_OR_RETURN(std::string block, tools_block(*tools));
    out += "\n\n" + block;
  }
  if (const Json* format = field(m, "response_format"); truthy(format)) {
    DSINFER_ASSIGN_OR_RETURN(std::string block, response_format_block(*format));
    out += "\n\n" + block;
  }
  return out;
}

Result<std::string> tool_schemas(const Json& tools) {
  std::string out;
  for (size_t k = 0; k < tools.size(); ++k) {
    DSINFER_ASSIGN_OR_RETURN(std::string schema, dumps(tools[k].at("function")));
    if (k) out += '\n';
    out += schema;
  }
  return out;
}

namespace {

// One parameter line per argument, in order: strings verbatim (string="true"), anything
// else as JSON (string="false").
Result<std::string> dsml_parameters(const Json& args) {
  std::string out;
  bool first = true;
  for (const auto& [key, value] : args.items()) {
    if (!first) out += '\n';
    first = false;
    const bool is_string = value.is_string();
    std::string text;
    if (is_string) {
      text = value.get<std::string>();
    } else {
      DSINFER_ASSIGN_OR_RETURN(text, dumps(value));
    }
    out += fmt::format("<{0}parameter name=\"{1}\" string=\"{2}\">{3}</{0}parameter>", kDsml, key,
                       is_string ? "true" : "false", text);
  }
  return out;
}

}  // namespace

Result<std::string> dsml_calls(const Message& m, std::string_view block, bool lenient_arguments) {
  const Json& calls = m.json->at("tool_calls");
  std::string out = fmt::format("\n\n<{}{}>\n", kDsml, block);
  for (size_t k = 0; k < calls.size(); ++k) {
    const Json& fn = calls[k].at("function");
    const Json& raw = fn.at("arguments");
    Json args = raw;
    if (raw.is_string()) {
      args = Json::parse(raw.get_ref<const std::string&>(), nullptr, /*allow_exceptions=*/false);
      if (args.is_discarded()) {
        if (!lenient_arguments)
          return error("{}.tool_calls[{}].function.arguments: not valid JSON", m.where, k);
        args = Json::object({{"arguments", raw}});
      }
    }
    if (!args.is_object())
      return error("{}.tool_calls[{}].function.arguments: must be a JSON object", m.where, k);
    DSINFER_ASSIGN_OR_RETURN(std::string params, dsml_parameters(args));
    if (k) out += '\n';
    out += fmt::format("<{0}invoke name=\"{1}\">\n{2}\n</{0}invoke>", kDsml, fn.at("name").get<std::string>(), params);
  }
  out += fmt::format("\n</{}{}>", kDsml, block);
  return out;
}

}  // namespace dsinfer::dsml
