#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace dsinfer {
namespace {

// Code points each general category gained between PCRE2's Unicode tables (14.0) and
// Hugging Face tokenizers' (16.0), as PCRE2 class ranges.
struct CategoryDelta {
  std::string_view category;
  std::string_view ranges;
};
constexpr CategoryDelta kUnicodeDelta[] = {
#include "tokenizer/unicode_delta.inc"
};

std::string_view delta_for(std::string_view category) {
  for (const CategoryDelta& d : kUnicodeDelta)
    if (d.category == category) return d.ranges;
  return {};
}

// Oniguruma accepts general categories by short or long name, in any case, with spaces,
// hyphens and underscores ignored. Returns the short name, or "" for other properties
// (scripts and the like), which pass through to PCRE2 unchanged.
std::string_view general_category(std::string_view name) {
  std::string key;
  for (char c : name)
    if (c != ' ' && c != '_' && c != '-') key.push_back(char(std::tolower(static_cast<unsigned char>(c))));
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"l", "L"}, {"letter", "L"}, {"lu", "Lu"}, {"uppercaseletter", "Lu"}, {"ll", "Ll"},
      {"lowercaseletter", "Ll"}, {"lt", "Lt"}, {"titlecaseletter", "Lt"}, {"lm", "Lm"},
      {"modifierletter", "Lm"}, {"lo", "Lo"}, {"otherletter", "Lo"}, {"m", "M"}, {"mark", "M"},
      {"combiningmark", "M"}, {"mn", "Mn"}, {"nonspacingmark", "Mn"}, {"mc", "Mc"},
      {"spacingmark", "Mc"}, {"me", "Me"}, {"enclosingmark", "Me"}, {"n", "N"}, {"number", "N"},
      {"nd", "Nd"}, {"decimalnumber", "Nd"}, {"nl", "Nl"}, {"letternumber", "Nl"}, {"no", "No"},
      {"othernumber", "No"}, {"p", "P"}, {"punctuation", "P"}, {"pc", "Pc"},
      {"connectorpunctuation", "Pc"}, {"pd", "Pd"}, {"dashpunctuation", "Pd"}, {"ps", "Ps"},
      {"openpunctuation", "Ps"}, {"pe", "Pe"}, {"closepunctuation", "Pe"}, {"pi", "Pi"},
      {"initialpunctuation", "Pi"}, {"pf", "Pf"}, {"finalpunctuation", "Pf"}, {"po", "Po"},
      {"otherpunctuation", "Po"}, {"s", "S"}, {"symbol", "S"}, {"sm", "Sm"}, {"mathsymbol", "Sm"},
      {"sc", "Sc"}, {"currencysymbol", "Sc"}, {"sk", "Sk"}, {"modifiersymbol", "Sk"}, {"so", "So"},
      {"othersymbol", "So"}, {"z", "Z"}, {"separator", "Z"}, {"zs", "Zs"}, {"spaceseparator", "Zs"},
      {"zl", "Zl"}, {"lineseparator", "Zl"}, {"zp", "Zp"}, {"paragraphseparator", "Zp"},
  };
  for (const auto& [loose, short_name] : kNames)
    if (key == loose) return short_name;
  return {};
}

// The class items (without brackets) for a category with its delta.
std::string category_items(std::string_view category) {
  return "\\p{" + std::string(category) + "}" + std::string(delta_for(category));
}

// Oniguruma's \w (Unicode): Letter | Mark | Number | Connector_Punctuation.
std::string word_items() {
  return category_items("L") + category_items("M") + category_items("N") + category_items("Pc");
}

// Oniguruma's \s (Unicode): U+0009..U+000D, U+0085 and the Z categories. PCRE2's \s with
// UCP lacks only U+0085.
constexpr std::string_view kSpaceItems = "\\s\\x{85}";

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

}  // namespace

