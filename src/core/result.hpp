// Result<T, E>: the one way the core, the OS layer and the daemon return a
// value or an error (docs/design.md, "Errors"). It has the shape of C++23's
// std::expected, which the toolchain of Debian 12 does not offer yet:
//
//   Result<Config, ConfigError> load(...);
//   auto r = load(...);
//   if (!r) return r.error();      // the error converts into the caller's Result
//   use(r.value());
//
// A function returns its value or its error type directly; both convert
// implicitly. Where T and E could be confused, wrap the error in fail().
// Result allocates nothing beyond what T or E hold, and throws nothing:
// value() on an error (or error() on a value) is a programming error, and
// it aborts rather than return something plausible or throw on the data
// path.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <variant>

namespace cordon {

// An error, tagged so that it cannot be mistaken for a value.
template <typename E>
struct Failure {
  E error;
};
template <typename E>
Failure<std::decay_t<E>> fail(E&& error) {
  return Failure<std::decay_t<E>>{std::forward<E>(error)};
}

// The value of a Result that carries nothing but success.
struct Ok {};

template <typename T, typename E>
class Result {
  static_assert(!std::is_same_v<T, E>, "a Result needs distinct value and error types");

 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}
  // From fail(x) for anything E is made of: fail("text") for a std::string.
  template <typename U>
    requires std::is_constructible_v<E, U&&>
  Result(Failure<U> failure) : v_(std::in_place_index<1>, E(std::move(failure.error))) {}

  bool ok() const { return v_.index() == 0; }
  bool has_value() const { return ok(); }
  explicit operator bool() const { return ok(); }

  T& value() & { return *checked<0>(); }
  const T& value() const& { return *checked<0>(); }
  T&& value() && { return std::move(*checked<0>()); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

  E& error() & { return *checked<1>(); }
  const E& error() const& { return *checked<1>(); }
  E&& error() && { return std::move(*checked<1>()); }

 private:
  template <size_t I>
  auto* checked() {
    auto* p = std::get_if<I>(&v_);
    if (p == nullptr) std::abort();
    return p;
  }
  template <size_t I>
  const auto* checked() const {
    const auto* p = std::get_if<I>(&v_);
    if (p == nullptr) std::abort();
    return p;
  }

  std::variant<T, E> v_;
};

// A Result with no value: success or an error.
template <typename E>
using Status = Result<Ok, E>;

}  // namespace cordon
