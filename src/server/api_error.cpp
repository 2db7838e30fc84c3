#include "server/api_error.h"

#include <fmt/format.h>

namespace dsinfer::server {

nlohmann::json ApiError::to_json() const {
  nlohmann::json error = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (param) error["param"] = *param;
  if (code) error["code"] = *code;
  return {{"error", std::move(error)}};
}

ApiError invalid_request(std::string param, std::string message) {
  return {.http_status = 400, .message = std::move(message), .param = std::move(param)};
}

ApiError bad_request(std::string message, std::optional<std::string> code) {
  return {.http_status = 400, .message = std::move(message), .code = std::move(code)};
}

ApiError model_not_found(const std::string& model) {
  return {.http_status = 404,
          .message = fmt::format("The model `{}` does not exist or you do not have access to it.", model),
          .param = "model",
          .code = "model_not_found"};
}

ApiError invalid_api_key() {
  return {.http_status = 401,
          .message = "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>'.",
          .code = "invalid_api_key"};
}

ApiError request_too_large(size_t limit_bytes) {
  return {.http_status = 413,
          .message = fmt::format("The request body is larger than this server accepts ({} bytes).", limit_bytes),
          .code = "request_too_large"};
}

ApiError saturated(std::string message) {
  return {.http_status = 429, .message = std::move(message), .type = "rate_limit_error", .code = "rate_limit_exceeded"};
}

ApiError unavailable(std::string message) {
  return {.http_status = 503, .message = std::move(message), .type = "server_error", .code = "service_unavailable"};
}

ApiError internal_error(std::string message) {
  return {.http_status = 500, .message = std::move(message), .type = "server_error"};
}

ApiError not_found(const std::string& path) {
  return {.http_status = 404, .message = fmt::format("Unknown route: {}", path), .code = "not_found"};
}

ApiError client_closed_request() {
  return {.http_status = 499, .message = "The client closed the connection before the response.", .type = "server_error"};
}

}  // namespace dsinfer::server
