#include "tokenizer/tiktoken_vocabulary.h"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "tokenizer/bpe_document.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer_config.h"

namespace dsinfer {
namespace {

using nlohmann::json;

// tokenization_kimi.py's num_reserved_special_tokens + 2: the special ids after the ranks.
constexpr int64_t kSpecialIds = 258;

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("cannot open {}", path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Standard base64 (RFC 4648, '=' padding) as tiktoken files write it; nullopt if malformed.
std::optional<std::string> decode_base64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
    if (pad == 1 && text[i + 2] == '=') return std::nullopt;  // "x=y=" is no padding
    uint32_t bits = 0;
    for (int k = 0; k < 4 - pad; ++k) {
      const int v = value(text[i + static_cast<size_t>(k)]);
      if (v < 0) return std::nullopt;
      bits |= static_cast<uint32_t>(v) << (18 - 6 * k);
    }
    for (int k = 0; k < 3 - pad; ++k) out += static_cast<char>((bits >> (16 - 8 * k)) & 0xFF);
  }
  return out;
}

// The tokens by rank, each its raw bytes.
Result<std::vector<std::string>> read_ranks(std::string_view text, const std::string& path) {
  std::vector<std::pair<int64_t, std::string>> entries;
  size_t line_no = 0;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + at, end - at);
    at = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    std::optional<std::string> bytes;
    int64_t rank = -1;
    if (space != std::string_view::npos) {
      bytes = decode_base64(line.substr(0, space));
      const std::string_view number = line.substr(space + 1);
      const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), rank);
      if (ec != std::errc() || ptr != number.data() + number.size()) rank = -1;
    }
    if (!bytes || rank < 0)
      return error("{}: line {} is not '<base64 token> <rank>': '{}'", path, line_no,
                   line.substr(0, std::min<size_t>(line.size(), 60)));
    entries.emplace_back(rank, std::move(*bytes));
  }
  if (entries.empty()) return error("{}: no tokens", path);
  std::vector<std::string> by_rank(entries.size());
  std::vector<bool> seen(entries.size(), false);
  for (auto& [rank, bytes] : entries) {
    if (rank >= static_cast<int64_t>(entries.size()))
      return error("{}: rank {} with {} tokens; ranks must be 0..{} (they are the token ids)", path, rank,
                   entries.size(), entries.size() - 1);
    if (seen[static_cast<size_t>(rank)]) return error("{}: rank {} appears twice", path, rank);
    seen[static_cast<size_t>(rank)] = true;
    by_rank[static_cast<size_t>(rank)] = std::move(bytes);
  }
  std::unordered_map<std::string_view, int64_t> first;
  for (size_t r = 0; r < by_rank.size(); ++r)
    if (auto [it, fresh] = first.emplace(by_rank[r], static_cast<int64_t>(r)); !fresh)
      return error("{}: ranks {} and {} are the same token", path, it->second, r);
  for (int b = 0; b < 256; ++b)
    if (!first.count(std::string_view(std::string(1, static_cast<char>(b)))))
      return error("{}: byte 0x{:02X} has no token; a tiktoken vocabulary needs all 256 bytes", path, b);
  return by_rank;
}

// Where merging `token`'s bytes pair by pair, lowest rank first and only through ranks
// below `rank`, leaves two parts: the offset of the second; nullopt when it leaves more
// (the token is then reached only as a whole piece).
std::optional<size_t> last_merge(std::string_view token, int64_t rank,
                                 const std::unordered_map<std::string_view, int64_t>& ranks) {
  std::vector<size_t> starts(token.size());
  for (size_t i = 0; i < token.size(); ++i) starts[i] = i;
  while (starts.size() > 2) {
    int64_t best = rank;
    size_t best_at = 0;
    for (size_t i = 0; i + 1 < starts.size(); ++i) {
      const size_t end = i + 2 < starts.size() ? starts[i + 2] : token.size();
      const auto it = ranks.find(token.substr(starts[i], end - starts[i]));
      if (it != ranks.end() && it->second < best) {
        best = it->second;
        best_at = i;
      }
    }
    if (best == rank) return std::nullopt;
    starts.erase(starts.begin() + static_cast<std::ptrdiff_t>(best_at) + 1);
  }
  return starts.size() == 2 ? std::optional<size_t>(starts[1]) : std::nullopt;
}

