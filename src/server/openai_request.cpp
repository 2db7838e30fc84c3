#include "server/openai_request.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace dsinfer::server {
namespace {

using Json = nlohmann::ordered_json;

const char* type_name(const Json& v) {
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

ApiError wrong_type(const std::string& param, const char* expected, const Json& got) {
  return invalid_request(param, fmt::format("{}: expected {}, got {}", param, expected, type_name(got)));
}

// Reads optional fields of one JSON object; the first problem is kept and later reads
// are no-ops, so a parser reads every field and checks error() once at the end.
class FieldReader {
 public:
  explicit FieldReader(const Json& object) : object_(object) {}

  // The field, or nullptr when absent or null (OpenAI treats null as "not given").
  const Json* find(const char* key) const {
    auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  void number(const char* key, float& out, double lo, double hi, bool lo_open = false) {
    const Json* v = find(key);
    if (!v || error_) return;
    if (!v->is_number()) return fail(wrong_type(key, "a number", *v));
    const double x = v->get<double>();
    if (!(lo_open ? x > lo : x >= lo) || !(x <= hi)) {
      return fail(invalid_request(key, fmt::format("{}: must be in {}{}, {}], got {}", key, lo_open ? "(" : "[", lo, hi, x)));
    }
    out = static_cast<float>(x);
  }

  bool integer(const char* key, int64_t& out, int64_t lo, int64_t hi) {
    const Json* v = find(key);
    if (!v || error_) return false;
    if (!is_integral(*v)) {
      fail(wrong_type(key, "an integer", *v));
      return false;
    }
    const double x = v->get<double>();
    if (x < static_cast<double>(lo) || x > static_cast<double>(hi)) {
      fail(invalid_request(key, fmt::format("{}: must be in [{}, {}], got {}", key, lo, hi, v->dump())));
      return false;
    }
    out = v->is_number_integer() ? v->get<int64_t>() : static_cast<int64_t>(x);
    return true;
  }

  bool boolean(const char* key, bool& out) {
    const Json* v = find(key);
    if (!v || error_) return false;
    if (!v->is_boolean()) {
      fail(wrong_type(key, "a boolean", *v));
      return false;
    }
    out = v->get<bool>();
    return true;
  }

  void fail(ApiError e) {
    if (!error_) error_ = std::move(e);
  }
  const std::optional<ApiError>& error() const { return error_; }

  static bool is_integral(const Json& v) {
    if (v.is_number_integer()) return true;
    if (!v.is_number_float()) return false;
    const double x = v.get<double>();
    return std::isfinite(x) && std::floor(x) == x;
  }

 private:
  const Json& object_;
  std::optional<ApiError> error_;
};

ApiResult<Json> parse_object(std::string_view body) {
  Json root = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return bad_request("We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
                       "your HTTP library correctly. The OpenAI API expects a JSON payload.)");
  }
  if (!root.is_object()) return bad_request(fmt::format("The request body must be a JSON object, got {}", type_name(root)));
  return root;
}

// The fields /v1/chat/completions and /v1/completions share. Logprobs differ per endpoint
// and are read by the callers.
void read_common(FieldReader& r, const RequestLimits& limits, GenerationParams& p) {
  if (const Json* model = r.find("model")) {
    if (!model->is_string()) {
      r.fail(wrong_type("model", "a string", *model));
    } else if (model->get<std::string>() != limits.model_name) {
      r.fail(model_not_found(model->get<std::string>()));
    }
  }
  int64_t max_tokens = 0;
  if (r.integer("max_completion_tokens", max_tokens, 1, std::numeric_limits<int32_t>::max()) ||
      r.integer("max_tokens", max_tokens, 1, std::numeric_limits<int32_t>::max())) {
    p.max_tokens = max_tokens;
  }
  p.sampling.temperature = 1.0f;
  r.number("temperature", p.sampling.temperature, 0.0, 2.0);
  r.number("top_p", p.sampling.top_p, 0.0, 1.0, /*lo_open=*/true);
  int64_t top_k = 0;
  // vLLM's convention: -1 (or 0) means no limit.
  if (r.integer("top_k", top_k, -1, std::numeric_limits<int32_t>::max())) p.sampling.top_k = std::max<int64_t>(top_k, 0);
  r.number("min_p", p.sampling.min_p, 0.0, 1.0);
  r.number("presence_penalty", p.sampling.presence_penalty, -2.0, 2.0);
  r.number("frequency_penalty", p.sampling.frequency_penalty, -2.0, 2.0);
  if (const Json* seed = r.find("seed")) {
    if (!FieldReader::is_integral(*seed)) {
      r.fail(wrong_type("seed", "an integer", *seed));
    } else {
      // Any 64-bit integer, negative ones included (OpenAI accepts them); only the bits matter.
      p.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : static_cast<uint64_t>(seed->get<int64_t>());
    }
  }
  if (const Json* stop = r.find("stop")) {
    if (stop->is_string()) {
      if (!stop->get<std::string>().empty()) p.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      if (stop->size() > limits.max_stop) {
        r.fail(invalid_request("stop", fmt::format("stop: at most {} strings, got {}", limits.max_stop, stop->size())));
      }
      for (size_t i = 0; i < stop->size(); ++i) {
        const Json& s = (*stop)[i];
        if (!s.is_string()) {
          r.fail(wrong_type(fmt::format("stop[{}]", i), "a string", s));
        } else if (!s.get<std::string>().empty()) {
          p.stop.push_back(s.get<std::string>());
        }
      }
    } else {
      r.fail(wrong_type("stop", "a string or an array of strings", *stop));
    }
  }
  r.integer("n", p.n, 1, limits.max_n);
  r.boolean("stream", p.stream);
  if (const Json* options = r.find("stream_options")) {
    if (!options->is_object()) {
      r.fail(wrong_type("stream_options", "an object", *options));
    } else if (!p.stream) {
      r.fail(invalid_request("stream_options", "stream_options: only allowed when 'stream' is true"));
    } else {
      FieldReader o(*options);
      o.boolean("include_usage", p.include_usage);
      if (o.error()) {
        ApiError e = *o.error();
        e.param = "stream_options." + e.param.value_or("");
        e.message = "stream_options." + e.message;
        r.fail(std::move(e));
      }
    }
  }
}

// Text parts of an array content joined with "\n" (as vLLM does); templates want a string.
std::optional<ApiError> normalise_content(Json& message, const std::string& where) {
  auto it = message.find("content");
  if (it == message.end() || it->is_null() || it->is_string()) {
    if (it == message.end()) message["content"] = nullptr;
    return std::nullopt;
  }
  if (!it->is_array()) return wrong_type(where + ".content", "a string, an array of content parts or null", *it);
  std::string text;
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& part = (*it)[i];
    const std::string part_where = fmt::format("{}.content[{}]", where, i);
    if (!part.is_object()) return wrong_type(part_where, "an object", part);
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) return invalid_request(part_where + ".type", part_where + ".type: expected a string");
    if (*type != "text") {
      return invalid_request(part_where + ".type",
                             fmt::format("{}.type: only 'text' content is supported, got '{}'", part_where, type->get<std::string>()));
    }
    auto part_text = part.find("text");
    if (part_text == part.end() || !part_text->is_string()) {
      return invalid_request(part_where + ".text", part_where + ".text: expected a string");
    }
    if (i) text += '\n';
    text += part_text->get<std::string>();
  }
  *it = text;
  return std::nullopt;
}

