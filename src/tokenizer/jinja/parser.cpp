#include "tokenizer/jinja/parser.h"

#include <initializer_list>

namespace dsinfer::jinja {
namespace {

// Tags Jinja2 has that this interpreter does not implement.
bool is_unsupported_tag(std::string_view name) {
  for (std::string_view tag : {"call", "block", "extends", "include", "import", "from", "with",
                               "autoescape", "trans", "pluralize", "do", "endmacro", "endcall"}) {
    if (name == tag) return true;
  }
  return false;
}

class Parser {
 public:
  Parser(const SourceText& source, std::vector<Token> tokens) : source_(source), tokens_(std::move(tokens)) {}

  Result<Body> parse_all() {
    Body body;
    DSINFER_RETURN_IF_ERROR(parse_body({}, body));
    if (current().type != TokenType::kEof) return fail("unexpected " + describe(current()), current());
    return body;
  }

 private:
  // --- token stream ---------------------------------------------------------
  const Token& current() const { return tokens_[pos_]; }
  const Token& peek(size_t n = 1) const { return tokens_[std::min(pos_ + n, tokens_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }
  bool skip_op(std::string_view op) {
    if (!current().is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!current().is_name(name)) return false;
    advance();
    return true;
  }
  Status fail(const std::string& message, const Token& at) const {
    return Status::error(message + source_.where(at.offset));
  }
  Status expect_op(std::string_view op) {
    if (skip_op(op)) return Status::ok();
    return fail("expected '" + std::string(op) + "', got " + describe(current()), current());
  }
  Status expect_block_end() {
    if (current().type == TokenType::kBlockEnd) {
      advance();
      return Status::ok();
    }
    return fail("expected end of statement block, got " + describe(current()), current());
  }
  Result<std::string> expect_name() {
    if (current().type != TokenType::kName) return fail("expected a name, got " + describe(current()), current());
    std::string name = current().text;
    advance();
    return name;
  }

  // Counts nesting so hostile templates cannot exhaust the stack.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser& p) : p_(p) { ++p_.depth_; }
    ~DepthGuard() { --p_.depth_; }
    bool too_deep() const { return p_.depth_ > kMaxNesting; }

   private:
    Parser& p_;
  };
  Status too_deep() const { return fail("template nests too deeply", current()); }

  // --- statements -------------------------------------------------------------

  // Parses until EOF or a block tag whose name is in `end_tags` (left unconsumed:
  // the stream stays on that name, after the {%).
  Status parse_body(std::initializer_list<std::string_view> end_tags, Body& body) {
    DepthGuard guard(*this);
    if (guard.too_deep()) return too_deep();
    while (true) {
      const Token& token = current();
      switch (token.type) {
        case TokenType::kEof:
          return Status::ok();
        case TokenType::kData: {
          auto stmt = make_stmt(StmtKind::kText, token.offset);
          stmt->text = token.text;
          body.push_back(std::move(stmt));
          advance();
          break;
        }
        case TokenType::kVariableBegin: {
          advance();
          auto stmt = make_stmt(StmtKind::kPrint, token.offset);
          DSINFER_ASSIGN_OR_RETURN(stmt->expr, parse_tuple(false, true, {}, false));
          if (current().type != TokenType::kVariableEnd)
            return fail("expected end of print statement, got " + describe(current()), current());
          advance();
          body.push_back(std::move(stmt));
          break;
        }
        case TokenType::kBlockBegin: {
          const Token& name = peek();
          if (name.type != TokenType::kName) return fail("tag name expected", name);
          for (std::string_view end : end_tags) {
            if (name.text == end) {
              advance();  // now on the tag name
              return Status::ok();
            }
          }
          advance();
          DSINFER_RETURN_IF_ERROR(parse_statement(body));
          break;
        }
        default:
          return fail("unexpected " + describe(token), token);
      }
    }
  }

  static StmtPtr make_stmt(StmtKind kind, size_t offset) {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = kind;
    stmt->offset = offset;
    return stmt;
  }

  // Requires the body to have stopped on one of `end_tags` (not EOF).
  Status parse_block_body(std::string_view opener, const Token& open_token,
                          std::initializer_list<std::string_view> end_tags, Body& body) {
    DSINFER_RETURN_IF_ERROR(parse_body(end_tags, body));
    if (current().type == TokenType::kEof) {
      std::string expected;
      for (std::string_view tag : end_tags) {
        if (!expected.empty()) expected += " or ";
        expected += "'" + std::string(tag) + "'";
      }
      return fail("unclosed '" + std::string(opener) + "' block: reached the end of the template looking for " +
                      expected,
                  open_token);
    }
    return Status::ok();
  }

  // The stream is on the tag name, after {%.
  Status parse_statement(Body& body) {
    const Token tag = current();
    const std::string& name = tag.text;
    if (name == "if") return parse_if(body);
    if (name == "for") return parse_for(body);
    if (name == "set") return parse_set(body);
    if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) return fail("'" + name + "' outside of a loop", tag);
      advance();
      DSINFER_RETURN_IF_ERROR(expect_block_end());
      body.push_back(make_stmt(name == "break" ? StmtKind::kBreak : StmtKind::kContinue, tag.offset));
      return Status::ok();
    }
    if (name == "filter") return parse_filter_block(body);
    if (name == "generation") return parse_generation(body);
    if (name == "macro") return parse_macro(body);
    if (name == "print") {
      advance();
      auto stmt = make_stmt(StmtKind::kPrint, tag.offset);
      DSINFER_ASSIGN_OR_RETURN(stmt->expr, parse_tuple(false, true, {}, false));
      DSINFER_RETURN_IF_ERROR(expect_block_end());
      body.push_back(std::move(stmt));
      return Status::ok();
    }
    if (is_unsupported_tag(name)) return fail("unsupported Jinja tag '" + name + "'", tag);
    return fail("unknown Jinja tag '" + name + "'", tag);
  }

