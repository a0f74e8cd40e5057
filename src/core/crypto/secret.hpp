// Secret key material: wiped on destruction, never printable, compared in
// constant time (docs/design.md, "What every capability meets").
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace cordon::crypto {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t size);
  explicit SecretBytes(std::span<const std::byte> data);
  ~SecretBytes();
  SecretBytes(const SecretBytes&);
  SecretBytes& operator=(const SecretBytes&);
  SecretBytes(SecretBytes&&) noexcept;
  SecretBytes& operator=(SecretBytes&&) noexcept;

  std::span<const std::byte> view() const { return {data_, size_}; }
  std::span<std::byte> mutable_view() { return {data_, size_}; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Zeroes the buffer, frees it and leaves the secret empty (size() == 0), so
  // a wiped key cannot be used by mistake as an all-zero key.
  void wipe();

  // Constant-time comparison; sizes are not secret.
  friend bool operator==(const SecretBytes& a, const SecretBytes& b);

 private:
  std::byte* data_ = nullptr;
  size_t size_ = 0;
};

// Wipes memory in a way the compiler may not elide.
void wipe(std::span<std::byte> data);

// Constant-time equality of two spans of the same length; false if lengths differ.
bool constant_time_equal(std::span<const std::byte> a, std::span<const std::byte> b);

}  // namespace cordon::crypto
