// Errors as values. A failed operation returns a Status carrying a message a user
// can act on ("tensor model.layers.3.mlp.gate_proj.weight: expected [64,32] bf16,
// found [32,64] bf16 in model-00002-of-00003.safetensors"); nothing in the engine
// throws across layer boundaries or aborts on bad input.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace dsinfer {

class Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status error(std::string message) { return Status(std::move(message)); }

  bool is_ok() const { return !message_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  const std::string& message() const {
    static const std::string kOk = "ok";
    return message_ ? *message_ : kOk;
  }
  // Prefixes context while an error travels up: "loading DIR: " + inner message.
  Status with_context(const std::string& context) const {
    if (is_ok()) return *this;
    return Status(context + ": " + *message_);
  }

 private:
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
};

template <typename... Args>
Status error(fmt::format_string<Args...> format, Args&&... args) {
  return Status::error(fmt::format(format, std::forward<Args>(args)...));
}

// A value or the Status explaining why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}
  Result(Status status) : state_(std::move(status)) { assert(!std::get<Status>(state_).is_ok()); }

  bool is_ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(state_);
  }
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace dsinfer

// Propagate a failed Status / Result from the current function.
#define DSINFER_CONCAT_INNER(a, b) a##b
#define DSINFER_CONCAT(a, b) DSINFER_CONCAT_INNER(a, b)

#define DSINFER_RETURN_IF_ERROR(expr)                      \
  do {                                                     \
    ::dsinfer::Status dsinfer_status_ = (expr);            \
    if (!dsinfer_status_.is_ok()) return dsinfer_status_;  \
  } while (0)

#define DSINFER_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.is_ok()) return tmp.status();              \
  lhs = std::move(tmp).value()

#define DSINFER_ASSIGN_OR_RETURN(lhs, expr) \
  DSINFER_ASSIGN_OR_RETURN_IMPL(DSINFER_CONCAT(dsinfer_result_, __LINE__), lhs, expr)