  Status parse_if(Body& body) {
    const Token open = current();
    auto stmt = make_stmt(StmtKind::kIf, open.offset);
    advance();
    while (true) {
      DSINFER_ASSIGN_OR_RETURN(ExprPtr condition, parse_tuple(false, false, {}, false));
      DSINFER_RETURN_IF_ERROR(expect_block_end());
      Body branch;
      DSINFER_RETURN_IF_ERROR(parse_block_body("if", open, {"elif", "else", "endif"}, branch));
      stmt->branches.emplace_back(std::move(condition), std::move(branch));
      if (skip_name("elif")) continue;
      if (skip_name("else")) {
        DSINFER_RETURN_IF_ERROR(expect_block_end());
        DSINFER_RETURN_IF_ERROR(parse_block_body("if", open, {"endif"}, stmt->else_body));
      }
      break;
    }
    advance();  // endif
    DSINFER_RETURN_IF_ERROR(expect_block_end());
    body.push_back(std::move(stmt));
    return Status::ok();
  }

  Status parse_for(Body& body) {
    const Token open = current();
    auto stmt = make_stmt(StmtKind::kFor, open.offset);
    advance();
    DSINFER_ASSIGN_OR_RETURN(stmt->target, parse_target(false, {"in"}));
    if (!skip_name("in")) return fail("expected 'in', got " + describe(current()), current());
    DSINFER_ASSIGN_OR_RETURN(stmt->expr, parse_tuple(false, false, {"recursive"}, false));
    if (skip_name("if")) {
      DSINFER_ASSIGN_OR_RETURN(stmt->condition, parse_expression(true));
    }
    if (current().is_name("recursive")) return fail("unsupported Jinja feature 'recursive' loops", current());
    DSINFER_RETURN_IF_ERROR(expect_block_end());
    ++loop_depth_;
    Status status = parse_block_body("for", open, {"endfor", "else"}, stmt->body);
    --loop_depth_;  // {% break %} in a for's else block belongs to the outer loop
    DSINFER_RETURN_IF_ERROR(status);
    if (skip_name("else")) {
      DSINFER_RETURN_IF_ERROR(expect_block_end());
      DSINFER_RETURN_IF_ERROR(parse_block_body("for", open, {"endfor"}, stmt->else_body));
    }
    advance();  // endfor
    DSINFER_RETURN_IF_ERROR(expect_block_end());
    body.push_back(std::move(stmt));
    return Status::ok();
  }

