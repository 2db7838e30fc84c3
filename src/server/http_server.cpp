#include "server/http_server.h"

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>
#include <random>
#include <span>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

#include "server/api_error.h"
#include "server/client_connection.h"
#include "server/generation_job.h"
#include "server/openai_request.h"
#include "server/sse.h"

namespace dsinfer::server {
namespace {

using json = nlohmann::json;

// A stream waits this long for tokens before checking its connection again, and writes
// an SSE comment after this much silence: a write is the only way to notice that a
// client which stopped reading has gone.
constexpr auto kStreamPoll = std::chrono::milliseconds(100);
constexpr auto kHeartbeat = std::chrono::seconds(2);

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}

}  // namespace

struct HttpServer::Impl {
  using Handler = void (Impl::*)(const httplib::Request&, httplib::Response&);
  struct Route {
    const char* method;
    const char* path;
    Handler handler;
  };

  Impl(Engine& e, const Tokenizer& t, PromptBuilder p, ServerOptions o)
      : engine(e), tokenizer(t), prompts(std::move(p)), options(std::move(o)) {
    limits.model_name = options.model_name;
    limits.max_n = options.max_n;
    std::random_device entropy;
    id_prefix = fmt::format("{:08x}", entropy());
  }

  // Every route, in one place.
  static std::span<const Route> routes() {
    static constexpr Route kRoutes[] = {
        {"GET", "/health", &Impl::health},
        {"GET", "/metrics", &Impl::metrics_text},
        {"GET", "/v1/models", &Impl::models},
        {"POST", "/v1/chat/completions", &Impl::chat_completions},
        {"POST", "/v1/completions", &Impl::completions},
    };
    return kRoutes;
  }

