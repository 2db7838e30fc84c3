#include "tokenizer/jinja/lexer.h"

#include <cerrno>
#include <cmath>
#include <cctype>
#include <cstdlib>

#include "tokenizer/jinja/unicode.h"

namespace dsinfer::jinja {

SourceText::SourceText(std::string_view raw) {
  text_.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r') {
      text_.push_back('\n');
      if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
    } else {
      text_.push_back(raw[i]);
    }
  }
  if (!text_.empty() && text_.back() == '\n') text_.pop_back();
  line_starts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
  }
}

std::pair<int, int> SourceText::position(size_t offset) const {
  offset = std::min(offset, text_.size());
  size_t line = 0;
  size_t lo = 0, hi = line_starts_.size();
  while (hi - lo > 1) {  // last line start <= offset
    size_t mid = (lo + hi) / 2;
    if (line_starts_[mid] <= offset) lo = mid;
    else hi = mid;
  }
  line = lo;
  const size_t start = line_starts_[line];
  const size_t column = count_code_points(std::string_view(text_).substr(start, offset - start)) + 1;
  return {static_cast<int>(line + 1), static_cast<int>(column)};
}

std::string SourceText::where(size_t offset) const {
  auto [line, column] = position(offset);
  return " at line " + std::to_string(line) + ", column " + std::to_string(column);
}

std::string describe(const Token& token) {
  switch (token.type) {
    case TokenType::kData: return "template data";
    case TokenType::kVariableBegin: return "begin of print statement";
    case TokenType::kVariableEnd: return "end of print statement";
    case TokenType::kBlockBegin: return "begin of statement block";
    case TokenType::kBlockEnd: return "end of statement block";
    case TokenType::kName: return "'" + token.text + "'";
    case TokenType::kString: return "string";
    case TokenType::kInteger: return "integer";
    case TokenType::kFloat: return "float";
    case TokenType::kOperator: return "'" + token.text + "'";
    case TokenType::kEof: return "end of template";
  }
  return "token";
}

namespace {

// Python's \s for one (possibly multi-byte) character at text[pos]; returns its
// byte length, or 0 when it is not whitespace.
size_t space_at(std::string_view text, size_t pos) {
  const unsigned char c = static_cast<unsigned char>(text[pos]);
  if (c < 0x80) return is_py_space(c) ? 1 : 0;
  size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
  if (pos + len > text.size()) return 0;
  std::u32string cps = decode_utf8(text.substr(pos, len));
  return cps.size() == 1 && is_py_space(cps[0]) ? len : 0;
}

size_t skip_spaces(std::string_view text, size_t pos) {
  while (pos < text.size()) {
    size_t n = space_at(text, pos);
    if (n == 0) break;
    pos += n;
  }
  return pos;
}

// str.rstrip() with Python's whitespace.
std::string_view rstrip_spaces(std::string_view text) {
  std::u32string cps = decode_utf8(text);
  size_t keep = cps.size();
  while (keep > 0 && is_py_space(cps[keep - 1])) --keep;
  size_t bytes = encode_utf8(std::u32string_view(cps).substr(0, keep)).size();
  return text.substr(0, bytes);
}

bool all_spaces(std::string_view text) {
  if (text.empty()) return false;
  for (char32_t cp : decode_utf8(text)) {
    if (!is_py_space(cp)) return false;
  }
  return true;
}

bool is_name_start(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool is_name_char(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }

// Python's "unicode_escape" decoding of a string literal's body.
Result<std::string> unescape(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 >= body.size()) {
      out.push_back(body[i]);
      continue;
    }
    const char e = body[++i];
    auto hex = [&](int digits) -> Result<char32_t> {
      if (i + digits >= body.size())
        return error("truncated \\{}{} escape in string literal", e, std::string(digits, 'X'));
      char32_t v = 0;
      for (int k = 1; k <= digits; ++k) {
        const char h = body[i + k];
        if (!std::isxdigit(static_cast<unsigned char>(h)))
          return error("truncated \\{}{} escape in string literal", e, std::string(digits, 'X'));
        v = v * 16 + static_cast<char32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
      }
      i += digits;
      return v;
    };
    switch (e) {
      case '\n': break;  // line continuation
      case '\\': out.push_back('\\'); break;
      case '\'': out.push_back('\''); break;
      case '"': out.push_back('"'); break;
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case 'x': {
        DSINFER_ASSIGN_OR_RETURN(char32_t cp, hex(2));
        append_utf8(out, cp);
        break;
      }
      case 'u': {
        DSINFER_ASSIGN_OR_RETURN(char32_t cp, hex(4));
        append_utf8(out, cp);
        break;
      }
      case 'U': {
        DSINFER_ASSIGN_OR_RETURN(char32_t cp, hex(8));
        if (cp > 0x10FFFF) return error("illegal Unicode character in \\U escape");
        append_utf8(out, cp);
        break;
      }
      case 'N':
        return error("\\N{{...}} escapes are not supported in string literals");
      default:
        if (e >= '0' && e <= '7') {
          char32_t v = e - '0';
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7'; ++k)
            v = v * 8 + static_cast<char32_t>(body[++i] - '0');
          append_utf8(out, v);
        } else {
          out.push_back('\\');  // unknown escapes keep their backslash
          out.push_back(e);
        }
    }
  }
  return out;
}

