// A member of a JSON object whose fields may hold any type (files and requests from
// outside): the member when it exists with the expected type, else the fallback.
// nlohmann's value() throws type_error when the member exists with another type, which
// would end the process; a caller that must reject the wrong type checks it itself.
// Header-only: dsinfer_core does not link nlohmann (the kernels-only aarch64 build has
// none); the libraries that read JSON do.
#pragma once

#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace dsinfer {

template <typename T, typename Json>
T json_member_or(const Json& object, const char* key, T fallback) {
  if (!object.is_object()) return fallback;
  const auto it = object.find(key);
  if (it == object.end()) return fallback;
  if constexpr (std::is_same_v<T, bool>) {
    return it->is_boolean() ? it->template get<bool>() : fallback;
  } else {
    static_assert(std::is_same_v<T, std::string>, "json_member_or reads strings and booleans");
    return it->is_string() ? it->template get<std::string>() : fallback;
  }
}

}  // namespace dsinfer