  void install() {
    const int threads = options.http_threads;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    http.set_payload_max_length(options.max_body_bytes);
    http.set_keep_alive_timeout(2);  // bounds how long stop() waits for idle keep-alive connections
    for (const Route& route : routes()) {
      auto handler = [this, h = route.handler](const httplib::Request& req, httplib::Response& res) { (this->*h)(req, res); };
      if (std::string_view(route.method) == "GET") {
        http.Get(route.path, handler);
      } else {
        http.Post(route.path, handler);
      }
    }
    // Statuses httplib sets itself (unknown route, body too large) get an OpenAI body too.
    http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty() || res.is_chunked_content_provider_) return httplib::Server::HandlerResponse::Unhandled;
      ApiError e = res.status == 413 ? request_too_large(options.max_body_bytes)
                   : res.status == 404 ? not_found(req.path)
                                       : ApiError{.http_status = res.status, .message = fmt::format("HTTP error {}", res.status)};
      send_json(res, res.status, e.to_json());
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unexpected error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      send_json(res, 500, internal_error(what).to_json());
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      std::string endpoint = "other";
      for (const Route& route : routes()) {
        if (req.path == route.path) endpoint = route.path;
      }
      metrics.count_request(endpoint, res.status);
    });
  }

  void send_error(httplib::Response& res, const ApiError& e) { send_json(res, e.http_status, e.to_json()); }

  bool authorized(const httplib::Request& req, httplib::Response& res) {
    if (!options.api_key || req.get_header_value("Authorization") == "Bearer " + *options.api_key) return true;
    send_error(res, invalid_api_key());
    return false;
  }

  void health(const httplib::Request&, httplib::Response& res) { send_json(res, 200, {{"status", "ok"}}); }

  void metrics_text(const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.render(engine.stats()), "text/plain; version=0.0.4");
  }

  void models(const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    send_json(res, 200,
              {{"object", "list"},
               {"data", json::array({{{"id", options.model_name},
                                      {"object", "model"},
                                      {"created", started},
                                      {"owned_by", "dsinfer"},
                                      {"max_model_len", engine.options().context_size}}})}});
  }

  ResponseMeta meta(bool chat, const GenerationParams& params) {
    return {.id = fmt::format("{}-{}{:x}", chat ? "chatcmpl" : "cmpl", id_prefix, next_id++),
            .model = options.model_name,
            .created = static_cast<int64_t>(std::time(nullptr)),
            .chat = chat,
            .include_usage = params.include_usage};
  }

  void chat_completions(const httplib::Request& req, httplib::Response& res) {
    const auto received = std::chrono::steady_clock::now();
    if (!authorized(req, res)) return;
    ApiResult<ChatRequest> parsed = parse_chat_request(req.body, limits);
    if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e);
    ChatRequest& request = std::get<ChatRequest>(parsed);
    ApiResult<ChatPrompt> prompt = prompts.chat(request);
    if (auto* e = std::get_if<ApiError>(&prompt)) return send_error(res, *e);
    ChatPrompt& p = std::get<ChatPrompt>(prompt);
    ApiResult<int64_t> max_tokens = fit_to_context(p.ids.size(), request.params.max_tokens, engine.options().context_size);
    if (auto* e = std::get_if<ApiError>(&max_tokens)) return send_error(res, *e);

    JobSpec spec{.meta = meta(/*chat=*/true, request.params),
                 .params = request.params,
                 .format = prompts.format(),
                 .parse_tools = request.tools && request.tool_choice != "none",
                 .opens_reasoning = p.opens_reasoning,
                 .forced_output = p.forced_output,
                 .received = received};
    spec.prompts.assign(static_cast<size_t>(request.params.n), p.ids);
    spec.max_tokens.assign(static_cast<size_t>(request.params.n), std::get<int64_t>(max_tokens));
    run(std::move(spec), req, res);
  }

  void completions(const httplib::Request& req, httplib::Response& res) {
    const auto received = std::chrono::steady_clock::now();
    if (!authorized(req, res)) return;
    ApiResult<CompletionRequest> parsed = parse_completion_request(req.body, limits);
    if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e);
    CompletionRequest& request = std::get<CompletionRequest>(parsed);
    JobSpec spec{.meta = meta(/*chat=*/false, request.params), .params = request.params, .received = received};
    for (const CompletionPrompt& prompt : request.prompts) {
      ApiResult<std::vector<int32_t>> ids = prompts.completion(prompt);
      if (auto* e = std::get_if<ApiError>(&ids)) return send_error(res, *e);
      const auto& p = std::get<std::vector<int32_t>>(ids);
      ApiResult<int64_t> max_tokens = fit_to_context(p.size(), request.params.max_tokens, engine.options().context_size);
      if (auto* e = std::get_if<ApiError>(&max_tokens)) return send_error(res, *e);
      for (int64_t i = 0; i < request.params.n; ++i) {
        spec.prompts.push_back(p);
        spec.max_tokens.push_back(std::get<int64_t>(max_tokens));
      }
    }
    run(std::move(spec), req, res);
  }

  void run(JobSpec spec, const httplib::Request& req, httplib::Response& res) {
    const bool stream = spec.params.stream;
    auto job = std::make_shared<GenerationJob>(engine, tokenizer, &metrics, std::move(spec));
    if (std::optional<SubmitError> refused = job->submit()) {
      switch (refused->kind) {
        case SubmitError::Kind::kInvalid: return send_error(res, bad_request(refused->message));
        case SubmitError::Kind::kSaturated:
          res.set_header("Retry-After", std::to_string(options.retry_after_seconds));
          return send_error(res, saturated("The server is busy: " + refused->message));
        case SubmitError::Kind::kShuttingDown: return send_error(res, unavailable("The server is shutting down."));
      }
    }
    if (!stream) {
      // Nothing is written until the whole completion is ready: watch the connection so a
      // client that gives up does not leave its generation running.
      const std::optional<ClientConnection> client = ClientConnection::find(req.remote_addr, req.remote_port);
      ApiResult<json> body = job->collect([&] { return client && client->closed(); });
      if (auto* e = std::get_if<ApiError>(&body)) return send_error(res, *e);
      return send_json(res, 200, std::get<json>(body));
    }
    res.set_header("Cache-Control", "no-cache");
    auto last_write = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
    // httplib calls the provider on this handler thread until it signals done or fails.
    res.set_chunked_content_provider(
        "text/event-stream",
        [job, last_write](size_t, httplib::DataSink& sink) {
          std::string out;
          while (out.empty()) {
            if (!sink.is_writable()) return false;
            if (!job->next_sse(out, kStreamPoll)) {
              sink.done();
              return true;
            }
            if (out.empty() && std::chrono::steady_clock::now() - *last_write > kHeartbeat) out = ": keep-alive\n\n";
          }
          *last_write = std::chrono::steady_clock::now();
          return sink.write(out.data(), out.size());
        },
        // Also runs when the client went away mid-stream: stop its generation.
        [job](bool success) {
          if (!success) job->cancel();
        });
  }

  Engine& engine;
  const Tokenizer& tokenizer;
  PromptBuilder prompts;
  ServerOptions options;
  RequestLimits limits;
  Metrics metrics;
  httplib::Server http;
  std::string id_prefix;
  std::atomic<uint64_t> next_id{1};
  std::mutex stop_mutex;
  bool stopped = false;               // stop() was called (under stop_mutex)
  std::atomic<bool> serving{false};  // inside serve()
  const int64_t started = static_cast<int64_t>(std::time(nullptr));
};

HttpServer::HttpServer(Engine& engine, const Tokenizer& tokenizer, PromptBuilder prompts, ServerOptions options)
    : impl_(std::make_unique<Impl>(engine, tokenizer, std::move(prompts), std::move(options))) {
  impl_->install();
}

HttpServer::~HttpServer() = default;

Result<int> HttpServer::bind() {
  const ServerOptions& o = impl_->options;
  if (o.port == 0) {
    const int port = impl_->http.bind_to_any_port(o.host);
    if (port <= 0) return error("cannot listen on {}: no free port", o.host);
    return port;
  }
  if (!impl_->http.bind_to_port(o.host, o.port)) return error("cannot listen on {}:{} (in use, or not an address here)", o.host, o.port);
  return o.port;
}

Status HttpServer::serve() {
  {
    std::lock_guard lock(impl_->stop_mutex);
    if (impl_->stopped) return Status::ok();
    impl_->serving = true;
  }
  const bool ok = impl_->http.listen_after_bind();
  impl_->serving = false;
  if (!ok) return error("the HTTP listener failed");
  return Status::ok();
}

void HttpServer::stop() {
  std::lock_guard lock(impl_->stop_mutex);
  if (impl_->stopped) return;
  impl_->stopped = true;
  // httplib ignores stop() until its accept loop runs, and must get it only once.
  while (impl_->serving && !impl_->http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  impl_->http.stop();
}

}  // namespace dsinfer::server
