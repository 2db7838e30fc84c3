// DeepSeek-V4's encode_messages (encoding_dsv4.py). Unlike V3.2 there is no tool role in
// the prompt: tool results are first folded into user messages as <tool_result> blocks,
// and a user turn is closed (<｜Assistant｜> + thinking opener) only where the assistant
// speaks next.
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "tokenizer/dsml/dsml_common.h"

namespace dsinfer::dsml {
namespace {

constexpr std::string_view kLatestReminder = "<｜latest_reminder｜>";
constexpr std::string_view kReasoningEffortMax =
    "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
    "You MUST be very thorough in your thinking and comprehensively decompose the problem to resolve the root cause, "
    "rigorously stress-testing your logic against all potential paths, edge cases, and adversarial scenarios.\n"
    "Explicitly write out your entire deliberation process, documenting every intermediate step, considered "
    "alternative, and rejected hypothesis to ensure absolutely no assumption is left unchecked.\n\n";

// One part of a (folded) user message.
struct Block {
  bool tool_result = false;
  const Json* content = nullptr;  // text: the user's content; tool result: the tool's content (string or parts)
  std::string tool_use_id;        // tool results: the call they answer ("" when not given)
};

// A message after folding: tool messages and consecutive user messages have become one
// user message with blocks.
struct V4Message {
  Role role;
  const Json* json;   // the message (for a folded user: its first source message)
  std::string where;  // for errors
  std::vector<Block> blocks;      // users only
  const Json* task = nullptr;     // a non-null "task"
  bool wo_eos = false;            // no EOS after this assistant message
};

const Json* non_null(const Json* v) { return v && !v->is_null() ? v : nullptr; }

std::string tool_call_id(const Json& m) {
  const Json* id = field(m, "tool_call_id");
  return id && id->is_string() ? id->get<std::string>() : std::string();
}

// A tool message becomes a tool_result block, added to the previous user message when
// there is one, else a new user message. A user message becomes a text block and joins a
// previous user message without a task.
std::vector<V4Message> fold_tool_messages(std::span<const Message> in) {
  std::vector<V4Message> out;
  for (const Message& m : in) {
    const bool after_user = !out.empty() && out.back().role == Role::kUser;
    const Json* content = field(*m.json, "content");
    if (m.role == Role::kTool) {
      Block block{.tool_result = true, .content = content, .tool_use_id = tool_call_id(*m.json)};
      if (after_user) {
        out.back().blocks.push_back(std::move(block));
      } else {
        out.push_back({.role = Role::kUser, .json = m.json, .where = m.where, .blocks = {std::move(block)}});
      }
    } else if (m.role == Role::kUser) {
      Block block{.content = content};
      if (after_user && !out.back().task) {
        out.back().blocks.push_back(std::move(block));
      } else {
        out.push_back({.role = Role::kUser, .json = m.json, .where = m.where, .blocks = {std::move(block)},
                       .task = non_null(field(*m.json, "task")), .wo_eos = truthy(field(*m.json, "wo_eos"))});
      }
    } else {
      out.push_back({.role = m.role, .json = m.json, .where = m.where, .task = non_null(field(*m.json, "task")),
                     .wo_eos = truthy(field(*m.json, "wo_eos"))});
    }
  }
  return out;
}

// Tool results in a user message are put in the order of the calls of the latest
// assistant message with calls, matched by id (an unknown id sorts as the first call).
void order_tool_results(std::vector<V4Message>& msgs) {
  std::map<std::string, size_t> order;
  for (V4Message& m : msgs) {
    if (m.role == Role::kAssistant && truthy(field(*m.json, "tool_calls"))) {
      order.clear();
      const Json& calls = m.json->at("tool_calls");
      for (size_t k = 0; k < calls.size(); ++k) {
        const Json* id = field(calls[k], "id");
        if (!truthy(id)) id = field(calls[k].at("function"), "id");
        if (id && id->is_string() && !id->get_ref<const std::string&>().empty()) order[id->get<std::string>()] = k;
      }
    } else if (m.role == Role::kUser && !order.empty()) {
      std::vector<Block> results;
      for (const Block& b : m.blocks) {
        if (b.tool_result) results.push_back(b);
      }
      if (results.size() < 2) continue;
      const auto rank = [&](const Block& b) {
        auto it = order.find(b.tool_use_id);
        return it == order.end() ? size_t{0} : it->second;
      };
      std::stable_sort(results.begin(), results.end(), [&](const Block& x, const Block& y) { return rank(x) < rank(y); });
      auto next = results.begin();
      for (Block& b : m.blocks) {
        if (b.tool_result) b = *next++;
      }
    }
  }
}

std::ptrdiff_t last_user(const std::vector<V4Message>& msgs) {
  for (std::ptrdiff_t i = static_cast<std::ptrdiff_t>(msgs.size()) - 1; i >= 0; --i) {
    if (msgs[i].role == Role::kUser || msgs[i].role == Role::kDeveloper) return i;
  }
  return -1;
}

// f"{v}" of a content part's type or text: Python prints None as "None".
Result<std::string> py_str(const Json* v) {
  if (!v || v->is_null()) return std::string("None");
  if (v->is_string()) return v->get<std::string>();
  return dumps(*v);
}

Result<std::string> tool_result_text(const Json* content) {
  std::string text;
  if (content && content->is_array()) {
    for (size_t k = 0; k < content->size(); ++k) {
      const Json& part = (*content)[k];
      const Json* type = field(part, "type");
      if (k) text += "\n\n";
      if (type && type->is_string() && *type == "text") {
        text += string_or_empty(part, "text");
      } else {
        DSINFER_ASSIGN_OR_RETURN(std::string name, py_str(type));
        text += "[Unsupported " + name + "]";
      }
    }
  } else if (content) {
    DSINFER_ASSIGN_OR_RETURN(text, py_str(content));
  }
  return "<tool_result>" + text + "</tool_result>";
}

Result<std::string> v4_tools_block(const Json& tools) {
  DSINFER_ASSIGN_OR_RETURN(std::string schemas, tool_schemas(tools));
  return fmt::format(
      "## Tools\n\n"
      "You have access to a set of tools to help answer the user's question. You can invoke tools by writing a "
      "\"<{0}tool_calls>\" block like the following:\n\n"
      "<{0}tool_calls>\n"
      "<{0}invoke name=\"$TOOL_NAME\">\n"
      "<{0}parameter name=\"$PARAMETER_NAME\" string=\"true|false\">$PARAMETER_VALUE</{0}parameter>\n"
      "...\n"
      "</{0}invoke>\n"
      "<{0}invoke name=\"$TOOL_NAME2\">\n"
      "...\n"
      "</{0}invoke>\n"
      "</{0}tool_calls>\n\n"
      "String parameters should be specified as is and set `string=\"true\"`. For all other types (numbers, "
      "booleans, arrays, objects), pass the value in JSON format and set `string=\"false\"`.\n\n"
      "If thinking_mode is enabled (triggered by {1}), you MUST output your complete reasoning inside "
      "{1}...{2} BEFORE any tool calls or final response.\n\n"
      "Otherwise, output directly after {2} with tool calls or final response.\n\n"
      "### Available Tool Schemas\n\n"
      "{3}\n\n"
      "You MUST strictly follow the above defined tool name and parameter schemas to invoke tool calls.\n",
      kDsml, kThink, kEndThink, schemas);
}

class V4Renderer {
 public:
  // drop: drop_thinking in effect (no tools anywhere), which hides reasoning before the
  // last user message; without it every turn keeps its reasoning and opens thinking.
  V4Renderer(const std::vector<V4Message>& msgs, const DsmlChatInputs& inputs, bool drop)
      : msgs_(msgs), inputs_(inputs), drop_(drop), last_user_(last_user(msgs)) {}

