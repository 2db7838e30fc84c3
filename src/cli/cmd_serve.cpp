// `dsinfer serve`: the OpenAI-compatible HTTP server (src/server) over the serving engine.
// Loads the model (an MLA model, or DeepSeek-V4 when config.json says so) and tokenizer,
// starts the engine, listens (loopback unless --host says otherwise) and prints
// "listening on http://HOST:PORT" on stderr once requests can be sent. SIGINT / SIGTERM
// stop the listener, end the engine's requests (cancelled, or finished with --drain) and
// exit 0.
#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <pthread.h>

#include "cli/backend_options.h"
#include "cli/commands.h"
#include "cli/option_checks.h"
#include "model/deepseek_v4_model.h"
#include "model/deepseek_v4_state.h"
#include "runtime/engine.h"
#include "runtime/latent_cache.h"
#include "runtime/session.h"
#include "server/http_server.h"
#include "server/prompt_builder.h"
#include "tokenizer/gguf_vocabulary.h"

namespace dsinfer::cli {
namespace {

struct ServeOptions {
  BackendOptions backend{.pack_at_load = true};  // a server should not slow down on first uses
  std::string model_dir;
  std::string model_name;  // empty: the model folder's name
  server::ServerOptions http;
  EngineOptions engine;
  std::string kv_memory;  // e.g. 2G, 512M; empty: enough for max_batch full contexts
  std::string kv_type = "f32";
  std::string tool_call_syntax = "auto";
  bool drain = false;
};

// "2G", "512M", "64k", "1000000": binary multiples.
Result<int64_t> parse_size(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return error("--kv-memory: expected a size like 2G or 512M, got '{}'", text);
  }
  const std::string unit = text.substr(used);
  double scale = 1;
  if (unit.empty() || unit == "B" || unit == "b") {
    scale = 1;
  } else if (std::string("kKmMgGtT").find(unit[0]) != std::string::npos && (unit.size() == 1 || unit.substr(1) == "B" || unit.substr(1) == "iB")) {
    const int power = std::string("kmgt").find(static_cast<char>(std::tolower(unit[0]))) + 1;
    for (int i = 0; i < power; ++i) scale *= 1024;
  } else {
    return error("--kv-memory: unknown unit '{}' in '{}' (use K, M, G or T)", unit, text);
  }
  if (!(value > 0)) return error("--kv-memory: must be positive, got '{}'", text);
  return static_cast<int64_t>(value * scale);
}

std::string folder_name(const std::string& path) {
  std::filesystem::path p(path);
  if (!p.has_filename()) p = p.parent_path();
  return p.filename().string();
}

// Listens until a stop signal (blocked in this thread: `stop_signals`) or the listener's
// own end, then stops the engine.
Status serve_http(ServeOptions& o, Engine& engine, const Tokenizer& tokenizer, server::PromptBuilder prompts,
                  const sigset_t& stop_signals) {
  o.http.model_name = o.model_name.empty() ? folder_name(o.model_dir) : o.model_name;
  server::HttpServer http(engine, tokenizer, std::move(prompts), o.http);
  DSINFER_ASSIGN_OR_RETURN(int port, http.bind());
  std::fprintf(stderr, "listening on http://%s:%d\n", o.http.host.c_str(), port);
  std::fflush(stderr);

  std::atomic<bool> serving = true;
  Status served;
  std::thread listener([&] {
    served = http.serve();
    serving = false;
  });
  // Wait for a stop signal, or for the listener to end by itself.
  const timespec tick{.tv_sec = 0, .tv_nsec = 200'000'000};
  while (serving && sigtimedwait(&stop_signals, nullptr, &tick) < 0) {
  }
  if (serving) std::fprintf(stderr, "shutting down\n");
  http.stop();
  engine.shutdown(o.drain);  // ends every request, so the HTTP handlers waiting on them return
  listener.join();
  return served;
}

Status run_serve(ServeOptions o) {
  // Signals are taken by sigwait below: block them before any thread exists, so every
  // thread (backend pool, engine, HTTP workers) inherits the mask. A client that hangs up
  // mid-write must not kill the server either.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  DSINFER_ASSIGN_OR_RETURN(Tokenizer tokenizer, load_model_tokenizer(o.model_dir));
  std::optional<server::ToolCallSyntax> syntax;
  if (o.tool_call_syntax != "auto") {
    syntax = server::parse_tool_call_syntax(o.tool_call_syntax);
    if (!syntax) return error("--tool-call-syntax: expected auto, none, v3, v3.1, v3.2, v4 or kimi-k2, got '{}'", o.tool_call_syntax);
  }
  DSINFER_ASSIGN_OR_RETURN(ChatPromptFormat prompt_format, ChatPromptFormat::load(o.model_dir, tokenizer.config()));
  server::PromptBuilder prompts = server::PromptBuilder::create(tokenizer, std::move(prompt_format), syntax);
  DSINFER_ASSIGN_OR_RETURN(o.engine.kv_dtype, parse_kv_dtype(o.kv_type));
  DSINFER_ASSIGN_OR_RETURN(auto backend, make_backend(o.backend));
  DSINFER_ASSIGN_OR_RETURN(auto weights, open_weights(o.model_dir));
  if (weights->config().v4) {
    DSINFER_ASSIGN_OR_RETURN(auto model, DeepSeekV4Model::load(std::move(weights), *backend));
    if (!o.kv_memory.empty()) {
      // One cache block per sequence: its whole state, float32 (Engine::start refuses other types).
      DSINFER_ASSIGN_OR_RETURN(int64_t bytes, parse_size(o.kv_memory));
      const int64_t per_sequence = V4State::bytes(model->config(), o.engine.context_size);
      o.engine.kv_blocks = bytes / per_sequence;
      if (o.engine.kv_blocks < 1)
        return error("--kv-memory {} is less than one DeepSeek-V4 sequence state of --ctx-size {} ({} bytes): give "
                     "more memory or a smaller context",
                     o.kv_memory, o.engine.context_size, per_sequence);
    }
    DSINFER_ASSIGN_OR_RETURN(auto engine, Engine::start(*model, o.engine));
    return serve_http(o, *engine, tokenizer, std::move(prompts), stop_signals);
  }
  DSINFER_ASSIGN_OR_RETURN(auto model, DeepSeekModel::load(std::move(weights), *backend));
  if (!o.kv_memory.empty()) {
    DSINFER_ASSIGN_OR_RETURN(int64_t bytes, parse_size(o.kv_memory));
    const int64_t per_block = LatentCache::bytes_per_token(model->config(), o.engine.kv_dtype) * o.engine.block_size;
    o.engine.kv_blocks = std::max<int64_t>(bytes / per_block, 1);
  }
  DSINFER_ASSIGN_OR_RETURN(auto engine, Engine::start(*model, o.engine));
  return serve_http(o, *engine, tokenizer, std::move(prompts), stop_signals);
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server (chat and text completions, streaming)");
  cmd->add_option("--model", o->model_dir, "Hugging Face model folder (with tokenizer files) or .gguf file")->required();
  cmd->add_option("--model-name", o->model_name, "Model id clients send (default: the folder's name)");
  cmd->add_option("--host", o->http.host, "Address to listen on")->default_val("127.0.0.1");
  cmd->add_option("--port", o->http.port, "Port to listen on; 0 picks a free one")->default_val(8080)->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", o->http.api_key, "Require 'Authorization: Bearer KEY' on every /v1 request");
  cmd->add_option("--max-batch", o->engine.max_batch, "Sequences per engine step")->default_val(16)->check(at_least(1));
  cmd->add_option("-c,--ctx-size", o->engine.context_size, "Positions per sequence (prompt + reply)")->default_val(4096);
  cmd->add_option("--kv-memory", o->kv_memory,
                  "KV cache size, e.g. 2G or 512M (default: max-batch full contexts; V4: whole-sequence states)");
  cmd->add_option("--kv-type", o->kv_type, "Latent cache storage: f32, f16, bf16 or q8_0 (V4: f32 only)")->default_val("f32");
  cmd->add_option("--max-queue", o->engine.max_queue, "Waiting requests before new ones get 429")
      ->default_val(256)
      ->check(at_least(1));
  cmd->add_option("--max-body-bytes", o->http.max_body_bytes, "Largest request body (larger: 413)")
      ->default_val(8 << 20)
      ->check(at_least(1));
  cmd->add_option("--http-threads", o->http.http_threads, "Connections served at once (each stream holds one)")
      ->default_val(64)
      ->check(at_least(1));
  cmd->add_option("--tool-call-syntax", o->tool_call_syntax, "auto (from the chat template), none, v3, v3.1, v3.2, v4 or kimi-k2")
      ->default_val("auto");
  cmd->add_flag("--drain", o->drain, "On SIGINT/SIGTERM finish running requests instead of cancelling them");
  add_backend_options(*cmd, o->backend);
  cmd->callback([o, &exit_code] {
    Status status = run_serve(*o);
    if (!status) exit_code = report_error(status);
  });
}

}  // namespace dsinfer::cli
