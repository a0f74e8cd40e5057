// libFuzzer target for wire::StreamDecoder, the TCP tunnel's framing
// (docs/protocol.md, "TCP tunnel"; core/wire/stream_frame.hpp).
//
// Input: byte 0 picks the decoder's initial capacity (0: the default, else
// 2 + 97 * byte, so that tiny buffers exercise compaction and growth), bytes
// 1-4 are the sizes of the "reads" the stream arrives in (cycled; odd reads go
// through feed(), even ones through writable()/commit()), and the rest is the
// stream.
//
// Asserts, besides "no crash, hang, leak or read past the end":
//   - re-encoding what came out (each datagram with stream_prefix(), then the
//     close marker if one came) reproduces the stream's first consumed()
//     bytes exactly;
//   - the decoder stops only when it must: when not closed, what is left
//     holds no complete frame;
//   - the buffer never grows beyond one maximum frame, and a decoder that is
//     not closed and holds no complete frame always has room.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/wire/stream_frame.hpp"

namespace {

using namespace cordon::wire;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Pulls every complete frame, re-encoding it onto `out`.
void drain(StreamDecoder& dec, std::vector<std::byte>& out) {
  for (;;) {
    const StreamFrame f = dec.next();
    if (f.kind == StreamFrame::Kind::kNeedMore) return;
    if (f.kind == StreamFrame::Kind::kClose) {
      out.insert(out.end(), kStreamClose.begin(), kStreamClose.end());
      return;
    }
    const auto prefix = stream_prefix(f.datagram.size());
    check(prefix.has_value());
    out.insert(out.end(), prefix->begin(), prefix->end());
    out.insert(out.end(), f.datagram.begin(), f.datagram.end());
  }
}

// One "read" of `chunk`, through either way in. Returns how much went in.
size_t take(StreamDecoder& dec, std::span<const std::byte> chunk, bool copy) {
  if (copy) return dec.feed(chunk);
  const std::span<std::byte> room = dec.writable();
  const size_t n = std::min(room.size(), chunk.size());
  if (n > 0) std::memcpy(room.data(), chunk.data(), n);
  dec.commit(n);
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kControl = 5;
  if (size < kControl) return 0;
  const size_t capacity = data[0] == 0 ? StreamDecoder::kDefaultCapacity : 2 + size_t{97} * data[0];
  const size_t reads[4] = {size_t{1} + data[1], size_t{1} + data[2] * size_t{64}, size_t{1} + data[3],
                           size_t{1} + data[4] * size_t{300}};
  const auto stream = std::as_bytes(std::span(data + kControl, size - kControl));

  StreamDecoder dec(capacity);
  std::vector<std::byte> again;
  size_t at = 0;
  for (size_t i = 0; at < stream.size() && !dec.closed(); ++i) {
    const size_t n = std::min(reads[i % 4], stream.size() - at);
    const size_t before = again.size();
    const size_t took = take(dec, stream.subspan(at, n), i % 2 == 1);
    at += took;
    drain(dec, again);
    check(dec.capacity() <= kMaxStreamFrame);
    // No progress means a full buffer that next() could not empty: a stall.
    check(took > 0 || again.size() > before || dec.closed());
  }

  check(dec.consumed() == again.size());
  check(again.size() <= stream.size());
  check(again.empty() || std::memcmp(again.data(), stream.data(), again.size()) == 0);
  if (!dec.closed()) {
    // Everything was fed; what is left is an incomplete frame.
    check(at == stream.size());
    const size_t left = stream.size() - again.size();
    check(dec.buffered() == left);
    if (left >= kStreamPrefixSize) {
      const auto* p = reinterpret_cast<const uint8_t*>(stream.data() + again.size());
      const size_t length = (size_t{p[0]} << 8) | p[1];
      check(length != 0 && left < kStreamPrefixSize + length);
    }
    check(!dec.writable().empty());
  }
  return 0;
}
