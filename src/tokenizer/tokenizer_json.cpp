#include "tokenizer/tokenizer_json.h"

#include <array>
#include <cstring>
#include <string>

#include "tokenizer/utf8.h"

namespace dsinfer {
namespace {

using nlohmann::json;

// A strict JSON reader for the two big sections (model.vocab, model.merges), and a
// structural skipper that finds the extent of every other value so nlohmann parses (and
// validates) it.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}

  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool at_end() const { return p_ >= end_; }
  char peek() const { return p_ < end_ ? *p_ : '\0'; }
  bool consume(char c) {
    skip_ws();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  Status expect(char c, const char* where) {
    if (consume(c)) return Status::ok();
    return fail(fmt::format("expected '{}' {}", c, where));
  }
  Status fail(std::string_view what) const {
    // Line and column of the current position, for a message a user can act on.
    size_t line = 1, column = 1;
    for (const char* q = begin_; q < p_ && q < end_; ++q) {
      if (*q == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return error("not valid JSON at line {}, column {}: {}", line, column, what);
  }

  // A string value (at '"'). Without escapes it is returned as a view of the text;
  // otherwise it is decoded into `buffer`, which the view then points into.
  Result<std::string_view> string(std::string& buffer) {
    skip_ws();
    if (p_ >= end_ || *p_ != '"') return Status(fail("expected a string"));
    ++p_;
    const char* start = p_;
    bool ascii = true;
    // Eight bytes at a time while none is a quote, a backslash or a control character.
    constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
    while (end_ - p_ >= 8) {
      uint64_t w;
      std::memcpy(&w, p_, 8);
      const uint64_t quote = w ^ (kOnes * '"'), backslash = w ^ (kOnes * '\\');
      const uint64_t stop = ((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash) | ((w - kOnes * 0x20) & ~w);
      if (stop & kHigh) break;
      ascii &= (w & kHigh) == 0;
      p_ += 8;
    }
    while (p_ < end_ && !kStringStop[static_cast<unsigned char>(*p_)]) ascii &= static_cast<unsigned char>(*p_++) < 0x80;
    if (p_ < end_ && *p_ == '"') {
      const std::string_view text(start, size_t(p_ - start));
      ++p_;
      if (!ascii && find_invalid_utf8(text)) return Status(fail("string is not valid UTF-8"));
      return text;
    }
    buffer.assign(start, p_);
    DSINFER_RETURN_IF_ERROR(string_rest(buffer));
    if (find_invalid_utf8(buffer)) return Status(fail("string is not valid UTF-8"));
    return std::string_view(buffer);
  }

  // A string value decoded into `out`.
  Status string_copy(std::string& out) {
    DSINFER_ASSIGN_OR_RETURN(std::string_view s, string(out));
    if (s.data() != out.data()) out.assign(s);
    return Status::ok();
  }

 private:
  // Bytes that end the fast scan of a string: quote, backslash, control characters.
  static constexpr auto kStringStop = [] {
    std::array<bool, 256> stop{};
    for (int c = 0; c < 0x20; ++c) stop[c] = true;
    stop['"'] = stop['\\'] = true;
    return stop;
  }();

  Status string_rest(std::string& out) {
    while (true) {
      const char* start = p_;
      while (p_ < end_ && !kStringStop[static_cast<unsigned char>(*p_)]) ++p_;
      out.append(start, p_);
      if (p_ >= end_) return fail("unterminated string");
      if (*p_ == '"') {
        ++p_;
        return Status::ok();
      }
      if (*p_ != '\\') return fail("control character in a string");
      DSINFER_RETURN_IF_ERROR(escape(out));
    }
  }

 public:

  // A non-negative integer that fits in 31 bits (a token id).
  Result<uint32_t> token_id() {
    skip_ws();
    const char* start = p_;
    uint64_t value = 0;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9' && value <= INT32_MAX) value = value * 10 + uint64_t(*p_++ - '0');
    const bool leading_zero = p_ - start > 1 && *start == '0';
    if (p_ == start || leading_zero || value > INT32_MAX || (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')))
      return Status(fail("expected a token id (an integer from 0 to 2147483647)"));
    return uint32_t(value);
  }

  // Skips one value of any kind; returns its text for nlohmann to parse.
  Result<std::string_view> skip_value() {
    skip_ws();
    const char* start = p_;
    int depth = 0;
    do {
      if (p_ >= end_) return Status(fail("unexpected end of text"));
      const char c = *p_;
      if (c == '"') {
        ++p_;
        while (p_ < end_ && *p_ != '"') p_ += *p_ == '\\' ? 2 : 1;
        if (p_ >= end_) return Status(fail("unterminated string"));
        ++p_;
      } else if (c == '{' || c == '[') {
        ++depth;
        ++p_;
      } else if (c == '}' || c == ']') {
        if (--depth < 0) return Status(fail("unbalanced brackets"));
        ++p_;
      } else if (depth == 0) {  // a number or literal at top level: up to a delimiter
        while (p_ < end_ && std::strchr(",}] \t\r\n", *p_) == nullptr) ++p_;
      } else {
        ++p_;
      }
    } while (depth > 0);
    return std::string_view(start, size_t(p_ - start));
  }

 private:
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  Result<uint32_t> hex4() {
    if (end_ - p_ < 4) return Status(fail("truncated \\u escape"));
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex(p_[i]);
      if (h < 0) return Status(fail("bad \\u escape"));
      v = v << 4 | uint32_t(h);
    }
    p_ += 4;
    return v;
  }

  static void append_utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out.push_back(char(cp));
    } else if (cp < 0x800) {
      out.push_back(char(0xC0 | (cp >> 6)));
      out.push_back(char(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(char(0xE0 | (cp >> 12)));
      out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(char(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(char(0xF0 | (cp >> 18)));
      out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(char(0x80 | (cp & 0x3F)));
    }
  }

  Status escape(std::string& out) {
    ++p_;  // backslash
    if (p_ >= end_) return fail("unterminated string");
    const char c = *p_++;
    switch (c) {
      case '"': out.push_back('"'); return Status::ok();
      case '\\': out.push_back('\\'); return Status::ok();
      case '/': out.push_back('/'); return Status::ok();
      case 'b': out.push_back('\b'); return Status::ok();
      case 'f': out.push_back('\f'); return Status::ok();
      case 'n': out.push_back('\n'); return Status::ok();
      case 'r': out.push_back('\r'); return Status::ok();
      case 't': out.push_back('\t'); return Status::ok();
      case 'u': {
        DSINFER_ASSIGN_OR_RETURN(uint32_t cp, hex4());
        if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("lone low surrogate in a \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return fail("high surrogate without a low one");
          p_ += 2;
          DSINFER_ASSIGN_OR_RETURN(uint32_t low, hex4());
          if (low < 0xDC00 || low > 0xDFFF) return fail("high surrogate without a low one");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(cp, out);
        return Status::ok();
      }
      default:
        return fail("unknown escape");
    }
  }

  const char* begin_;
  const char* p_;
  const char* end_;
};

Result<json> parse_with_nlohmann(std::string_view text, std::string_view where) {
  json value = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return error("not valid JSON in '{}'", where);
  return value;
}

Status read_vocab(Scanner& in, BpeModel::Builder& bpe) {
  DSINFER_RETURN_IF_ERROR(in.expect('{', "at model.vocab"));
  std::string buffer;
  if (in.consume('}')) return Status::ok();
  do {
    DSINFER_ASSIGN_OR_RETURN(std::string_view token, in.string(buffer));
    DSINFER_RETURN_IF_ERROR(in.expect(':', "after a vocabulary token"));
    DSINFER_ASSIGN_OR_RETURN(uint32_t id, in.token_id());
    bpe.add_token(token, id);
  } while (in.consume(','));
  return in.expect('}', "to close model.vocab");
}

Status read_merges(Scanner& in, BpeModel::Builder& bpe) {
  DSINFER_RETURN_IF_ERROR(in.expect('[', "at model.merges"));
  std::string left_buffer, right_buffer;
  if (in.consume(']')) return Status::ok();
  do {
    in.skip_ws();
    if (in.peek() == '[') {  // ["left", "right"]
      in.consume('[');
      DSINFER_ASSIGN_OR_RETURN(std::string_view left, in.string(left_buffer));
      DSINFER_RETURN_IF_ERROR(in.expect(',', "in a merge pair"));
      DSINFER_ASSIGN_OR_RETURN(std::string_view right, in.string(right_buffer));
      if (!in.consume(']')) return in.fail("a merge pair must have exactly two tokens");
      bpe.add_merge(left, right);
    } else {  // "left right"
      DSINFER_ASSIGN_OR_RETURN(std::string_view line, in.string(left_buffer));
      bpe.add_merge_line(line);
    }
  } while (in.consume(','));
  return in.expect(']', "to close model.merges");
}

// Reads an object member by member; `member` handles each key (the scanner is then at
// its value).
template <typename F>
Status read_object(Scanner& in, const char* where, F&& member) {
  DSINFER_RETURN_IF_ERROR(in.expect('{', where));
  if (in.consume('}')) return Status::ok();
  std::string key;
  do {
    DSINFER_RETURN_IF_ERROR(in.string_copy(key));
    DSINFER_RETURN_IF_ERROR(in.expect(':', "after a key"));
    DSINFER_RETURN_IF_ERROR(member(key));
  } while (in.consume(','));
  return in.expect('}', where);
}

}  // namespace

Result<TokenizerJson> read_tokenizer_json(std::string_view text) {
  // UTF-8 is checked in the strings the scanner reads and by nlohmann in the rest; a
  // non-ASCII byte anywhere else is a syntax error.
  TokenizerJson out;
  out.document = json::object();
  out.bpe.reserve_for_json_bytes(text.size());
  Scanner in(text);
  in.skip_ws();
  if (in.peek() != '{') return error("expected a JSON object at the top level");

  auto generic = [&](json& object, const std::string& key) -> Status {
    DSINFER_ASSIGN_OR_RETURN(std::string_view value_text, in.skip_value());
    DSINFER_ASSIGN_OR_RETURN(object[key], parse_with_nlohmann(value_text, key));  // repeated key: last wins
    return Status::ok();
  };
  DSINFER_RETURN_IF_ERROR(read_object(in, "at the top level", [&](const std::string& key) -> Status {
    in.skip_ws();
    if (key != "model" || in.peek() != '{') return generic(out.document, key);
    json& model = out.document[key] = json::object();
    return read_object(in, "in 'model'", [&](const std::string& field) -> Status {
      in.skip_ws();
      if (field == "vocab" && in.peek() == '{') {
        out.has_vocab = true;
        return read_vocab(in, out.bpe);
      }
      if (field == "merges" && in.peek() == '[') {
        out.has_merges = true;
        return read_merges(in, out.bpe);
      }
      return generic(model, field);
    });
  }));
  in.skip_ws();
  if (!in.at_end()) return in.fail("text after the top-level object");
  return out;
}

}  // namespace dsinfer
