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
// value() on an error (or error() on a value) is a programming error that
// std::get reports by terminating in builds without exceptions.
#pragma once

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
  Result(Failure<E> failure) : v_(std::in_place_index<1>, std::move(failure.error)) {}

  bool ok() const { return v_.index() == 0; }
  bool has_value() const { return ok(); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

  E& error() & { return std::get<1>(v_); }
  const E& error() const& { return std::get<1>(v_); }
  E&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, E> v_;
};

// A Result with no value: success or an error.
template <typename E>
using Status = Result<Ok, E>;

}  // namespace cordon