  Status parse_set(Body& body) {
    const Token open = current();
    advance();
    DSINFER_ASSIGN_OR_RETURN(Target target, parse_target(true, {}));
    if (skip_op("=")) {
      auto stmt = make_stmt(StmtKind::kSet, open.offset);
      stmt->target = std::move(target);
      DSINFER_ASSIGN_OR_RETURN(stmt->expr, parse_tuple(false, true, {}, false));
      DSINFER_RETURN_IF_ERROR(expect_block_end());
      body.push_back(std::move(stmt));
      return Status::ok();
    }
    auto stmt = make_stmt(StmtKind::kSetBlock, open.offset);
    stmt->target = std::move(target);
    if (current().is_op("|")) {
      DSINFER_ASSIGN_OR_RETURN(stmt->expr, parse_filters(nullptr, false));
    }
    DSINFER_RETURN_IF_ERROR(expect_block_end());
    DSINFER_RETURN_IF_ERROR(parse_block_body("set", open, {"endset"}, stmt->body));
    advance();
    DSINFER_RETURN_IF_ERROR(expect_block_end());
    body.push_back(std::move(stmt));
    return Status::ok();
  }

  Status parse_filter_block(Body& body) {
    const Token open = current();
    advance();
    auto stmt = make_stmt(StmtKind::kFilterBlock, open.offset);
    DSINFER_ASSIGN_OR_RETURN(stmt->expr, parse_filters(nullptr, true));
    DSINFER_RETURN_IF_ERROR(expect_block_end());
    DSINFER_RETURN_IF_ERROR(parse_block_body("filter", open, {"endfilter"}, stmt->body));
    advance();
    DSINFER_RETURN_IF_ERROR(expect_block_end());
    body.push_back(std::move(stmt));
    return Status::ok();
  }

  // transformers' AssistantTracker extension: {% generation %} marks assistant
  // text for masks; rendering is unaffected.
  Status parse_generation(Body& body) {
    const Token open = current();
    advance();
    DSINFER_RETURN_IF_ERROR(expect_block_end());
    auto stmt = make_stmt(StmtKind::kScope, open.offset);
    DSINFER_RETURN_IF_ERROR(parse_block_body("generation", open, {"endgeneration"}, stmt->body));
    advance();
    DSINFER_RETURN_IF_ERROR(expect_block_end());
    body.push_back(std::move(stmt));
    return Status::ok();
  }

  // {% macro name(a, b=default) %}body{% endmacro %}
  Status parse_macro(Body& body) {
    const Token open = current();
    advance();
    auto stmt = make_stmt(StmtKind::kMacro, open.offset);
    DSINFER_ASSIGN_OR_RETURN(stmt->text, expect_name());
    DSINFER_RETURN_IF_ERROR(expect_op("("));
    while (!current().is_op(")")) {
      if (!stmt->params.empty()) DSINFER_RETURN_IF_ERROR(expect_op(","));
      if (current().is_op(")")) break;
      DSINFER_ASSIGN_OR_RETURN(std::string param, expect_name());
      ExprPtr fallback;
      if (skip_op("=")) {
        DSINFER_ASSIGN_OR_RETURN(fallback, parse_expression(true));
      } else if (!stmt->defaults.empty() && stmt->defaults.back()) {
        return fail("non-default argument follows default argument", current());
      }
      stmt->params.push_back(std::move(param));
      stmt->defaults.push_back(std::move(fallback));
    }
    DSINFER_RETURN_IF_ERROR(expect_op(")"));
    DSINFER_RETURN_IF_ERROR(expect_block_end());
    const int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;  // a loop around the definition is not a loop inside the macro
    Status status = parse_block_body("macro", open, {"endmacro"}, stmt->body);
    loop_depth_ = saved_loop_depth;
    DSINFER_RETURN_IF_ERROR(status);
    advance();
    DSINFER_RETURN_IF_ERROR(expect_block_end());
    body.push_back(std::move(stmt));
    return Status::ok();
  }