// Removes '_' separators from a numeric literal.
std::string digits_only(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c != '_') out.push_back(c);
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(const SourceText& source) : source_(source), text_(source.text()) {}

  Result<std::vector<Token>> run() {
    bool line_starting = true;  // the previous token ended a line (or we are at the start)
    while (pos_ < text_.size()) {
      const size_t tag = find_tag(pos_);
      if (tag == std::string_view::npos) {
        push_data(text_.substr(pos_), pos_);
        pos_ = text_.size();
        break;
      }
      const char kind = text_[tag + 1];
      char sign = 0;
      if (tag + 2 < text_.size() && (text_[tag + 2] == '-' || text_[tag + 2] == '+')) sign = text_[tag + 2];
      std::string_view before = text_.substr(pos_, tag - pos_);
      if (sign == '-') {
        before = rstrip_spaces(before);
      } else if (sign != '+' && kind != '{') {
        // lstrip_blocks: drop the indentation before a block or comment tag that
        // starts its line.
        const size_t line_pos = before.rfind('\n') == std::string_view::npos ? 0 : before.rfind('\n') + 1;
        if ((line_pos > 0 || line_starting) && all_spaces(before.substr(line_pos)))
          before = before.substr(0, line_pos);
      }
      push_data(before, pos_);
      pos_ = tag + 2 + (sign ? 1 : 0);
      if (kind == '#') {
        DSINFER_RETURN_IF_ERROR(skip_comment(tag, line_starting));
      } else if (kind == '%' && is_raw_begin()) {
        DSINFER_RETURN_IF_ERROR(lex_raw(tag, line_starting));
      } else {
        DSINFER_RETURN_IF_ERROR(lex_tag(kind == '%', tag, line_starting));
      }
    }
    tokens_.push_back(Token{TokenType::kEof, "", 0, 0.0, text_.size()});
    return std::move(tokens_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t i = text_.find('{', from); i != std::string_view::npos; i = text_.find('{', i + 1)) {
      if (i + 1 < text_.size() && (text_[i + 1] == '{' || text_[i + 1] == '%' || text_[i + 1] == '#')) return i;
    }
    return std::string_view::npos;
  }

  void push_data(std::string_view data, size_t offset) {
    if (!data.empty()) tokens_.push_back(Token{TokenType::kData, std::string(data), 0, 0.0, offset});
  }

  // Consumes what follows a closing tag: "-" strips all whitespace, "+" keeps it,
  // and otherwise trim_blocks removes one newline (for block and comment tags).
  void after_close(char sign, bool trim, bool& line_starting) {
    char last = '}';
    if (sign == '-') {
      const size_t end = skip_spaces(text_, pos_);
      if (end > pos_) last = text_[end - 1];
      pos_ = end;
    } else if (sign == 0 && trim && pos_ < text_.size() && text_[pos_] == '\n') {
      last = '\n';
      ++pos_;
    }
    line_starting = last == '\n';
  }

  Status skip_comment(size_t tag, bool& line_starting) {
    for (size_t i = pos_; i + 1 < text_.size(); ++i) {
      char sign = 0;
      if ((text_[i] == '-' || text_[i] == '+') && text_.compare(i + 1, 2, "#}") == 0) {
        sign = text_[i];
      } else if (text_.compare(i, 2, "#}") != 0) {
        continue;
      }
      pos_ = i + (sign ? 3 : 2);
      after_close(sign, true, line_starting);
      return Status::ok();
    }
    return error("missing end of comment tag{}", source_.where(tag));
  }

  // {% raw %} ... {% endraw %}: the text in between is data, untouched.
  bool is_raw_begin() {
    size_t p = skip_spaces(text_, pos_);
    if (text_.compare(p, 3, "raw") != 0) return false;
    p = skip_spaces(text_, p + 3);
    if (text_.compare(p, 3, "-%}") == 0) {
      raw_body_start_ = skip_spaces(text_, p + 3);
      return true;
    }
    if (text_.compare(p, 2, "%}") == 0) {
      raw_body_start_ = p + 2;
      return true;
    }
    return false;
  }

  Status lex_raw(size_t tag, bool& line_starting) {
    for (size_t i = text_.find("{%", raw_body_start_); i != std::string_view::npos; i = text_.find("{%", i + 1)) {
      size_t p = i + 2;
      char sign = 0;
      if (p < text_.size() && (text_[p] == '-' || text_[p] == '+')) sign = text_[p++];
      p = skip_spaces(text_, p);
      if (text_.compare(p, 6, "endraw") != 0) continue;
      p = skip_spaces(text_, p + 6);
      char close_sign = 0;
      if (p < text_.size() && (text_[p] == '-' || text_[p] == '+')) close_sign = text_[p++];
      if (text_.compare(p, 2, "%}") != 0) continue;
      std::string_view body = text_.substr(raw_body_start_, i - raw_body_start_);
      if (sign == '-') {
        body = rstrip_spaces(body);
      } else if (sign != '+') {
        const size_t line_pos = body.rfind('\n') == std::string_view::npos ? 0 : body.rfind('\n') + 1;
        if (line_pos > 0 && all_spaces(body.substr(line_pos))) body = body.substr(0, line_pos);
      }
      push_data(body, raw_body_start_);
      pos_ = p + 2;
      after_close(close_sign, true, line_starting);
      return Status::ok();
    }
    return error("missing end of raw directive{}", source_.where(tag));
  }

  Status lex_tag(bool block, size_t tag, bool& line_starting) {
    tokens_.push_back(Token{block ? TokenType::kBlockBegin : TokenType::kVariableBegin, "", 0, 0.0, tag});
    std::vector<char> balance;  // closing brackets expected, innermost last
    while (true) {
      if (pos_ >= text_.size()) {
        return error("unexpected end of template, expected '{}'{}", block ? "%}" : "}}", source_.where(tag));
      }
      if (balance.empty() && try_close(block, line_starting)) return Status::ok();
      const size_t spaces_end = skip_spaces(text_, pos_);
      if (spaces_end > pos_) {
        pos_ = spaces_end;
        continue;
      }
      DSINFER_RETURN_IF_ERROR(lex_token(balance));
    }
  }

  bool try_close(bool block, bool& line_starting) {
    const char* close = block ? "%}" : "}}";
    if (block && text_.compare(pos_, 3, "+%}") == 0) {
      push_close(block, 3);
      after_close('+', true, line_starting);
      return true;
    }
    if (text_[pos_] == '-' && text_.compare(pos_ + 1, 2, close) == 0) {
      push_close(block, 3);
      after_close('-', block, line_starting);
      return true;
    }
    if (text_.compare(pos_, 2, close) == 0) {
      push_close(block, 2);
      after_close(0, block, line_starting);
      return true;
    }
    return false;
  }

  void push_close(bool block, size_t length) {
    tokens_.push_back(Token{block ? TokenType::kBlockEnd : TokenType::kVariableEnd, "", 0, 0.0, pos_});
    pos_ += length;
  }

  Status lex_token(std::vector<char>& balance) {
    const size_t start = pos_;
    const unsigned char c = static_cast<unsigned char>(text_[pos_]);
    if (std::isdigit(c)) return lex_number();
    if (is_name_start(c)) {
      size_t end = pos_ + 1;
      while (end < text_.size() && is_name_char(static_cast<unsigned char>(text_[end]))) ++end;
      tokens_.push_back(Token{TokenType::kName, std::string(text_.substr(pos_, end - pos_)), 0, 0.0, start});
      pos_ = end;
      return Status::ok();
    }
    if (c == '\'' || c == '"') return lex_string();
    static constexpr std::string_view kTwoCharOps[] = {"//", "**", "==", "!=", ">=", "<="};
    for (std::string_view op : kTwoCharOps) {
      if (text_.compare(pos_, 2, op) == 0) {
        tokens_.push_back(Token{TokenType::kOperator, std::string(op), 0, 0.0, start});
        pos_ += 2;
        return Status::ok();
      }
    }
    static constexpr std::string_view kOneCharOps = "+-/*%~[](){}<>=.:|,;";
    if (kOneCharOps.find(static_cast<char>(c)) == std::string_view::npos) {
      return error("unexpected char '{}'{}", static_cast<char>(c), source_.where(start));
    }
    if (c == '(' || c == '[' || c == '{') {
      balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) return error("unexpected '{}'{}", static_cast<char>(c), source_.where(start));
      if (balance.back() != static_cast<char>(c))
        return error("unexpected '{}', expected '{}'{}", static_cast<char>(c), balance.back(), source_.where(start));
      balance.pop_back();
    }
    tokens_.push_back(Token{TokenType::kOperator, std::string(1, static_cast<char>(c)), 0, 0.0, start});
    ++pos_;
    return Status::ok();
  }

  Status lex_string() {
    const size_t start = pos_;
    const char quote = text_[pos_];
    size_t i = pos_ + 1;
    while (i < text_.size() && text_[i] != quote) {
      if (text_[i] == '\\') ++i;
      ++i;
    }
    if (i >= text_.size()) return error("unterminated string literal{}", source_.where(start));
    auto value = unescape(text_.substr(start + 1, i - start - 1));
    if (!value.is_ok()) return error("{}{}", value.status().message(), source_.where(start));
    tokens_.push_back(Token{TokenType::kString, std::move(value).value(), 0, 0.0, start});
    pos_ = i + 1;
    return Status::ok();
  }

  size_t digits_end(size_t p) const {
    auto is_digit = [](unsigned char ch) { return std::isdigit(ch) != 0; };
    // (\d+_)*\d+ : digits with single underscores between them
    size_t end = p;
    while (end < text_.size()) {
      if (is_digit(static_cast<unsigned char>(text_[end]))) {
        ++end;
      } else if (text_[end] == '_' && end > p && end + 1 < text_.size() &&
                 is_digit(static_cast<unsigned char>(text_[end + 1]))) {
        ++end;
      } else {
        break;
      }
    }
    return end;
  }

  Status lex_number() {
    const size_t start = pos_;
    // Float: digits, then a fraction and/or exponent; not right after a '.'
    // (so that `x.0.1` is two subscripts, as in Jinja).
    const bool after_dot = start > 0 && text_[start - 1] == '.';
    if (!after_dot) {
      size_t p = digits_end(start);
      bool has_fraction = false, has_exponent = false;
      size_t q = p;
      if (q < text_.size() && text_[q] == '.' && q + 1 < text_.size() && std::isdigit(static_cast<unsigned char>(text_[q + 1]))) {
        q = digits_end(q + 1);
        has_fraction = true;
      }
      size_t r = q;
      if (r < text_.size() && (text_[r] == 'e' || text_[r] == 'E')) {
        size_t s = r + 1;
        if (s < text_.size() && (text_[s] == '+' || text_[s] == '-')) ++s;
        if (s < text_.size() && std::isdigit(static_cast<unsigned char>(text_[s]))) {
          r = digits_end(s);
          has_exponent = true;
        }
      }
      if (has_fraction || has_exponent) {
        const size_t end = has_exponent ? r : q;
        const std::string literal = digits_only(text_.substr(start, end - start));
        tokens_.push_back(Token{TokenType::kFloat, literal, 0, std::strtod(literal.c_str(), nullptr), start});
        pos_ = end;
        return Status::ok();
      }
    }
    // Integer, as Jinja's integer_re: 0b/0o/0x with (_?digit)+, [1-9](_?\d)*, or 0(_?0)*.
    int base = 10;
    size_t p = start;
    if (text_[p] == '0' && p + 1 < text_.size()) {
      const char x = static_cast<char>(std::tolower(static_cast<unsigned char>(text_[p + 1])));
      if (x == 'b' || x == 'o' || x == 'x') {
        base = x == 'b' ? 2 : x == 'o' ? 8 : 16;
        p += 2;
      }
    }
    auto digit_value = [](char ch) {
      const unsigned char u = static_cast<unsigned char>(ch);
      return std::isdigit(u) ? ch - '0' : std::isxdigit(u) ? std::tolower(u) - 'a' + 10 : 99;
    };
    const bool zero_run = base == 10 && text_[start] == '0';
    auto accepts = [&](char ch) { return zero_run ? ch == '0' : digit_value(ch) < base; };
    std::string digits;
    size_t end = p;
    if (base == 10) digits.push_back(text_[end++]);  // the leading digit, no '_' before it
    while (end < text_.size()) {
      size_t q = end;
      if (text_[q] == '_') ++q;
      if (q >= text_.size() || !accepts(text_[q])) break;
      digits.push_back(text_[q]);
      end = q + 1;
    }
    if (digits.empty()) return error("invalid number literal{}", source_.where(start));
    errno = 0;
    char* parse_end = nullptr;
    const long long v = std::strtoll(digits.c_str(), &parse_end, base);
    if (errno == ERANGE) return error("integer literal too large{}", source_.where(start));
    tokens_.push_back(Token{TokenType::kInteger, std::string(text_.substr(start, end - start)), v, 0.0, start});
    pos_ = end;
    return Status::ok();
  }

  const SourceText& source_;
  std::string_view text_;
  size_t pos_ = 0;
  size_t raw_body_start_ = 0;
  std::vector<Token> tokens_;
};

}  // namespace

Result<std::vector<Token>> tokenize(const SourceText& source) { return Lexer(source).run(); }

}  // namespace dsinfer::jinja
