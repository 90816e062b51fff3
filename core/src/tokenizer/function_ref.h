// A non-owning reference to a callable, cheaper than std::function for the
// per-piece callbacks of the encoding pipeline (no allocation, no copy).
#ifndef COMPASS_TOKENIZER_FUNCTION_REF_H_
#define COMPASS_TOKENIZER_FUNCTION_REF_H_

#include <memory>
#include <type_traits>
#include <utility>

namespace compass::hf {

template <typename Signature>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  // The callable must outlive the reference.
  template <typename F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> &&
           std::is_invocable_r_v<R, F&, Args...>)
      FunctionRef(F&& f)  // NOLINT(google-explicit-constructor)
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* object, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(object))(std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

}  // namespace compass::hf

#endif  // COMPASS_TOKENIZER_FUNCTION_REF_H_