  Result<std::string> render(size_t index) const {
    const V4Message& m = msgs_[index];
    const Json& j = *m.json;
    const auto i = static_cast<std::ptrdiff_t>(index);
    const bool thinking = inputs_.thinking;
    std::string out;
    if (index == 0 && thinking && inputs_.reasoning_effort == ReasoningEffort::kMax) out = kReasoningEffortMax;
    switch (m.role) {
      case Role::kSystem: {
        DSINFER_ASSIGN_OR_RETURN(std::string extra, instructions(j, v4_tools_block));
        out += fmt::format("{}{}", string_or_empty(j, "content"), extra);
        break;
      }
      case Role::kDeveloper: {
        DSINFER_ASSIGN_OR_RETURN(std::string extra, instructions(j, v4_tools_block));
        out += fmt::format("{}{}{}", kUser, string_or_empty(j, "content"), extra);
        break;
      }
      case Role::kUser: {
        out += kUser;
        for (size_t k = 0; k < m.blocks.size(); ++k) {
          if (k) out += "\n\n";
          const Block& b = m.blocks[k];
          if (b.tool_result) {
            DSINFER_ASSIGN_OR_RETURN(std::string text, tool_result_text(b.content));
            out += text;
          } else if (b.content && b.content->is_string()) {
            out += b.content->get_ref<const std::string&>();
          }
        }
        break;
      }
      case Role::kLatestReminder: out += fmt::format("{}{}", kLatestReminder, py_format(j, "content")); break;
      case Role::kAssistant: {
        std::string calls;
        if (truthy(field(j, "tool_calls"))) {
          DSINFER_ASSIGN_OR_RETURN(calls, dsml_calls(Message{m.role, m.json, m.where}, "tool_calls",
                                                     /*lenient_arguments=*/true));
        }
        // A turn answering a task (title, query, ...) has no thinking part.
        const bool after_task = index > 0 && msgs_[index - 1].task;
        if (thinking && !after_task && (!drop_ || i > last_user_))
          out += fmt::format("{}{}", string_or_empty(j, "reasoning_content"), kEndThink);
        out += fmt::format("{}{}{}", string_or_empty(j, "content"), calls, m.wo_eos ? "" : kEos);
        break;
      }
      case Role::kTool: return error("{}: tool messages are folded into user messages", m.where);
    }
    return out + closing(index);
  }

