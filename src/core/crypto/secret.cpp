// SecretBytes: a heap buffer for key material that is wiped before it is
// freed and compared in constant time (docs/design.md, "What every capability
// meets": secrets are wiped after use and compared in constant time).
//
// Storage is plain operator new, not sodium_malloc: sodium_malloc maps guard
// pages and mlocks, i.e. it makes system calls, and the core makes none
// (docs/design.md, practice 1). Locking memory is the daemon's job. libsodium is used
// only for sodium_memzero (a wipe the compiler may not elide) and
// sodium_memcmp (constant time); neither needs sodium_init().
#include "core/crypto/secret.hpp"

#include <sodium.h>

#include <cstring>
#include <utility>

namespace cordon::crypto {
namespace {

// Zero-initialised, so a buffer that is never written holds no stale heap
// contents. nullptr for size 0 keeps empty secrets allocation-free.
std::byte* allocate(size_t size) { return size == 0 ? nullptr : new std::byte[size](); }

void release(std::byte*& data, size_t& size) {
  if (data != nullptr) {
    sodium_memzero(data, size);
    delete[] data;
  }
  data = nullptr;
  size = 0;
}

}  // namespace

SecretBytes::SecretBytes(size_t size) : data_(allocate(size)), size_(size) {}

SecretBytes::SecretBytes(std::span<const std::byte> data) : data_(allocate(data.size())), size_(data.size()) {
  if (size_ != 0) std::memcpy(data_, data.data(), size_);
}

SecretBytes::~SecretBytes() { release(data_, size_); }

SecretBytes::SecretBytes(const SecretBytes& other) : SecretBytes(other.view()) {}

SecretBytes& SecretBytes::operator=(const SecretBytes& other) {
  if (this != &other) {
    SecretBytes copy(other);  // allocate first: on failure *this is untouched
    *this = std::move(copy);
  }
  return *this;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    release(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

// Wipes and frees: afterwards the secret is empty rather than all zeros, so a
// wiped key can never be mistaken for a valid (zero) key — Aead::create and
// HKDF reject or visibly change on an empty key instead of silently using it.
void SecretBytes::wipe() { release(data_, size_); }

bool operator==(const SecretBytes& a, const SecretBytes& b) { return constant_time_equal(a.view(), b.view()); }

void wipe(std::span<std::byte> data) {
  if (!data.empty()) sodium_memzero(data.data(), data.size());
}

bool constant_time_equal(std::span<const std::byte> a, std::span<const std::byte> b) {
  if (a.size() != b.size()) return false;  // lengths are public (secret.hpp)
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace cordon::crypto
