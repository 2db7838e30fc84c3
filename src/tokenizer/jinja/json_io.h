// Conversion between JSON documents (the chat request) and template values,
// and Python's json.dumps(), which transformers installs as the |tojson filter.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tokenizer/jinja/value.h"

namespace dsinfer::jinja {

// JSON object key order is kept (Python dicts keep insertion order and
// templates print tools with |tojson), hence ordered_json.
Result<Value> value_from_json(const nlohmann::ordered_json& json, int max_depth);

// json.dumps(x, ensure_ascii, indent, separators, sort_keys).
struct JsonDumpOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // None: one line
  std::string item_separator = ", ";   // Python's default is ',' once indent is set
  std::string key_separator = ": ";
  bool sort_keys = false;
};
Result<std::string> json_dumps(const Value& v, const JsonDumpOptions& options);

}  // namespace dsinfer::jinja