namespace {

// A character class being translated: PCRE2 class items, plus sets that can only be
// written as a complement (Oniguruma's \S, \W, \D, \H, \P{..} inside a class), which
// PCRE2 cannot put inside brackets with the new code points. Such a class is emitted as
// an alternation or lookahead over single characters instead.
struct ClassSet {
  std::string items;
  std::vector<std::string> complements;  // each a full PCRE2 class like [^\s\x{85}]
};

std::string emit_class(bool negated, const ClassSet& set) {
  if (set.complements.empty()) return (negated ? "[^" : "[") + set.items + "]";
  std::string out = "(?:";
  if (!negated) {
    if (!set.items.empty()) out += "[" + set.items + "]|";
    for (size_t k = 0; k < set.complements.size(); ++k) out += (k ? "|" : "") + set.complements[k];
  } else {
    // One character in none of the parts.
    for (const std::string& c : set.complements) out += "(?!" + c + ")";
    out += set.items.empty() ? "(?s:.)" : "[^" + set.items + "]";
  }
  return out + ")";
}

class OnigTranslator {
 public:
  explicit OnigTranslator(std::string_view pattern) : p_(pattern) {}

  Result<std::string> run() {
    std::string out;
    out.reserve(p_.size() * 2);
    while (i_ < p_.size()) {
      const char c = p_[i_];
      if (c == '\\') {
        ClassSet set;
        std::string literal;
        DSINFER_RETURN_IF_ERROR(escape(set, literal));
        if (!literal.empty()) {
          out += literal;
        } else {
          out += emit_class(false, set);
        }
      } else if (c == '[') {
        DSINFER_ASSIGN_OR_RETURN(std::string cls, character_class());
        out += cls;
      } else if (c == '(' && inline_options(out)) {
        // handled
      } else {
        out += c;
        ++i_;
      }
    }
    return out;
  }

 private:
  Status unsupported(std::string_view what) const {
    return error("regex \"{}\": {} is not supported", p_, what);
  }

  // At a backslash. Class-like escapes add to `set`; anything else is returned in
  // `literal` as PCRE2 text.
  Status escape(ClassSet& set, std::string& literal) {
    if (i_ + 1 >= p_.size()) return error("regex \"{}\": ends with a lone backslash", p_);
    const char d = p_[i_ + 1];
    i_ += 2;
    switch (d) {
      case 's': set.items += kSpaceItems; return Status::ok();
      case 'S': set.complements.push_back("[^" + std::string(kSpaceItems) + "]"); return Status::ok();
      case 'h': set.items += "0-9a-fA-F"; return Status::ok();  // Oniguruma: hex digit
      case 'H': set.complements.push_back("[^0-9a-fA-F]"); return Status::ok();
      case 'w': set.items += word_items(); return Status::ok();
      case 'W': set.complements.push_back("[^" + word_items() + "]"); return Status::ok();
      case 'd': set.items += category_items("Nd"); return Status::ok();
      case 'D': set.complements.push_back("[^" + category_items("Nd") + "]"); return Status::ok();
      case 'v': set.items += "\\x{0B}"; return Status::ok();  // Oniguruma: the VT character
      case 'u': {                                             // Oniguruma: \uHHHH
        if (i_ + 4 > p_.size() || !std::all_of(p_.begin() + i_, p_.begin() + i_ + 4, is_hex))
          return error("regex \"{}\": \\u must be followed by four hex digits", p_);
        set.items += "\\x{" + std::string(p_.substr(i_, 4)) + "}";
        i_ += 4;
        return Status::ok();
      }
      case 'p':
      case 'P': {
        if (i_ >= p_.size() || p_[i_] != '{') {  // \pL: one-letter name
          set.items += std::string("\\") + d;
          if (i_ < p_.size()) set.items += p_[i_++];
          return Status::ok();
        }
        const size_t close = p_.find('}', i_);
        if (close == std::string_view::npos) return error("regex \"{}\": unterminated \\{}{{", p_, d);
        std::string_view name = p_.substr(i_ + 1, close - i_ - 1);
        i_ = close + 1;
        bool negated = d == 'P';
        if (name.starts_with('^')) {
          negated = !negated;
          name.remove_prefix(1);
        }
        const std::string_view category = general_category(name);
        if (category.empty()) {  // a script or other property: PCRE2 reads it itself
          set.items += (negated ? "\\P{" : "\\p{") + std::string(name) + "}";
        } else if (!negated) {
          set.items += category_items(category);
        } else if (delta_for(category).empty()) {
          set.items += "\\P{" + std::string(category) + "}";
        } else {
          set.complements.push_back("[^" + category_items(category) + "]");
        }
        return Status::ok();
      }
      default:
        literal = std::string("\\") + d;
        return Status::ok();
    }
  }

