// Server-sent events as the OpenAI streaming API frames them: one `data: {json}\n\n`
// per chunk and a final `data: [DONE]\n\n`.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace dsinfer::server {

std::string sse_data(const nlohmann::json& payload);
std::string sse_done();

// Compact JSON text; invalid UTF-8 (a token's bytes may be part of a character) becomes
// U+FFFD instead of failing.
std::string dump_json(const nlohmann::json& value);

}  // namespace dsinfer::server
