// TCP tunnel stream framing (docs/protocol.md, "TCP tunnel"): the prefix
// writer and the incremental decoder, checked against a naive whole-input
// decoder (docs/design.md, practice 11).
#include "core/wire/stream_frame.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

namespace cordon::wire {
namespace {

using Bytes = std::vector<std::byte>;
using Kind = StreamFrame::Kind;

Bytes pattern(size_t n, uint32_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = std::byte((i * 131 + seed * 7 + (i >> 8)) & 0xff);
  return b;
}

void append_frame(Bytes& stream, const Bytes& datagram) {
  const auto prefix = stream_prefix(datagram.size());
  ASSERT_TRUE(prefix.has_value()) << datagram.size();
  stream.insert(stream.end(), prefix->begin(), prefix->end());
  stream.insert(stream.end(), datagram.begin(), datagram.end());
}

void append_close(Bytes& stream) { stream.insert(stream.end(), kStreamClose.begin(), kStreamClose.end()); }

// What a decoder yields for a whole stream.
struct Decoded {
  std::vector<Bytes> datagrams;
  bool closed = false;
  uint64_t consumed = 0;
  friend bool operator==(const Decoded&, const Decoded&) = default;
};

// The naive twin: walks the complete input front to back.
Decoded naive_decode(const Bytes& in) {
  Decoded d;
  size_t at = 0;
  while (in.size() - at >= kStreamPrefixSize) {
    const size_t length = (std::to_integer<size_t>(in[at]) << 8) | std::to_integer<size_t>(in[at + 1]);
    if (length == 0) {
      d.closed = true;
      d.consumed = at + kStreamPrefixSize;
      return d;
    }
    if (in.size() - at - kStreamPrefixSize < length) break;
    d.datagrams.emplace_back(in.begin() + static_cast<ptrdiff_t>(at + kStreamPrefixSize),
                             in.begin() + static_cast<ptrdiff_t>(at + kStreamPrefixSize + length));
    at += kStreamPrefixSize + length;
  }
  d.consumed = at;
  return d;
}

// Pulls every complete frame into `out`.
void drain(StreamDecoder& dec, Decoded& out) {
  for (;;) {
    const StreamFrame f = dec.next();
    if (f.kind == Kind::kNeedMore) return;
    if (f.kind == Kind::kClose) {
      out.closed = true;
      return;
    }
    out.datagrams.emplace_back(f.datagram.begin(), f.datagram.end());
  }
}

// Feeds `chunk` completely (pulling frames whenever the decoder is full)
// unless the stream closes first.
void feed_chunk(StreamDecoder& dec, std::span<const std::byte> chunk, Decoded& out) {
  while (!chunk.empty() && !dec.closed()) {
    const size_t taken = dec.feed(chunk);
    chunk = chunk.subspan(taken);
    const size_t before = out.datagrams.size();
    drain(dec, out);
    // No progress at all would loop forever: feed() may refuse bytes only
    // when complete frames wait to be pulled, or after the close.
    ASSERT_TRUE(taken > 0 || out.datagrams.size() > before || out.closed) << "decoder stuck";
    ASSERT_LE(dec.capacity(), kMaxStreamFrame);
  }
  drain(dec, out);
}

// Decodes `in` fed in chunks whose sizes come from `sizes` (cycled).
Decoded decode_in_chunks(const Bytes& in, const std::vector<size_t>& sizes, size_t capacity) {
  StreamDecoder dec(capacity);
  Decoded out;
  size_t at = 0;
  for (size_t i = 0; at < in.size(); ++i) {
    const size_t n = std::min(std::max<size_t>(sizes[i % sizes.size()], 1), in.size() - at);
    feed_chunk(dec, std::span(in).subspan(at, n), out);
    at += n;
  }
  out.consumed = dec.consumed();
  return out;
}

Bytes sample_stream() {
  Bytes s;
  append_frame(s, pattern(1, 1));
  append_frame(s, pattern(300, 2));
  append_frame(s, pattern(2, 3));
  append_frame(s, pattern(1500, 4));
  append_close(s);
  return s;
}

TEST(StreamPrefix, KnownBytes) {
  const auto one = stream_prefix(1);
  ASSERT_TRUE(one);
  EXPECT_EQ(*one, (std::array<std::byte, 2>{std::byte{0x00}, std::byte{0x01}}));
  const auto mid = stream_prefix(0x1234);
  ASSERT_TRUE(mid);
  EXPECT_EQ(*mid, (std::array<std::byte, 2>{std::byte{0x12}, std::byte{0x34}}));
  const auto max = stream_prefix(kMaxStreamDatagram);
  ASSERT_TRUE(max);
  EXPECT_EQ(*max, (std::array<std::byte, 2>{std::byte{0xff}, std::byte{0xff}}));
  EXPECT_EQ(kStreamClose, (std::array<std::byte, 2>{}));
}

TEST(StreamPrefix, RefusesEmptyAndOversizedDatagrams) {
  EXPECT_FALSE(stream_prefix(0));
  EXPECT_FALSE(stream_prefix(kMaxStreamDatagram + 1));
  EXPECT_FALSE(stream_prefix(SIZE_MAX));
}

TEST(StreamDecoder, SplitAtEveryByteOffset) {
  const Bytes s = sample_stream();
  const Decoded want = naive_decode(s);
  ASSERT_EQ(want.datagrams.size(), 4u);
  ASSERT_TRUE(want.closed);
  for (size_t capacity : {size_t{2}, size_t{64}, StreamDecoder::kDefaultCapacity}) {
    for (size_t k = 0; k <= s.size(); ++k) {
      StreamDecoder dec(capacity);
      Decoded got;
      feed_chunk(dec, std::span(s).first(k), got);
      feed_chunk(dec, std::span(s).subspan(k), got);
      got.consumed = dec.consumed();
      ASSERT_EQ(got, want) << "split at " << k << ", capacity " << capacity;
    }
  }
}

TEST(StreamDecoder, OneByteAtATime) {
  for (size_t capacity : {size_t{2}, size_t{3}, StreamDecoder::kDefaultCapacity}) {
    const Bytes s = sample_stream();
    EXPECT_EQ(decode_in_chunks(s, {1}, capacity), naive_decode(s)) << capacity;
  }
}

TEST(StreamDecoder, ManyFramesInOneFeed) {
  Bytes s;
  std::mt19937 rng(11);
  for (uint32_t i = 0; i < 1000; ++i) append_frame(s, pattern(1 + rng() % 1600, i));
  const Decoded want = naive_decode(s);
  ASSERT_EQ(want.datagrams.size(), 1000u);
  // Several buffers' worth in one go: feed() takes what fits, the frames
  // are pulled, and the rest goes in.
  EXPECT_EQ(decode_in_chunks(s, {s.size()}, StreamDecoder::kDefaultCapacity), want);

  // One feed that fits entirely: every view of the batch stays valid until
  // the next feed, so a caller can handle them together.
  Bytes small;
  for (uint32_t i = 0; i < 50; ++i) append_frame(small, pattern(1 + i * 3, i));
  StreamDecoder dec;
  ASSERT_EQ(dec.feed(small), small.size());
  std::vector<std::span<const std::byte>> views;
  for (StreamFrame f = dec.next(); f.kind == Kind::kDatagram; f = dec.next()) views.push_back(f.datagram);
  ASSERT_EQ(views.size(), 50u);
  for (uint32_t i = 0; i < 50; ++i) {
    const Bytes expect = pattern(1 + i * 3, i);
    ASSERT_TRUE(std::equal(views[i].begin(), views[i].end(), expect.begin(), expect.end())) << i;
  }
  EXPECT_EQ(dec.buffered(), 0u);
  EXPECT_EQ(dec.consumed(), small.size());
}

TEST(StreamDecoder, MaxSizeDatagramsGrowTheBufferToOneFrameOnly) {
  Bytes s;
  append_frame(s, pattern(kMaxStreamDatagram, 1));
  append_frame(s, pattern(kMaxStreamDatagram, 2));
  append_frame(s, pattern(7, 3));
  append_frame(s, pattern(kMaxStreamDatagram, 4));
  const Decoded want = naive_decode(s);
  ASSERT_EQ(want.datagrams.size(), 4u);
  for (size_t chunk : {size_t{1}, size_t{1000}, size_t{65536}, s.size()}) {
    StreamDecoder dec;
    EXPECT_EQ(dec.capacity(), StreamDecoder::kDefaultCapacity);
    Decoded got;
    for (size_t at = 0; at < s.size(); at += chunk) {
      feed_chunk(dec, std::span(s).subspan(at, std::min(chunk, s.size() - at)), got);
      ASSERT_LE(dec.capacity(), kMaxStreamFrame);
    }
    got.consumed = dec.consumed();
    EXPECT_EQ(got, want) << chunk;
    EXPECT_EQ(dec.capacity(), kMaxStreamFrame);
  }
}

TEST(StreamDecoder, SmallDatagramsKeepTheInitialBuffer) {
  Bytes s;
  for (uint32_t i = 0; i < 200; ++i) append_frame(s, pattern(1400, i));
  StreamDecoder dec;
  Decoded got;
  feed_chunk(dec, s, got);
  EXPECT_EQ(got.datagrams.size(), 200u);
  EXPECT_EQ(dec.capacity(), StreamDecoder::kDefaultCapacity);
}

TEST(StreamDecoder, ZeroLengthCloses) {
  Bytes s;
  append_frame(s, pattern(10, 1));
  append_close(s);
  const size_t marker_end = s.size();
  append_frame(s, pattern(10, 2));  // after the close: not part of the stream

  StreamDecoder dec;
  EXPECT_EQ(dec.feed(s), s.size());  // all fits; the close is found by next()
  StreamFrame f = dec.next();
  ASSERT_EQ(f.kind, Kind::kDatagram);
  EXPECT_EQ(f.datagram.size(), 10u);
  EXPECT_FALSE(dec.closed());
  EXPECT_EQ(dec.next().kind, Kind::kClose);
  EXPECT_TRUE(dec.closed());
  EXPECT_EQ(dec.consumed(), marker_end);
  EXPECT_EQ(dec.buffered(), 0u);  // what followed the marker is gone
  EXPECT_FALSE(dec.mid_frame());
  // Sticky, and nothing more goes in.
  EXPECT_EQ(dec.next().kind, Kind::kClose);
  EXPECT_TRUE(dec.writable().empty());
  EXPECT_EQ(dec.feed(s), 0u);
  EXPECT_EQ(dec.consumed(), marker_end);
}

TEST(StreamDecoder, CloseMarkerAloneAndSplit) {
  StreamDecoder dec;
  EXPECT_EQ(dec.feed(std::span(kStreamClose).first(1)), 1u);
  EXPECT_EQ(dec.next().kind, Kind::kNeedMore);
  EXPECT_TRUE(dec.mid_frame());
  EXPECT_EQ(dec.feed(std::span(kStreamClose).subspan(1)), 1u);
  EXPECT_EQ(dec.next().kind, Kind::kClose);
  EXPECT_EQ(dec.consumed(), 2u);
}

TEST(StreamDecoder, MidFrameTellsACutDatagram) {
  Bytes s;
  append_frame(s, pattern(100, 1));
  StreamDecoder dec;
  EXPECT_FALSE(dec.mid_frame());
  dec.feed(std::span(s).first(50));
  EXPECT_EQ(dec.next().kind, Kind::kNeedMore);
  EXPECT_TRUE(dec.mid_frame());
  EXPECT_EQ(dec.buffered(), 50u);
  dec.feed(std::span(s).subspan(50));
  EXPECT_EQ(dec.next().kind, Kind::kDatagram);
  EXPECT_FALSE(dec.mid_frame());
}

TEST(StreamDecoder, ZeroCopyPathWithShortReads) {
  Bytes s;
  std::mt19937 rng(5);
  for (uint32_t i = 0; i < 300; ++i) append_frame(s, pattern(1 + rng() % (i % 50 == 0 ? 65535 : 2000), i));
  append_close(s);
  const Decoded want = naive_decode(s);

  StreamDecoder dec(64);
  Decoded got;
  size_t at = 0;
  while (!dec.closed()) {
    const std::span<std::byte> room = dec.writable();
    ASSERT_FALSE(room.empty()) << "a decoder with no complete frame must have room";
    // A "read" of at most 1..5000 bytes, like a socket returning less.
    const size_t n = std::min({room.size(), s.size() - at, size_t{1} + rng() % 5000});
    ASSERT_GT(n, 0u);
    std::memcpy(room.data(), s.data() + at, n);
    dec.commit(n);
    at += n;
    drain(dec, got);
  }
  got.consumed = dec.consumed();
  EXPECT_EQ(got, want);
}

TEST(StreamDecoder, CommitIsClampedToTheRoom) {
  StreamDecoder dec(2);
  const size_t room = dec.writable().size();
  dec.commit(room + 1000);
  EXPECT_EQ(dec.buffered(), room);
}

TEST(StreamDecoder, GarbageMatchesTheNaiveDecoder) {
  std::mt19937 rng(99);
  for (int round = 0; round < 300; ++round) {
    Bytes s(rng() % 70000);
    // Mostly small lengths so that many frames complete; some rounds are
    // plain noise with huge lengths.
    for (auto& b : s) b = std::byte(rng() % (round % 3 == 0 ? 256 : 4));
    std::vector<size_t> sizes;
    for (int i = 0; i < 8; ++i) sizes.push_back(1 + rng() % (round % 2 ? 17 : 9000));
    const size_t capacity = (round % 4 == 0) ? 2 + rng() % 100 : StreamDecoder::kDefaultCapacity;
    ASSERT_EQ(decode_in_chunks(s, sizes, capacity), naive_decode(s)) << "round " << round;
  }
}

}  // namespace
}  // namespace cordon::wire