  // A name, a tuple of names (for unpacking), or with `allow_attribute` ns.attr.
  Result<Target> parse_target(bool allow_attribute, std::initializer_list<std::string_view> end_names) {
    Target target;
    target.offset = current().offset;
    if (allow_attribute && current().type == TokenType::kName && peek().is_op(".")) {
      target.kind = Target::Kind::kAttribute;
      target.name = current().text;
      advance();
      advance();
      DSINFER_ASSIGN_OR_RETURN(target.attribute, expect_name());
      return target;
    }
    std::vector<Target> items;
    bool is_tuple = false;
    while (true) {
      Target item;
      item.offset = current().offset;
      if (skip_op("(")) {
        DSINFER_ASSIGN_OR_RETURN(item, parse_target(false, {}));
        DSINFER_RETURN_IF_ERROR(expect_op(")"));
      } else {
        if (current().type != TokenType::kName)
          return fail("can't assign to " + describe(current()), current());
        item.name = current().text;
        if (item.name == "true" || item.name == "false" || item.name == "none" || item.name == "True" ||
            item.name == "False" || item.name == "None")
          return fail("can't assign to constant '" + item.name + "'", current());
        advance();
      }
      items.push_back(std::move(item));
      if (!skip_op(",")) break;
      is_tuple = true;
      bool at_end = current().type == TokenType::kBlockEnd || current().is_op("=") || current().is_op(")");
      for (std::string_view end : end_names) at_end = at_end || current().is_name(end);
      if (at_end) break;
    }
    if (!is_tuple) return std::move(items[0]);
    target.kind = Target::Kind::kTuple;
    target.items = std::move(items);
    return target;
  }

  // --- expressions (jinja2/parser.py, same precedence) ------------------------

  static ExprPtr make_expr(ExprKind kind, size_t offset) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->offset = offset;
    return e;
  }

