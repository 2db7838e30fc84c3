// A non-owning reference to a callable, for functions that call what they are given
// before they return (ThreadPool's loops). Unlike std::function it never allocates: a
// lambda capturing more than two references made every parallel loop of a decode step
// a heap allocation and a free (docs/benchmarks.md, CPU backend, session 17).
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace dsinfer {

template <typename Signature>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  // The callable must outlive every call through this reference.
  template <typename F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> && std::is_invocable_r_v<R, F&, Args...>)
  FunctionRef(F&& f)  // NOLINT(google-explicit-constructor): stands in for a callable argument
      : callable_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* callable, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(callable))(std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return call_(callable_, std::forward<Args>(args)...); }

 private:
  void* callable_;
  R (*call_)(void*, Args...);
};

}  // namespace dsinfer