std::optional<ApiError> normalise_tool_calls(Json& message, const std::string& where) {
  auto it = message.find("tool_calls");
  if (it == message.end() || it->is_null()) return std::nullopt;
  if (!it->is_array()) return wrong_type(where + ".tool_calls", "an array", *it);
  for (size_t i = 0; i < it->size(); ++i) {
    Json& call = (*it)[i];
    const std::string call_where = fmt::format("{}.tool_calls[{}]", where, i);
    if (!call.is_object()) return wrong_type(call_where, "an object", call);
    if (!call.contains("type")) call["type"] = "function";
    auto fn = call.find("function");
    if (fn == call.end() || !fn->is_object()) return invalid_request(call_where + ".function", call_where + ".function: expected an object");
    auto name = fn->find("name");
    if (name == fn->end() || !name->is_string()) {
      return invalid_request(call_where + ".function.name", call_where + ".function.name: expected a string");
    }
    // Templates concatenate the arguments as text; some clients send an object.
    auto args = fn->find("arguments");
    if (args == fn->end() || args->is_null()) {
      (*fn)["arguments"] = "{}";
    } else if (!args->is_string()) {
      *args = args->dump();
    }
  }
  return std::nullopt;
}

std::optional<ApiError> parse_messages(const Json* messages, Json& out) {
  if (!messages) return invalid_request("messages", "messages: required");
  if (!messages->is_array()) return wrong_type("messages", "an array", *messages);
  if (messages->empty()) return invalid_request("messages", "messages: must contain at least one message");
  out = Json::array();
  for (size_t i = 0; i < messages->size(); ++i) {
    const std::string where = fmt::format("messages[{}]", i);
    Json message = (*messages)[i];
    if (!message.is_object()) return wrong_type(where, "an object", message);
    auto role = message.find("role");
    if (role == message.end() || !role->is_string()) return invalid_request(where + ".role", where + ".role: expected a string");
    const std::string r = role->get<std::string>();
    if (r == "developer") {
      *role = "system";  // OpenAI's newer name for the system role; templates know only "system"
    } else if (r != "system" && r != "user" && r != "assistant" && r != "tool") {
      return invalid_request(where + ".role",
                             fmt::format("{}.role: must be one of system, developer, user, assistant, tool; got '{}'", where, r));
    }
    if (auto e = normalise_content(message, where)) return e;
    if (r != "assistant" && message["content"].is_null()) {
      return invalid_request(where + ".content", where + ".content: required for role '" + r + "'");
    }
    if (r == "assistant") {
      if (auto e = normalise_tool_calls(message, where)) return e;
    }
    out.push_back(std::move(message));
  }
  return std::nullopt;
}