  Result<ExprPtr> parse_expression(bool with_condexpr) {
    DepthGuard guard(*this);
    if (guard.too_deep()) return too_deep();
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  Result<ExprPtr> parse_condexpr() {
    const size_t offset = current().offset;
    DSINFER_ASSIGN_OR_RETURN(ExprPtr expr, parse_or());
    while (skip_name("if")) {
      auto cond = make_expr(ExprKind::kCondExpr, offset);
      DSINFER_ASSIGN_OR_RETURN(ExprPtr test, parse_or());
      ExprPtr otherwise;
      if (skip_name("else")) {
        DSINFER_ASSIGN_OR_RETURN(otherwise, parse_condexpr());
      }
      cond->children.push_back(std::move(test));
      cond->children.push_back(std::move(expr));
      cond->children.push_back(std::move(otherwise));
      expr = std::move(cond);
    }
    return expr;
  }

  Result<ExprPtr> parse_or() {
    DSINFER_ASSIGN_OR_RETURN(ExprPtr left, parse_and());
    while (current().is_name("or")) {
      const size_t offset = current().offset;
      advance();
      DSINFER_ASSIGN_OR_RETURN(ExprPtr right, parse_and());
      left = binary(ExprKind::kOr, offset, std::move(left), std::move(right));
    }
    return left;
  }

  Result<ExprPtr> parse_and() {
    DSINFER_ASSIGN_OR_RETURN(ExprPtr left, parse_not());
    while (current().is_name("and")) {
      const size_t offset = current().offset;
      advance();
      DSINFER_ASSIGN_OR_RETURN(ExprPtr right, parse_not());
      left = binary(ExprKind::kAnd, offset, std::move(left), std::move(right));
    }
    return left;
  }

  Result<ExprPtr> parse_not() {
    if (current().is_name("not")) {
      DepthGuard guard(*this);
      if (guard.too_deep()) return too_deep();
      auto e = make_expr(ExprKind::kNot, current().offset);
      advance();
      DSINFER_ASSIGN_OR_RETURN(ExprPtr operand, parse_not());
      e->children.push_back(std::move(operand));
      return e;
    }
    return parse_compare();
  }

  Result<ExprPtr> parse_compare() {
    const size_t offset = current().offset;
    DSINFER_ASSIGN_OR_RETURN(ExprPtr first, parse_math1());
    ExprPtr cmp;
    while (true) {
      CompareOp op;
      const Token& t = current();
      if (t.is_op("==")) op = CompareOp::kEq;
      else if (t.is_op("!=")) op = CompareOp::kNe;
      else if (t.is_op("<")) op = CompareOp::kLt;
      else if (t.is_op("<=")) op = CompareOp::kLe;
      else if (t.is_op(">")) op = CompareOp::kGt;
      else if (t.is_op(">=")) op = CompareOp::kGe;
      else if (t.is_name("in")) op = CompareOp::kIn;
      else if (t.is_name("not") && peek().is_name("in")) op = CompareOp::kNotIn;
      else break;
      advance();
      if (op == CompareOp::kNotIn) advance();
      DSINFER_ASSIGN_OR_RETURN(ExprPtr operand, parse_math1());
      if (!cmp) {
        cmp = make_expr(ExprKind::kCompare, offset);
        cmp->children.push_back(std::move(first));
      }
      cmp->compare_ops.push_back(op);
      cmp->children.push_back(std::move(operand));
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr binary(ExprKind kind, size_t offset, ExprPtr left, ExprPtr right, BinaryOp op = BinaryOp::kAdd) {
    auto e = make_expr(kind, offset);
    e->binary_op = op;
    e->children.push_back(std::move(left));
    e->children.push_back(std::move(right));
    return e;
  }

  Result<ExprPtr> parse_math1() {
    DSINFER_ASSIGN_OR_RETURN(ExprPtr left, parse_concat());
    while (current().is_op("+") || current().is_op("-")) {
      const BinaryOp op = current().is_op("+") ? BinaryOp::kAdd : BinaryOp::kSub;
      const size_t offset = current().offset;
      advance();
      DSINFER_ASSIGN_OR_RETURN(ExprPtr right, parse_concat());
      left = binary(ExprKind::kBinary, offset, std::move(left), std::move(right), op);
    }
    return left;
  }

  Result<ExprPtr> parse_concat() {
    const size_t offset = current().offset;
    DSINFER_ASSIGN_OR_RETURN(ExprPtr first, parse_math2());
    if (!current().is_op("~")) return first;
    auto e = make_expr(ExprKind::kConcat, offset);
    e->children.push_back(std::move(first));
    while (skip_op("~")) {
      DSINFER_ASSIGN_OR_RETURN(ExprPtr next, parse_math2());
      e->children.push_back(std::move(next));
    }
    return e;
  }

  Result<ExprPtr> parse_math2() {
    DSINFER_ASSIGN_OR_RETURN(ExprPtr left, parse_pow());
    while (true) {
      BinaryOp op;
      if (current().is_op("*")) op = BinaryOp::kMul;
      else if (current().is_op("/")) op = BinaryOp::kDiv;
      else if (current().is_op("//")) op = BinaryOp::kFloorDiv;
      else if (current().is_op("%")) op = BinaryOp::kMod;
      else break;
      const size_t offset = current().offset;
      advance();
      DSINFER_ASSIGN_OR_RETURN(ExprPtr right, parse_pow());
      left = binary(ExprKind::kBinary, offset, std::move(left), std::move(right), op);
    }
    return left;
  }

  Result<ExprPtr> parse_pow() {
    DSINFER_ASSIGN_OR_RETURN(ExprPtr left, parse_unary(true));
    while (current().is_op("**")) {
      const size_t offset = current().offset;
      advance();
      DSINFER_ASSIGN_OR_RETURN(ExprPtr right, parse_unary(true));
      left = binary(ExprKind::kBinary, offset, std::move(left), std::move(right), BinaryOp::kPow);
    }
    return left;
  }

  Result<ExprPtr> parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    if (guard.too_deep()) return too_deep();
    ExprPtr node;
    if (current().is_op("-") || current().is_op("+")) {
      node = make_expr(current().is_op("-") ? ExprKind::kNeg : ExprKind::kPos, current().offset);
      advance();
      DSINFER_ASSIGN_OR_RETURN(ExprPtr operand, parse_unary(false));
      node->children.push_back(std::move(operand));
    } else {
      DSINFER_ASSIGN_OR_RETURN(node, parse_primary());
    }
    DSINFER_ASSIGN_OR_RETURN(node, parse_postfix(std::move(node)));
    if (with_filter) {
      DSINFER_ASSIGN_OR_RETURN(node, parse_filter_expr(std::move(node)));
    }
    return node;
  }

  Result<ExprPtr> parse_primary() {
    const Token& token = current();
    switch (token.type) {
      case TokenType::kName: {
        auto e = make_expr(ExprKind::kLiteral, token.offset);
        if (token.text == "true" || token.text == "True") e->literal = Value::boolean(true);
        else if (token.text == "false" || token.text == "False") e->literal = Value::boolean(false);
        else if (token.text == "none" || token.text == "None") e->literal = Value::none();
        else {
          e->kind = ExprKind::kName;
          e->name = token.text;
        }
        advance();
        return e;
      }
      case TokenType::kString: {
        auto e = make_expr(ExprKind::kLiteral, token.offset);
        std::string text;
        while (current().type == TokenType::kString) {  // adjacent literals concatenate
          text += current().text;
          advance();
        }
        e->literal = Value::string(std::move(text));
        return e;
      }
      case TokenType::kInteger: {
        auto e = make_expr(ExprKind::kLiteral, token.offset);
        e->literal = Value::integer(token.int_value);
        advance();
        return e;
      }
      case TokenType::kFloat: {
        auto e = make_expr(ExprKind::kLiteral, token.offset);
        e->literal = Value::number(token.float_value);
        advance();
        return e;
      }
      case TokenType::kOperator:
        if (token.text == "(") {
          advance();
          DSINFER_ASSIGN_OR_RETURN(ExprPtr inner, parse_tuple(false, true, {}, true));
          DSINFER_RETURN_IF_ERROR(expect_op(")"));
          return inner;
        }
        if (token.text == "[") return parse_list();
        if (token.text == "{") return parse_dict();
        break;
      default:
        break;
    }
    return fail("unexpected " + describe(token), token);
  }

  bool is_tuple_end(std::initializer_list<std::string_view> extra_end_names) const {
    const Token& t = current();
    if (t.type == TokenType::kVariableEnd || t.type == TokenType::kBlockEnd || t.type == TokenType::kEof ||
        t.is_op(")"))
      return true;
    for (std::string_view name : extra_end_names) {
      if (t.is_name(name)) return true;
    }
    return false;
  }

  // Comma-separated expressions; a tuple when there is a comma.
  Result<ExprPtr> parse_tuple(bool simplified, bool with_condexpr,
                              std::initializer_list<std::string_view> extra_end_names, bool explicit_parens) {
    const size_t offset = current().offset;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) DSINFER_RETURN_IF_ERROR(expect_op(","));
      if (is_tuple_end(extra_end_names)) break;
      ExprPtr item;
      if (simplified) {
        DSINFER_ASSIGN_OR_RETURN(item, parse_primary());
      } else {
        DSINFER_ASSIGN_OR_RETURN(item, parse_expression(with_condexpr));
      }
      items.push_back(std::move(item));
      if (current().is_op(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) return fail("expected an expression, got " + describe(current()), current());
    }
    auto e = make_expr(ExprKind::kTuple, offset);
    e->children = std::move(items);
    return e;
  }

  Result<ExprPtr> parse_list() {
    auto e = make_expr(ExprKind::kList, current().offset);
    advance();  // [
    while (!current().is_op("]")) {
      if (!e->children.empty()) DSINFER_RETURN_IF_ERROR(expect_op(","));
      if (current().is_op("]")) break;
      DSINFER_ASSIGN_OR_RETURN(ExprPtr item, parse_expression(true));
      e->children.push_back(std::move(item));
    }
    DSINFER_RETURN_IF_ERROR(expect_op("]"));
    return e;
  }

  Result<ExprPtr> parse_dict() {
    auto e = make_expr(ExprKind::kDict, current().offset);
    advance();  // {
    while (!current().is_op("}")) {
      if (!e->children.empty()) DSINFER_RETURN_IF_ERROR(expect_op(","));
      if (current().is_op("}")) break;
      DSINFER_ASSIGN_OR_RETURN(ExprPtr key, parse_expression(true));
      DSINFER_RETURN_IF_ERROR(expect_op(":"));
      DSINFER_ASSIGN_OR_RETURN(ExprPtr value, parse_expression(true));
      e->children.push_back(std::move(key));
      e->children.push_back(std::move(value));
    }
    DSINFER_RETURN_IF_ERROR(expect_op("}"));
    return e;
  }

  Result<ExprPtr> parse_postfix(ExprPtr node) {
    while (true) {
      if (current().is_op(".") || current().is_op("[")) {
        DSINFER_ASSIGN_OR_RETURN(node, parse_subscript(std::move(node)));
      } else if (current().is_op("(")) {
        DSINFER_ASSIGN_OR_RETURN(node, parse_call(std::move(node)));
      } else {
        return node;
      }
    }
  }

  Result<ExprPtr> parse_filter_expr(ExprPtr node) {
    while (true) {
      if (current().is_op("|")) {
        DSINFER_ASSIGN_OR_RETURN(node, parse_filters(std::move(node), false));
      } else if (current().is_name("is")) {
        DSINFER_ASSIGN_OR_RETURN(node, parse_test(std::move(node)));
      } else if (current().is_op("(")) {
        DSINFER_ASSIGN_OR_RETURN(node, parse_call(std::move(node)));
      } else {
        return node;
      }
    }
  }

  Result<ExprPtr> parse_subscript(ExprPtr node) {
    const Token token = current();
    advance();
    if (token.is_op(".")) {
      const Token attr = current();
      advance();
      if (attr.type == TokenType::kName) {
        auto e = make_expr(ExprKind::kGetattr, token.offset);
        e->name = attr.text;
        e->children.push_back(std::move(node));
        return e;
      }
      if (attr.type != TokenType::kInteger) return fail("expected name or number", attr);
      auto index = make_expr(ExprKind::kLiteral, attr.offset);
      index->literal = Value::integer(attr.int_value);
      auto e = make_expr(ExprKind::kGetitem, token.offset);
      e->children.push_back(std::move(node));
      e->children.push_back(std::move(index));
      return e;
    }
    // [ ... ]
    std::vector<ExprPtr> args;
    while (!current().is_op("]")) {
      if (!args.empty()) DSINFER_RETURN_IF_ERROR(expect_op(","));
      DSINFER_ASSIGN_OR_RETURN(ExprPtr arg, parse_subscribed());
      args.push_back(std::move(arg));
    }
    DSINFER_RETURN_IF_ERROR(expect_op("]"));
    if (args.empty()) return fail("expected subscript expression", token);
    auto e = make_expr(ExprKind::kGetitem, token.offset);
    e->children.push_back(std::move(node));
    if (args.size() == 1) {
      e->children.push_back(std::move(args[0]));
    } else {
      auto tuple = make_expr(ExprKind::kTuple, token.offset);
      tuple->children = std::move(args);
      e->children.push_back(std::move(tuple));
    }
    return e;
  }

  Result<ExprPtr> parse_subscribed() {
    const size_t offset = current().offset;
    std::vector<ExprPtr> parts;  // start, stop, step
    if (current().is_op(":")) {
      advance();
      parts.push_back(nullptr);
    } else {
      DSINFER_ASSIGN_OR_RETURN(ExprPtr node, parse_expression(true));
      if (!current().is_op(":")) return node;
      advance();
      parts.push_back(std::move(node));
    }
    if (current().is_op(":") || current().is_op("]") || current().is_op(",")) {
      parts.push_back(nullptr);
    } else {
      DSINFER_ASSIGN_OR_RETURN(ExprPtr stop, parse_expression(true));
      parts.push_back(std::move(stop));
    }
    if (skip_op(":")) {
      if (current().is_op("]") || current().is_op(",")) {
        parts.push_back(nullptr);
      } else {
        DSINFER_ASSIGN_OR_RETURN(ExprPtr step, parse_expression(true));
        parts.push_back(std::move(step));
      }
    } else {
      parts.push_back(nullptr);
    }
    auto e = make_expr(ExprKind::kSlice, offset);
    e->children = std::move(parts);
    return e;
  }

  // Parses "(args)" into e->children (after any already there) and e->kwargs.
  Status parse_call_args(Expr& e) {
    const Token open = current();
    DSINFER_RETURN_IF_ERROR(expect_op("("));
    bool require_comma = false;
    while (!current().is_op(")")) {
      if (require_comma) {
        DSINFER_RETURN_IF_ERROR(expect_op(","));
        if (current().is_op(")")) break;
      }
      if (current().is_op("*") || current().is_op("**"))
        return fail("unsupported Jinja feature: *args / **kwargs in calls", current());
      if (current().type == TokenType::kName && peek().is_op("=")) {
        std::string key = current().text;
        advance();
        advance();
        DSINFER_ASSIGN_OR_RETURN(ExprPtr value, parse_expression(true));
        e.kwargs.emplace_back(std::move(key), std::move(value));
      } else {
        if (!e.kwargs.empty()) return fail("invalid syntax for function call expression", open);
        DSINFER_ASSIGN_OR_RETURN(ExprPtr value, parse_expression(true));
        e.children.push_back(std::move(value));
      }
      require_comma = true;
    }
    return expect_op(")");
  }

  Result<ExprPtr> parse_call(ExprPtr callee) {
    auto e = make_expr(ExprKind::kCall, current().offset);
    e->children.push_back(std::move(callee));
    DSINFER_RETURN_IF_ERROR(parse_call_args(*e));
    return e;
  }

  Result<std::string> dotted_name() {
    DSINFER_ASSIGN_OR_RETURN(std::string name, expect_name());
    while (current().is_op(".")) {
      advance();
      DSINFER_ASSIGN_OR_RETURN(std::string part, expect_name());
      name += "." + part;
    }
    return name;
  }

  // `| f(args) | g ...`; with start_inline the first filter has no leading pipe.
  Result<ExprPtr> parse_filters(ExprPtr node, bool start_inline) {
    while (current().is_op("|") || start_inline) {
      if (!start_inline) advance();
      start_inline = false;
      const Token name_token = current();
      DSINFER_ASSIGN_OR_RETURN(std::string name, dotted_name());
      auto e = make_expr(ExprKind::kFilter, name_token.offset);
      e->name = name;
      e->filter = find_filter(name);
      if (e->filter == nullptr) {
        return fail(std::string(is_jinja_filter_name(name) ? "unsupported" : "unknown") + " Jinja filter '" + name +
                        "'",
                    name_token);
      }
      e->children.push_back(std::move(node));
      if (current().is_op("(")) DSINFER_RETURN_IF_ERROR(parse_call_args(*e));
      node = std::move(e);
    }
    return node;
  }

  Result<ExprPtr> parse_test(ExprPtr node) {
    const Token is_token = current();
    advance();  // is
    const bool negated = skip_name("not");
    const Token name_token = current();
    DSINFER_ASSIGN_OR_RETURN(std::string name, dotted_name());
    auto e = make_expr(ExprKind::kTest, is_token.offset);
    e->name = name;
    e->negated = negated;
    e->test = find_test(name);
    if (e->test == nullptr) {
      return fail(std::string(is_jinja_test_name(name) ? "unsupported" : "unknown") + " Jinja test '" + name + "'",
                  name_token);
    }
    e->children.push_back(std::move(node));
    const Token& t = current();
    if (t.is_op("(")) {
      DSINFER_RETURN_IF_ERROR(parse_call_args(*e));
    } else if ((t.type == TokenType::kName || t.type == TokenType::kString || t.type == TokenType::kInteger ||
                t.type == TokenType::kFloat || t.is_op("(") || t.is_op("[") || t.is_op("{")) &&
               !t.is_name("else") && !t.is_name("or") && !t.is_name("and")) {
      // `x is divisibleby 3`: one argument without parentheses.
      if (t.is_name("is")) return fail("you cannot chain multiple tests with is", t);
      DSINFER_ASSIGN_OR_RETURN(ExprPtr arg, parse_primary());
      DSINFER_ASSIGN_OR_RETURN(arg, parse_postfix(std::move(arg)));
      e->children.push_back(std::move(arg));
    }
    return e;
  }

  const SourceText& source_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Result<std::shared_ptr<const ParsedTemplate>> parse_template(std::string_view source) {
  auto parsed = std::make_shared<ParsedTemplate>(source);
  DSINFER_ASSIGN_OR_RETURN(std::vector<Token> tokens, tokenize(parsed->source));
  Parser parser(parsed->source, std::move(tokens));
  DSINFER_ASSIGN_OR_RETURN(parsed->body, parser.parse_all());
  return std::shared_ptr<const ParsedTemplate>(std::move(parsed));
}

}  // namespace dsinfer::jinja
