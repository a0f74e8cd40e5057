// Bounds-checked big-endian readers and writers for Cordon's binary file
// formats (key sets, update packages; docs/design.md, practice 5: parsers
// take a span and return a value or a named error, and never read past the
// end).
//
// All multi-byte integers are big-endian (network byte order), as in every
// Cordon format.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace cordon::wire {

// Why a parse stopped. `offset` is where the bad read started; for
// kTruncated, `needed` is the input size the read needed (offset + field
// size), so a message can say "ends early (N of M bytes)". `field` names
// what was being read, e.g. "address book entry 2: name".
struct ParseError {
  enum class Kind : uint8_t { kTruncated, kBadField, kTrailingBytes };
  Kind kind = Kind::kTruncated;
  size_t offset = 0;
  size_t needed = 0;
  std::string field;
};

// What a reader of a section returns: success, or where and why it stopped.
using ParseStatus = cordon::Status<ParseError>;

// Reads from a span, front to back. A read that does not fit returns
// nullopt and leaves the position unchanged; the reader then stays failed
// (every later read returns nullopt too), so a sequence of reads can be
// checked once at the end. needed() reports what the first failed read
// wanted.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> data) : data_(data) {}

  std::optional<uint8_t> u8();
  std::optional<uint16_t> u16();
  std::optional<uint32_t> u32();
  std::optional<uint64_t> u64();
  // The next n bytes, as a view into the input (no copy).
  std::optional<std::span<const std::byte>> bytes(size_t n);
  // Copies the next N bytes into `out`; false (and `out` untouched) if short.
  template <size_t N>
  bool copy(std::array<std::byte, N>& out) {
    const auto b = bytes(N);
    if (!b) return false;
    for (size_t i = 0; i < N; ++i) out[i] = (*b)[i];
    return true;
  }

  size_t offset() const { return offset_; }
  size_t size() const { return data_.size(); }
  size_t remaining() const { return data_.size() - offset_; }
  bool at_end() const { return offset_ == data_.size(); }
  bool failed() const { return failed_; }
  // offset + size of the first read that did not fit; 0 if none failed.
  size_t needed() const { return needed_; }

  // Errors positioned at the current offset, for the caller to return.
  ParseError truncated(std::string field) const;  // uses needed()
  ParseError bad_field(std::string field) const;
  ParseError trailing_bytes(std::string field) const;

 private:
  bool take(size_t n, std::span<const std::byte>& out);
  std::span<const std::byte> data_;
  size_t offset_ = 0;
  size_t needed_ = 0;
  bool failed_ = false;
};

// Writes into a fixed span, or only counts when constructed without one
// ("sizing mode"): encoders run once to size the buffer (for example a
// crypto::SecretBytes, which cannot grow without leaving copies behind) and
// once to fill it. Writing past the end of the span sets overflow() and
// writes nothing more.
class ByteWriter {
 public:
  ByteWriter() = default;  // sizing mode
  explicit ByteWriter(std::span<std::byte> out) : out_(out), sizing_(false) {}

  void u8(uint8_t v);
  void u16(uint16_t v);
  void u32(uint32_t v);
  void u64(uint64_t v);
  void bytes(std::span<const std::byte> b);
  void text(std::string_view s);  // the bytes of s, no length prefix

  size_t size() const { return size_; }  // bytes written (or counted)
  bool overflow() const { return overflow_; }
  // The not yet written rest of the span (empty in sizing mode), for
  // callers that fill a field in place (e.g. an AEAD output).
  std::span<std::byte> rest();
  // Advances past n bytes filled through rest().
  void skip(size_t n);

 private:
  std::span<std::byte> out_;
  size_t size_ = 0;
  bool sizing_ = true;
  bool overflow_ = false;
};

}  // namespace cordon::wire
