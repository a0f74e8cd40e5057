// Datagram framing on a TCP tunnel stream (stream_frame.hpp).
#include "core/wire/stream_frame.hpp"

#include <algorithm>
#include <cstring>

namespace cordon::wire {

std::optional<std::array<std::byte, kStreamPrefixSize>> stream_prefix(size_t datagram_size) {
  if (datagram_size == 0 || datagram_size > kMaxStreamDatagram) return std::nullopt;
  return std::array<std::byte, kStreamPrefixSize>{std::byte(datagram_size >> 8), std::byte(datagram_size & 0xff)};
}

StreamDecoder::StreamDecoder(size_t initial_capacity)
    : buffer_(std::clamp(initial_capacity, kStreamPrefixSize, kMaxStreamFrame)) {}

std::optional<size_t> StreamDecoder::front_frame_size() const {
  if (buffered() < kStreamPrefixSize) return std::nullopt;
  const size_t length = (static_cast<size_t>(buffer_[start_]) << 8) | static_cast<size_t>(buffer_[start_ + 1]);
  return kStreamPrefixSize + length;
}

std::span<std::byte> StreamDecoder::writable() {
  if (closed_) return {};
  if (start_ == end_) start_ = end_ = 0;
  // The whole front frame must fit behind start_; an unknown length is at
  // least a prefix.
  const size_t need = front_frame_size().value_or(kStreamPrefixSize);
  if (need > buffer_.size()) buffer_.resize(kMaxStreamFrame);  // need <= kMaxStreamFrame always
  // Move the unpulled bytes to the front when the front frame would not fit
  // where it is, or when they are a bare piece of a prefix (at most 1 byte,
  // nearly free to move, and it gives the next read the whole buffer).
  if (start_ > 0 && (start_ + need > buffer_.size() || buffered() < kStreamPrefixSize)) {
    std::memmove(buffer_.data(), buffer_.data() + start_, buffered());
    end_ -= start_;
    start_ = 0;
  }
  return std::span(buffer_).subspan(end_);
}

void StreamDecoder::commit(size_t n) { end_ += std::min(n, buffer_.size() - end_); }

size_t StreamDecoder::feed(std::span<const std::byte> bytes) {
  size_t taken = 0;
  while (taken < bytes.size()) {
    const std::span<std::byte> room = writable();
    if (room.empty()) break;
    const size_t n = std::min(room.size(), bytes.size() - taken);
    std::memcpy(room.data(), bytes.data() + taken, n);
    commit(n);
    taken += n;
  }
  return taken;
}

StreamFrame StreamDecoder::next() {
  if (closed_) return StreamFrame{.kind = StreamFrame::Kind::kClose, .datagram = {}};
  const std::optional<size_t> size = front_frame_size();
  if (!size || buffered() < *size) return StreamFrame{};
  consumed_ += *size;
  if (*size == kStreamPrefixSize) {
    // Length 0: the close marker. Whatever follows it is not part of the
    // stream (docs/protocol.md, "TCP tunnel"), so it is dropped here.
    closed_ = true;
    start_ = end_ = 0;
    return StreamFrame{.kind = StreamFrame::Kind::kClose, .datagram = {}};
  }
  const std::span<const std::byte> datagram(buffer_.data() + start_ + kStreamPrefixSize, *size - kStreamPrefixSize);
  start_ += *size;
  return StreamFrame{.kind = StreamFrame::Kind::kDatagram, .datagram = datagram};
}

}  // namespace cordon::wire
