// The parsed form of a template: expressions and statements as Jinja2's parser
// builds them (jinja2/nodes.py), reduced to the constructs chat templates use.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/value.h"

namespace dsinfer::jinja {

enum class ExprKind : uint8_t {
  kLiteral,   // literal
  kName,      // name
  kGetattr,   // children[0].name
  kGetitem,   // children[0][children[1]]
  kSlice,     // children: start, stop, step (each may be null); only inside kGetitem
  kList,      // [children...]
  kTuple,     // (children...)
  kDict,      // {children[0]: children[1], ...}
  kNot,       // not children[0]
  kNeg,       // -children[0]
  kPos,       // +children[0]
  kBinary,    // children[0] binary_op children[1]
  kAnd,       // children[0] and children[1]
  kOr,        // children[0] or children[1]
  kConcat,    // children[0] ~ children[1] ~ ...
  kCompare,   // children[0] compare_ops[0] children[1] compare_ops[1] children[2] ...
  kCondExpr,  // children[1] if children[0] else children[2] (children[2] may be null)
  kFilter,    // children[0] | name(children[1:], kwargs); children[0] null in {% filter %}
  kTest,      // children[0] is [not] name(children[1:], kwargs)
  kCall,      // children[0](children[1:], kwargs)
};

enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow };
enum class CompareOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind;
  size_t offset = 0;  // where the construct starts in the source, for errors
  Value literal;
  std::string name;
  std::vector<ExprPtr> children;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<CompareOp> compare_ops;
  BinaryOp binary_op = BinaryOp::kAdd;
  bool negated = false;       // `is not`
  FilterFn filter = nullptr;  // resolved at parse time
  TestFn test = nullptr;
};

// Left-hand side of {% set %} and {% for %}: a name, ns.attr, or a tuple of names.
struct Target {
  enum class Kind : uint8_t { kName, kAttribute, kTuple };
  Kind kind = Kind::kName;
  std::string name;       // variable name (the namespace for kAttribute)
  std::string attribute;  // kAttribute
  std::vector<Target> items;
  size_t offset = 0;
};

enum class StmtKind : uint8_t {
  kText,         // literal output
  kPrint,        // {{ expr }}
  kIf,           // {% if %}{% elif %}{% else %}{% endif %}
  kFor,          // {% for target in expr [if cond] %}body{% else %}else_body{% endfor %}
  kSet,          // {% set target = expr %}
  kSetBlock,     // {% set target [| filters] %}body{% endset %}
  kBreak,
  kContinue,
  kFilterBlock,  // {% filter f %}body{% endfilter %}
  kScope,        // {% generation %}body{% endgeneration %}: renders body as is
  kMacro,        // {% macro text(params=defaults) %}body{% endmacro %}
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  StmtKind kind;
  size_t offset = 0;
  std::string text;  // kText
  ExprPtr expr;      // kPrint, kFor (iterable), kSet (value), kSetBlock / kFilterBlock (filter chain)
  ExprPtr condition; // kFor: the inline `if` filter
  Target target;     // kFor, kSet, kSetBlock
  std::vector<std::pair<ExprPtr, Body>> branches;  // kIf: condition and body of if / each elif
  Body body;
  Body else_body;    // kIf else, kFor else
  std::vector<std::string> params;  // kMacro parameter names
  std::vector<ExprPtr> defaults;    // kMacro: default per parameter, null where none
};

}  // namespace dsinfer::jinja