 private:
  // What follows a message when the assistant (or a reminder) comes next or the
  // conversation ends: the task token, or the assistant opener after a user turn.
  std::string closing(size_t index) const {
    const V4Message& m = msgs_[index];
    if (index + 1 < msgs_.size()) {
      const Role next = msgs_[index + 1].role;
      if (next != Role::kAssistant && next != Role::kLatestReminder) return "";
    }
    const bool thinking = inputs_.thinking;
    if (m.task) {
      const std::string& task = m.task->get_ref<const std::string&>();
      if (task == "action") return fmt::format("{}{}<｜action｜>", kAssistant, thinking ? kThink : kEndThink);
      return fmt::format("<｜{}｜>", task);
    }
    if (m.role == Role::kUser || m.role == Role::kDeveloper) {
      const bool think = thinking && (!drop_ || static_cast<std::ptrdiff_t>(index) >= last_user_);
      return fmt::format("{}{}", kAssistant, think ? kThink : kEndThink);
    }
    return "";
  }

  const std::vector<V4Message>& msgs_;
  const DsmlChatInputs& inputs_;
  bool drop_;
  std::ptrdiff_t last_user_;
};

}  // namespace

Result<std::string> render_v4(std::vector<Message> msgs, size_t n_context, const DsmlChatInputs& inputs) {
  // Context and new messages are folded separately (a new tool result does not join the
  // context's last user message), then tool results are ordered over both.
  const std::span<const Message> all(msgs);
  std::vector<V4Message> full = fold_tool_messages(all.first(n_context));
  size_t start = full.size();
  for (V4Message& m : fold_tool_messages(all.subspan(n_context))) full.push_back(std::move(m));
  order_tool_results(full);

  // Tools anywhere turn drop_thinking off: an agent's earlier reasoning stays visible.
  const bool has_tools = std::any_of(full.begin(), full.end(), [](const V4Message& m) {
    return m.role != Role::kUser && truthy(field(*m.json, "tools"));
  });
  const bool drop = inputs.drop_thinking && !has_tools;
  if (inputs.thinking && drop) {
    // Developer messages before the last user message are forgotten (the script counts
    // the kept context over the context alone; counting it here is the same when sound).
    const std::ptrdiff_t lu = last_user(full);
    std::vector<V4Message> kept;
    const size_t n_folded_context = start;
    start = 0;
    for (size_t i = 0; i < full.size(); ++i) {
      if (full[i].role == Role::kDeveloper && static_cast<std::ptrdiff_t>(i) < lu) continue;
      if (i < n_folded_context) ++start;
      kept.push_back(std::move(full[i]));
    }
    full = std::move(kept);
  }

  std::string out = inputs.add_bos && n_context == 0 ? std::string(kBos) : std::string();
  const V4Renderer renderer(full, inputs, drop);
  for (size_t i = start; i < full.size(); ++i) {
    DSINFER_ASSIGN_OR_RETURN(std::string piece, renderer.render(i));
    out += piece;
  }
  return out;
}

}  // namespace dsinfer::dsml
