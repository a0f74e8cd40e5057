// Datagram framing on a TCP tunnel stream (docs/protocol.md, "TCP tunnel").
//
// A stream carries the same datagrams UDP would, back to back, each after a
// 2-byte big-endian length. A length of 0 is the close marker: the sender
// sends nothing after it, and the receiver ignores anything that follows.
//
//    0                   1                   2
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3
//   +-------------------------------+---------------- ... ----+
//   |      length (16 bits, BE)     | datagram (length bytes)  |
//   +-------------------------------+---------------- ... ----+
//   |      length                   | datagram ...             |
//   +-------------------------------+---------------- ... ----+
//   |      0x0000 (close)           |
//   +-------------------------------+
//
//   length  1..65535: the size of the datagram that follows. 0: close.
//
// TCP keeps no message boundaries, so a frame may arrive split across any
// number of reads, and one read may hold many frames. StreamDecoder
// reassembles them in one buffer that never grows beyond one frame of the
// largest size (2 + 65535 bytes) and hands datagrams out as views into it,
// so nothing is copied per datagram or allocated per read.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace cordon::wire {

constexpr size_t kStreamPrefixSize = 2;
constexpr size_t kMaxStreamDatagram = 65535;  // the largest 16-bit length
constexpr size_t kMaxStreamFrame = kStreamPrefixSize + kMaxStreamDatagram;

// The close marker, a frame of length 0.
constexpr std::array<std::byte, kStreamPrefixSize> kStreamClose{};

// The length prefix of a datagram of `datagram_size` bytes; nullopt unless
// the size is 1..65535 (0 would read as the close marker, and more does not
// fit 16 bits).
std::optional<std::array<std::byte, kStreamPrefixSize>> stream_prefix(size_t datagram_size);

// What StreamDecoder::next() found at the front of the received bytes.
struct StreamFrame {
  enum class Kind : uint8_t {
    kNeedMore,  // no complete frame buffered: receive more
    kDatagram,  // `datagram` holds one datagram
    kClose,     // the close marker arrived (and stays reported from now on)
  };
  Kind kind = Kind::kNeedMore;
  // kDatagram only: a view into the decoder's buffer, valid until the next
  // writable(), commit() or feed() on that decoder. next() does not move
  // bytes, so the views of several next() calls stay valid together.
  std::span<const std::byte> datagram;
};

// Reassembles frames from the bytes of one stream, in order.
//
// Two ways in: receive straight into writable() and commit() what arrived
// (no copy; what TcpStream::read_into does), or feed() a span, which copies.
// Then call next() until it says kNeedMore or kClose.
//
// Buffer bound: the buffer starts at `initial_capacity` bytes and grows, once,
// to kMaxStreamFrame when a frame longer than it shows up; it never holds
// more. A frame that does not fit behind the bytes already pulled is first
// moved to the front, so every byte is moved at most once per frame.
//
// Never throws (short of running out of memory growing the buffer), never
// reads past what was received, and every 16-bit length is well-formed, so
// there is no "bad input" error: garbage decodes as datagrams that the
// caller's authentication then drops.
class StreamDecoder {
 public:
  // 16 KiB holds about ten full-size tunnel datagrams (1500 bytes) per read;
  // most streams never need more, which matters at a coordinator that holds
  // thousands of them (docs/design.md, "The data path").
  static constexpr size_t kDefaultCapacity = 16 * 1024;

  // initial_capacity is clamped to [kStreamPrefixSize, kMaxStreamFrame].
  explicit StreamDecoder(size_t initial_capacity = kDefaultCapacity);

  // Free room to receive into. Empty when the decoder is closed, or when the
  // buffer is full of complete frames: pull them with next() first. May move
  // buffered bytes, which ends earlier views.
  std::span<std::byte> writable();
  // Marks the first n bytes of writable() as received (clamped to its size).
  void commit(size_t n);
  // Copies as much of `bytes` as fits and returns how many bytes it took:
  // fewer than offered only when it is closed or full of complete frames.
  size_t feed(std::span<const std::byte> bytes);

  // The next frame, if a complete one is buffered.
  StreamFrame next();

  bool closed() const { return closed_; }
  // Received bytes not yet pulled by next().
  size_t buffered() const { return end_ - start_; }
  // The stream holds part of a frame: an end of stream now cuts a datagram.
  bool mid_frame() const { return !closed_ && buffered() > 0; }
  // Bytes of the stream pulled as whole frames so far, close marker included.
  uint64_t consumed() const { return consumed_; }
  size_t capacity() const { return buffer_.size(); }

 private:
  // Size of the frame at the front, once its prefix is buffered.
  std::optional<size_t> front_frame_size() const;

  std::vector<std::byte> buffer_;
  size_t start_ = 0;  // first byte not yet pulled
  size_t end_ = 0;    // one past the last received byte
  uint64_t consumed_ = 0;
  bool closed_ = false;
};

}  // namespace cordon::wire