std::optional<ApiError> parse_tools(const FieldReader& r, ChatRequest& req) {
  if (const Json* tools = r.find("tools")) {
    if (!tools->is_array()) return wrong_type("tools", "an array", *tools);
    for (size_t i = 0; i < tools->size(); ++i) {
      const Json& tool = (*tools)[i];
      const std::string where = fmt::format("tools[{}]", i);
      if (!tool.is_object()) return wrong_type(where, "an object", tool);
      auto type = tool.find("type");
      if (type == tool.end() || *type != "function") {
        return invalid_request(where + ".type", where + ".type: must be 'function'");
      }
      auto fn = tool.find("function");
      if (fn == tool.end() || !fn->is_object()) return invalid_request(where + ".function", where + ".function: expected an object");
      auto name = fn->find("name");
      if (name == fn->end() || !name->is_string() || name->get<std::string>().empty()) {
        return invalid_request(where + ".function.name", where + ".function.name: expected a non-empty string");
      }
    }
    if (!tools->empty()) req.tools = *tools;
  }
  if (const Json* choice = r.find("tool_choice")) {
    if (choice->is_string()) {
      const std::string c = choice->get<std::string>();
      if (c != "none" && c != "auto" && c != "required") {
        return invalid_request("tool_choice", "tool_choice: must be 'none', 'auto', 'required' or a function object");
      }
      req.tool_choice = c;
    } else if (choice->is_object()) {
      const Json* fn = choice->contains("function") ? &(*choice)["function"] : nullptr;
      if (!fn || !fn->is_object() || !fn->contains("name") || !(*fn)["name"].is_string()) {
        return invalid_request("tool_choice", "tool_choice: expected {\"type\": \"function\", \"function\": {\"name\": ...}}");
      }
      req.tool_choice = (*fn)["name"].get<std::string>();
      bool defined = false;
      for (const Json& tool : req.tools.value_or(Json::array())) defined |= tool["function"]["name"] == req.tool_choice;
      if (!defined) {
        return invalid_request("tool_choice", fmt::format("tool_choice: function '{}' is not among the request's tools", req.tool_choice));
      }
    } else {
      return wrong_type("tool_choice", "a string or an object", *choice);
    }
    if (req.tool_choice != "none" && req.tool_choice != "auto" && !req.tools) {
      return invalid_request("tool_choice", "tool_choice: requires 'tools'");
    }
  }
  return std::nullopt;
}

}  // namespace