  // A class, as PCRE2 text that matches one character. Oniguruma's nested classes are
  // unions (`[a[bc]]`) and `&&` intersects everything before it with everything after
  // (`[\p{L}&&[^\p{Han}]]`, as Kimi K2's pre-tokenizer writes letters other than Han);
  // PCRE2 10.42 has neither, so a nested class joins the alternatives and an intersection
  // becomes lookaheads for all operands but the last, which consumes the character.
  Result<std::string> character_class() {
    ++i_;  // '['
    bool negated = false;
    ClassSet set;
    std::vector<std::string> operands;  // of &&, each matching one character
    if (i_ < p_.size() && p_[i_] == '^') {
      negated = true;
      ++i_;
    }
    if (i_ < p_.size() && p_[i_] == ']') {  // a leading ']' is a literal
      set.items += "\\]";
      ++i_;
    }
    while (true) {
      if (i_ >= p_.size()) return error("regex \"{}\": unterminated character class", p_);
      const char c = p_[i_];
      if (c == ']') {
        ++i_;
        break;
      }
      if (c == '\\') {
        std::string literal;
        DSINFER_RETURN_IF_ERROR(escape(set, literal));
        set.items += literal;
      } else if (c == '[') {
        if (i_ + 1 < p_.size() && p_[i_ + 1] == ':') {  // POSIX bracket [:alpha:]
          const size_t close = p_.find(":]", i_ + 2);
          if (close == std::string_view::npos) return error("regex \"{}\": unterminated [: :]", p_);
          set.items.append(p_.substr(i_, close + 2 - i_));
          i_ = close + 2;
        } else {
          if (++depth_ > kMaxClassDepth) return unsupported("character classes nested this deep");
          DSINFER_ASSIGN_OR_RETURN(std::string nested, character_class());
          --depth_;
          set.complements.push_back(std::move(nested));
        }
      } else if (c == '&' && i_ + 1 < p_.size() && p_[i_ + 1] == '&') {
        if (set.items.empty() && set.complements.empty()) return unsupported("an empty operand of && in a class");
        operands.push_back(emit_class(false, set));
        set = ClassSet{};
        i_ += 2;
      } else {
        set.items += c;
        ++i_;
      }
    }
    if (operands.empty()) return emit_class(negated, set);
    if (set.items.empty() && set.complements.empty()) return unsupported("an empty operand of && in a class");
    std::string both = "(?:";
    for (const std::string& operand : operands) both += "(?=" + operand + ")";
    both += emit_class(false, set) + ")";
    return negated ? "(?:(?!" + both + ")(?s:.))" : both;
  }

  // Inline options (?imx-imx) or (?imx-imx:...). Oniguruma's 'm' is PCRE2's 's'.
  bool inline_options(std::string& out) {
    if (i_ + 2 >= p_.size() || p_[i_ + 1] != '?') return false;
    size_t j = i_ + 2;
    std::string options;
    while (j < p_.size() && (std::isalpha(static_cast<unsigned char>(p_[j])) || p_[j] == '-')) options += p_[j++];
    if (options.empty() || j >= p_.size() || (p_[j] != ')' && p_[j] != ':')) return false;
    std::string translated = "(?";
    for (char o : options) {
      if (o == 'm') {
        translated += 's';
      } else if (o == 'i' || o == 'x' || o == '-') {
        translated += o;
      } else {
        bad_option_ = o;  // reported as unsupported below
        translated += o;  // PCRE2 rejects it, naming the pattern
      }
    }
    out += translated;
    i_ = j;
    return true;
  }

  // Nested classes recurse; a hostile pattern must not exhaust the stack.
  static constexpr int kMaxClassDepth = 16;
  std::string_view p_;
  size_t i_ = 0;
  int depth_ = 0;
  char bad_option_ = 0;

