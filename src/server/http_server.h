// The OpenAI-compatible HTTP API over an Engine:
//   POST /v1/chat/completions, POST /v1/completions (JSON or SSE streams),
//   GET /v1/models, GET /health, GET /metrics (Prometheus text).
// HTTP threads parse and validate, then hand each choice to the engine and wait on its
// events (generation_job.h); the engine thread alone runs the model. Errors are mapped to
// HTTP statuses here, at the boundary: 400 bad request, 401 missing/wrong API key, 404
// unknown model or route, 413 body too large, 429 engine queue full (with Retry-After),
// 503 shutting down, 500 the model step failed.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "runtime/engine.h"
#include "server/metrics.h"
#include "server/prompt_builder.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                        // 0: any free port (bind() says which)
  std::string model_name;                 // the id clients send as "model"
  std::optional<std::string> api_key;     // every /v1 request must send "Authorization: Bearer KEY"
  size_t max_body_bytes = size_t{8} << 20;
  int http_threads = 64;                  // concurrent connections served (a stream holds one)
  int retry_after_seconds = 1;            // sent with 429
  int64_t max_n = 16;                     // choices per request
};

class HttpServer {
 public:
  // `engine` and `tokenizer` must outlive the server, and the engine must be shut down
  // before the server is destroyed (its callbacks report to the server's metrics).
  HttpServer(Engine& engine, const Tokenizer& tokenizer, PromptBuilder prompts, ServerOptions options);
  ~HttpServer();

  // Binds the listening socket; returns the port (the chosen one for port 0).
  Result<int> bind();
  // Serves until stop(); returns when every connection's handler has finished.
  Status serve();
  // From any thread: stops accepting connections and makes serve() return.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dsinfer::server
