// Bounds-checked big-endian readers and writers (byte_io.hpp).
#include "core/wire/byte_io.hpp"

#include <cstring>
#include <utility>

namespace cordon::wire {

bool ByteReader::take(size_t n, std::span<const std::byte>& out) {
  if (failed_) return false;
  // remaining() cannot underflow: offset_ never passes data_.size().
  if (n > remaining()) {
    failed_ = true;
    // Saturate rather than wrap for absurd lengths read from the input.
    needed_ = n > SIZE_MAX - offset_ ? SIZE_MAX : offset_ + n;
    return false;
  }
  out = data_.subspan(offset_, n);
  offset_ += n;
  return true;
}

namespace {
template <typename T>
T load_be(std::span<const std::byte> b) {
  T v = 0;
  for (std::byte x : b) v = static_cast<T>((v << 8) | static_cast<uint8_t>(x));
  return v;
}
}  // namespace

std::optional<uint8_t> ByteReader::u8() {
  std::span<const std::byte> b;
  if (!take(1, b)) return std::nullopt;
  return static_cast<uint8_t>(b[0]);
}

std::optional<uint16_t> ByteReader::u16() {
  std::span<const std::byte> b;
  if (!take(2, b)) return std::nullopt;
  return load_be<uint16_t>(b);
}

std::optional<uint32_t> ByteReader::u32() {
  std::span<const std::byte> b;
  if (!take(4, b)) return std::nullopt;
  return load_be<uint32_t>(b);
}

std::optional<uint64_t> ByteReader::u64() {
  std::span<const std::byte> b;
  if (!take(8, b)) return std::nullopt;
  return load_be<uint64_t>(b);
}

std::optional<std::span<const std::byte>> ByteReader::bytes(size_t n) {
  std::span<const std::byte> b;
  if (!take(n, b)) return std::nullopt;
  return b;
}

ParseError ByteReader::truncated(std::string field) const {
  return ParseError{ParseError::Kind::kTruncated, offset_, needed_ > offset_ ? needed_ : offset_ + 1, std::move(field)};
}

ParseError ByteReader::bad_field(std::string field) const {
  return ParseError{ParseError::Kind::kBadField, offset_, 0, std::move(field)};
}

ParseError ByteReader::trailing_bytes(std::string field) const {
  return ParseError{ParseError::Kind::kTrailingBytes, offset_, 0, std::move(field)};
}

void ByteWriter::bytes(std::span<const std::byte> b) {
  if (overflow_) return;
  if (!sizing_) {
    if (b.size() > out_.size() - size_) {
      overflow_ = true;
      return;
    }
    if (!b.empty()) std::memmove(out_.data() + size_, b.data(), b.size());
  }
  size_ += b.size();
}

namespace {
template <typename T>
std::array<std::byte, sizeof(T)> store_be(T v) {
  std::array<std::byte, sizeof(T)> b{};
  for (size_t i = sizeof(T); i-- > 0;) {
    b[i] = static_cast<std::byte>(v & 0xff);
    v = static_cast<T>(v >> 8);
  }
  return b;
}
}  // namespace

void ByteWriter::u8(uint8_t v) { bytes(store_be(v)); }
void ByteWriter::u16(uint16_t v) { bytes(store_be(v)); }
void ByteWriter::u32(uint32_t v) { bytes(store_be(v)); }
void ByteWriter::u64(uint64_t v) { bytes(store_be(v)); }

void ByteWriter::text(std::string_view s) { bytes(std::as_bytes(std::span<const char>(s.data(), s.size()))); }

std::span<std::byte> ByteWriter::rest() {
  if (sizing_ || overflow_) return {};
  return out_.subspan(size_);
}

void ByteWriter::skip(size_t n) {
  if (overflow_) return;
  if (!sizing_ && n > out_.size() - size_) {
    overflow_ = true;
    return;
  }
  size_ += n;
}

}  // namespace cordon::wire