 public:
  char bad_option() const { return bad_option_; }
};

}  // namespace

Result<std::string> translate_onig_pattern(std::string_view p) {
  OnigTranslator translator(p);
  auto out = translator.run();
  if (out.is_ok() && translator.bad_option())
    return error("regex \"{}\": inline option '{}' is not supported", p, translator.bad_option());
  return out;
}

// ---------------------------------------------------------------------------------------

RegexScratch::RegexScratch() {
  // One ovector pair is enough: only the whole match is used.
  match_data_ = pcre2_match_data_create(1, nullptr);
  context_ = pcre2_match_context_create(nullptr);
  // Long inputs (a megabyte of letters) need more than the default 32 KiB JIT stack.
  jit_stack_ = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  if (context_ && jit_stack_) pcre2_jit_stack_assign(context_, nullptr, jit_stack_);
}

RegexScratch::~RegexScratch() {
  pcre2_match_data_free(match_data_);
  pcre2_match_context_free(context_);
  pcre2_jit_stack_free(jit_stack_);
}

RegexScratch::RegexScratch(RegexScratch&& other) noexcept
    : match_data_(std::exchange(other.match_data_, nullptr)),
      context_(std::exchange(other.context_, nullptr)),
      jit_stack_(std::exchange(other.jit_stack_, nullptr)) {}

RegexScratch& RegexScratch::operator=(RegexScratch&& other) noexcept {
  std::swap(match_data_, other.match_data_);
  std::swap(context_, other.context_);
  std::swap(jit_stack_, other.jit_stack_);
  return *this;
}

void Regex::CodeDeleter::operator()(pcre2_real_code_8* code) const { pcre2_code_free(code); }

std::string Regex::error_text(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof(buffer)) < 0) return fmt::format("PCRE2 error {}", code);
  return reinterpret_cast<const char*>(buffer);
}

Result<Regex> Regex::compile(const std::string& pcre_pattern, bool literal, std::string_view shown) {
  // Oniguruma (Ruby syntax): ^ and $ match at every line break; '.' excludes only '\n'.
  // (PCRE2_LITERAL admits no other pattern options besides UTF.)
  const uint32_t options = literal ? PCRE2_UTF | PCRE2_LITERAL : PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE;
  pcre2_compile_context* context = pcre2_compile_context_create(nullptr);
  if (!context) return error("regex \"{}\": out of memory", shown);
  pcre2_set_newline(context, PCRE2_NEWLINE_LF);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pcre_pattern.data()), pcre_pattern.size(),
                                   options, &error_code, &error_offset, context);
  pcre2_compile_context_free(context);
  if (!code) return error("regex \"{}\": {} (at offset {})", shown, error_text(error_code), error_offset);
  Regex regex;
  regex.code_.reset(code);
  regex.jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return regex;
}

Result<Regex> Regex::compile_onig(std::string_view pattern) {
  DSINFER_ASSIGN_OR_RETURN(std::string translated, translate_onig_pattern(pattern));
  return compile(translated, /*literal=*/false, pattern);
}

Result<Regex> Regex::compile_literal(std::string_view text) {
  return compile(std::string(text), /*literal=*/true, text);
}

Regex::Found Regex::find(std::string_view subject, size_t start, RegexScratch& scratch, size_t& begin,
                         size_t& end) const {
  const auto* data = reinterpret_cast<PCRE2_SPTR>(subject.data());
  int rc;
  if (jit_) {
    rc = pcre2_jit_match(code_.get(), data, subject.size(), start, 0, scratch.match_data_, scratch.context_);
  } else {
    rc = pcre2_match(code_.get(), data, subject.size(), start, PCRE2_NO_UTF_CHECK, scratch.match_data_,
                     scratch.context_);
  }
  if (rc == PCRE2_ERROR_NOMATCH) return Found::kNone;
  if (rc < 0) {
    begin = size_t(rc);
    return Found::kError;
  }
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.match_data_);
  begin = ovector[0];
  end = ovector[1];
  return Found::kMatch;
}

}  // namespace dsinfer
