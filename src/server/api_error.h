// OpenAI-style API errors: what every failed /v1 request returns, as
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
// with the HTTP status the OpenAI API uses for the same failure. Request handling code
// returns these as values; the HTTP layer only serialises them.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace dsinfer::server {

struct ApiError {
  int http_status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::optional<std::string> param;  // the request field at fault, e.g. "messages[1].role"
  std::optional<std::string> code;

  nlohmann::json to_json() const;
};

// 400: a field is missing, has the wrong type or is out of range.
ApiError invalid_request(std::string param, std::string message);
// 400 without a single field at fault (unparsable body, prompt too long, ...).
ApiError bad_request(std::string message, std::optional<std::string> code = std::nullopt);
// 404, code model_not_found: the same status and code the OpenAI API gives.
ApiError model_not_found(const std::string& model);
ApiError invalid_api_key();                     // 401
ApiError request_too_large(size_t limit_bytes); // 413
ApiError saturated(std::string message);        // 429 (the caller adds Retry-After)
ApiError unavailable(std::string message);      // 503
ApiError internal_error(std::string message);   // 500
ApiError not_found(const std::string& path);    // 404 for an unknown route
// 499 (nginx's "client closed request"): recorded in metrics, never read by the client.
ApiError client_closed_request();

}  // namespace dsinfer::server
