// `dsinfer tokenize` and `dsinfer detokenize`: JSON Lines filters over the tokenizer of a
// model folder or a .gguf file. In a folder they read only tokenizer.json and
// tokenizer_config.json, so they work on a folder that holds nothing else. One output
// line per input line; a bad line gets an {"error": "..."} line and the stream goes on.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "tokenizer/gguf_vocabulary.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace dsinfer::cli {
namespace {

using nlohmann::json;

struct TokenizeOptions {
  std::string model_dir;
  bool add_special = false;    // BOS (and EOS) as tokenizer_config.json says
  bool split_special = false;  // special-token strings in the text stay plain text
};

struct DetokenizeOptions {
  std::string model_dir;
  bool skip_special = false;
};

void write_line(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);  // callers may stream lines through a pipe
}

void write_error(size_t line_number, const std::string& message) {
  write_line(json{{"error", fmt::format("line {}: {}", line_number, message)}}.dump());
}

// Parses one input line, or explains (in an error line) why it cannot be used.
std::optional<json> parse_line(const std::string& line, size_t line_number) {
  if (std::optional<size_t> bad = find_invalid_utf8(line)) {
    write_error(line_number, fmt::format("input is not valid UTF-8 (byte offset {})", *bad));
    return std::nullopt;
  }
  try {
    return json::parse(line);
  } catch (const json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 1, column 3: ...".
    std::string_view what = e.what();
    if (size_t bracket = what.find("] "); bracket != std::string_view::npos) what.remove_prefix(bracket + 2);
    write_error(line_number, fmt::format("not valid JSON: {}", what));
    return std::nullopt;
  }
}

int run_tokenize(const TokenizeOptions& options) {
  auto tokenizer = load_model_tokenizer(options.model_dir);
  if (!tokenizer.is_ok()) return report_error(tokenizer.status());
  const EncodeOptions encode_options{.add_special_tokens = options.add_special,
                                     .match_special_tokens = !options.split_special};
  EncodeScratch scratch;  // keeps the word cache warm across lines
  std::vector<TokenId> ids;
  std::string line;
  std::string out;
  for (size_t line_number = 1; std::getline(std::cin, line); ++line_number) {
    std::optional<json> value = parse_line(line, line_number);
    if (!value) continue;
    if (!value->is_string()) {
      write_error(line_number, "expected a JSON string");
      continue;
    }
    ids.clear();
    if (Status s = tokenizer->encode(value->get_ref<const std::string&>(), encode_options, scratch, ids); !s.is_ok()) {
      write_error(line_number, s.message());
      continue;
    }
    out.assign("{\"ids\":[");
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out.push_back(',');
      out += std::to_string(ids[i]);
    }
    out += "]}";
    write_line(out);
  }
  return 0;
}

int run_detokenize(const DetokenizeOptions& options) {
  auto tokenizer = load_model_tokenizer(options.model_dir);
  if (!tokenizer.is_ok()) return report_error(tokenizer.status());
  const DecodeOptions decode_options{.skip_special_tokens = options.skip_special};
  std::string line;
  std::vector<TokenId> ids;
  for (size_t line_number = 1; std::getline(std::cin, line); ++line_number) {
    std::optional<json> value = parse_line(line, line_number);
    if (!value) continue;
    ids.clear();
    bool ok = value->is_array();
    if (ok) {
      for (const json& id : *value) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
          ok = false;
          break;
        }
        ids.push_back(TokenId(id.get<int64_t>()));
      }
    }
    if (!ok) {
      write_error(line_number, "expected a JSON array of token ids (non-negative integers)");
      continue;
    }
    auto text = tokenizer->decode(ids, decode_options);
    if (!text.is_ok()) {
      write_error(line_number, text.status().message());
      continue;
    }
    write_line(json(*text).dump());
  }
  return 0;
}

}  // namespace

void add_tokenize_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize",
      "Encode JSON Lines of strings from stdin into {\"ids\":[...]} lines (needs only tokenizer.json and "
      "tokenizer_config.json); a bad line gets an {\"error\":...} line and the rest go on");
  cmd->add_option("--model", options->model_dir, "Folder with tokenizer.json and tokenizer_config.json, or a .gguf file")->required();
  cmd->add_flag("--add-special", options->add_special,
                "Add BOS/EOS as tokenizer_config.json says (add_bos_token, add_eos_token)");
  cmd->add_flag("--split-special", options->split_special,
                "Encode special-token strings in the text as plain text instead of their ids");
  cmd->callback([options, &exit_code] { exit_code = run_tokenize(*options); });
}

void add_detokenize_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<DetokenizeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "detokenize", "Decode JSON Lines of id arrays from stdin into JSON strings, one line each");
  cmd->add_option("--model", options->model_dir, "Folder with tokenizer.json and tokenizer_config.json, or a .gguf file")->required();
  cmd->add_flag("--skip-special", options->skip_special, "Leave special tokens out of the text");
  cmd->callback([options, &exit_code] { exit_code = run_detokenize(*options); });
}

}  // namespace dsinfer::cli