Status require_kimi_k2(const std::string& model_dir) {
  const std::string path = model_dir + "/config.json";
  DSINFER_ASSIGN_OR_RETURN(const std::string text, read_text(path));
  const json config = json::parse(text, nullptr, /*allow_exceptions=*/false);
  const std::string model_type =
      config.is_object() && config.contains("model_type") && config["model_type"].is_string()
          ? config["model_type"].get<std::string>()
          : "";
  if (model_type != "kimi_k2")
    return error("{}: a tiktoken vocabulary (tiktoken.model) is read for model_type kimi_k2, whose split pattern "
                 "dsinfer knows; this folder says '{}' (give token ids instead of text)",
                 model_dir, model_type);
  return Status::ok();
}

// added_tokens_decoder: id -> (content, special).
Result<std::unordered_map<int64_t, std::pair<std::string, bool>>> added_tokens(std::string_view text,
                                                                               const std::string& path, int64_t first,
                                                                               int64_t end) {
  std::unordered_map<int64_t, std::pair<std::string, bool>> out;
  const json config = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object() || !config.contains("added_tokens_decoder")) return out;
  const json& decoder = config["added_tokens_decoder"];
  if (!decoder.is_object()) return error("{}: added_tokens_decoder must be an object", path);
  for (const auto& [key, entry] : decoder.items()) {
    int64_t id = -1;
    const auto [ptr, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || ptr != key.data() + key.size() || id < first || id >= end)
      return error("{}: added_tokens_decoder id '{}' is not one of the special ids {}..{} after the ranks", path, key,
                   first, end - 1);
    if (!entry.is_object() || !entry.contains("content") || !entry["content"].is_string() ||
        entry["content"].get<std::string>().empty())
      return error("{}: added_tokens_decoder[{}] needs a non-empty \"content\" string", path, key);
    const bool special = !entry.contains("special") || !entry["special"].is_boolean() || entry["special"].get<bool>();
    out[id] = {entry["content"].get<std::string>(), special};
  }
  return out;
}

}  // namespace

bool has_tiktoken_vocabulary(const std::string& model_dir) {
  return !std::filesystem::exists(model_dir + "/tokenizer.json") &&
         std::filesystem::exists(model_dir + "/tiktoken.model");
}

Result<Tokenizer> tokenizer_from_tiktoken(const std::string& model_dir) {
  DSINFER_RETURN_IF_ERROR(require_kimi_k2(model_dir));
  const std::string vocab_path = model_dir + "/tiktoken.model", config_path = model_dir + "/tokenizer_config.json";
  DSINFER_ASSIGN_OR_RETURN(const std::string vocabulary, read_text(vocab_path));
  DSINFER_ASSIGN_OR_RETURN(const std::string tokenizer_config, read_text(config_path));
  return tokenizer_from_tiktoken_text(vocabulary, vocab_path, tokenizer_config, config_path);
}

Result<Tokenizer> tokenizer_from_tiktoken_text(std::string_view vocabulary, const std::string& vocabulary_origin,
                                               std::string_view tokenizer_config, const std::string& config_origin) {
  DSINFER_ASSIGN_OR_RETURN(const std::vector<std::string> by_rank, read_ranks(vocabulary, vocabulary_origin));
  DSINFER_ASSIGN_OR_RETURN(TokenizerConfig config, parse_tokenizer_config(std::string(tokenizer_config), config_origin));
  const auto n = static_cast<int64_t>(by_rank.size());
  DSINFER_ASSIGN_OR_RETURN(const auto specials, added_tokens(tokenizer_config, config_origin, n, n + kSpecialIds));

  std::unordered_map<std::string_view, int64_t> ranks;
  ranks.reserve(by_rank.size());
  for (size_t r = 0; r < by_rank.size(); ++r) ranks.emplace(by_rank[r], static_cast<int64_t>(r));
  ByteLevelBpeDocument document;
  std::string spelled, first, second;
  for (int64_t r = 0; r < n; ++r) {
    const std::string& token = by_rank[static_cast<size_t>(r)];
    spelled.clear();
    append_byte_level(token, spelled);
    document.add_token(spelled, r);
    if (token.size() < 2) continue;
    if (const std::optional<size_t> cut = last_merge(token, r, ranks)) {
      first.clear();
      second.clear();
      append_byte_level(std::string_view(token).substr(0, *cut), first);
      append_byte_level(std::string_view(token).substr(*cut), second);
      document.add_merge(first + " " + second);
    }
  }
  for (int64_t id = n; id < n + kSpecialIds; ++id) {
    const auto it = specials.find(id);
    if (it != specials.end())
      document.add_added_token(it->second.first, id, it->second.second);
    else
      document.add_added_token(fmt::format("<|reserved_token_{}|>", id), id, /*special=*/true);
  }
  return Tokenizer::from_json(document.finish(*named_pre_tokenizer("kimi-k2"), /*ignore_merges=*/true),
                              std::move(config), vocabulary_origin);
}

}  // namespace dsinfer