ApiResult<ChatRequest> parse_chat_request(std::string_view body, const RequestLimits& limits) {
  ApiResult<Json> parsed = parse_object(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  const Json& root = std::get<Json>(parsed);
  ChatRequest req;
  FieldReader r(root);
  read_common(r, limits, req.params);
  if (r.error()) return *r.error();
  if (auto e = parse_messages(r.find("messages"), req.messages)) return *e;
  if (auto e = parse_tools(r, req)) return *e;

  bool logprobs = false;
  r.boolean("logprobs", logprobs);
  int64_t top = 0;
  const bool has_top = r.integer("top_logprobs", top, 0, limits.max_top_logprobs);
  if (r.error()) return *r.error();
  if (has_top && !logprobs) return invalid_request("top_logprobs", "top_logprobs: requires 'logprobs' to be true");
  if (logprobs) req.params.top_logprobs = static_cast<int32_t>(top);

  if (const Json* kwargs = r.find("chat_template_kwargs")) {
    if (!kwargs->is_object()) return wrong_type("chat_template_kwargs", "an object", *kwargs);
    req.template_kwargs = *kwargs;
  }
  return req;
}

ApiResult<CompletionRequest> parse_completion_request(std::string_view body, const RequestLimits& limits) {
  ApiResult<Json> parsed = parse_object(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  const Json& root = std::get<Json>(parsed);
  CompletionRequest req;
  FieldReader r(root);
  read_common(r, limits, req.params);
  int64_t logprobs = 0;
  if (r.integer("logprobs", logprobs, 0, limits.max_top_logprobs)) req.params.top_logprobs = static_cast<int32_t>(logprobs);
  if (r.error()) return *r.error();

  const Json* prompt = r.find("prompt");
  if (!prompt) return invalid_request("prompt", "prompt: required");
  const auto token_ids = [](const Json& array, const std::string& where) -> ApiResult<std::vector<int32_t>> {
    std::vector<int32_t> ids;
    for (size_t i = 0; i < array.size(); ++i) {
      const Json& id = array[i];
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
        return invalid_request(where, fmt::format("{}[{}]: expected a token id (a non-negative integer)", where, i));
      }
      ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
    return ids;
  };
  if (prompt->is_string()) {
    req.prompts.emplace_back(prompt->get<std::string>());
  } else if (prompt->is_array() && !prompt->empty() && (*prompt)[0].is_number()) {
    auto ids = token_ids(*prompt, "prompt");
    if (auto* e = std::get_if<ApiError>(&ids)) return *e;
    req.prompts.emplace_back(std::move(std::get<std::vector<int32_t>>(ids)));
  } else if (prompt->is_array() && !prompt->empty()) {
    for (size_t i = 0; i < prompt->size(); ++i) {
      const Json& item = (*prompt)[i];
      const std::string where = fmt::format("prompt[{}]", i);
      if (item.is_string()) {
        req.prompts.emplace_back(item.get<std::string>());
      } else if (item.is_array() && !item.empty()) {
        auto ids = token_ids(item, where);
        if (auto* e = std::get_if<ApiError>(&ids)) return *e;
        req.prompts.emplace_back(std::move(std::get<std::vector<int32_t>>(ids)));
      } else {
        return wrong_type(where, "a string or a non-empty array of token ids", item);
      }
    }
  } else {
    return invalid_request("prompt", "prompt: expected a string, an array of strings, or token ids");
  }
  if (static_cast<int64_t>(req.prompts.size()) * req.params.n > limits.max_n) {
    return invalid_request("n", fmt::format("n: prompts x n must be at most {}", limits.max_n));
  }
  return req;
}

}  // namespace dsinfer::server
