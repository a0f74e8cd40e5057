// libFuzzer target for the GRO coalescer (core/offload/gro.hpp).
//
// Input: byte 0 bit 0 turns UDP coalescing on, bits 1-3 pick the batch
// capacity; then packets, each a 2-byte big-endian length and its bytes
// (the last takes what is left). Each packet is copied into a buffer of its
// own, so that a read past its end is caught by the sanitizer.
//
// Asserts, besides "no crash, hang or read outside":
//   - every part of every output lies inside an input packet, except the
//     first, which is the coalescer's header (10 bytes plus at most 100 of
//     IP and transport headers) and lies inside no input;
//   - every input packet is in exactly one output: alone, whole and
//     unchanged after a zero virtio-net header, or as a segment whose part
//     runs from its headers' end to its end;
//   - a super-packet is the segments' payloads behind one set of headers,
//     and cutting it back at gso_size gives as many segments as it took;
//   - a finish() with nothing added since the last one returns nothing
//     (the dispatcher finishes every receive batch, even one with nothing
//     to deliver, and must not write the batch before it again).
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "core/offload/gro.hpp"
#include "core/offload/virtio_net.hpp"
#include "testing/segment_forge.hpp"

namespace {

using namespace cordon::offload;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Input {
  std::unique_ptr<std::byte[]> bytes;
  size_t size;
  std::span<const std::byte> span() const { return {bytes.get(), size}; }
};

bool inside(std::span<const std::byte> part, const Input& in) {
  return part.data() >= in.bytes.get() && part.data() + part.size() <= in.bytes.get() + in.size;
}

void check_batch(const std::vector<Input>& inputs, std::span<const GroPacket> out, const GroTally& tally) {
  std::vector<int> seen(inputs.size(), 0);
  for (const GroPacket& packet : out) {
    check(packet.parts.size() >= 2);
    const auto head = packet.parts[0];
    check(head.size() >= kVirtioNetHeaderSize && head.size() <= kVirtioNetHeaderSize + 100);
    const auto header = decode_virtio_net(head);
    check(header.has_value());
    size_t payload = 0;
    for (size_t k = 1; k < packet.parts.size(); ++k) {
      const auto part = packet.parts[k];
      size_t found = inputs.size();
      for (size_t i = 0; i < inputs.size() && found == inputs.size(); ++i)
        if (seen[i] == 0 && inside(part, inputs[i]) && part.data() + part.size() == inputs[i].bytes.get() + inputs[i].size)
          found = i;
      check(found < inputs.size());
      ++seen[found];
      payload += part.size();
      if (header->gso_type == GsoType::kNone) {
        check(packet.parts.size() == 2 && part.size() == inputs[found].size && *header == VirtioNetHeader{});
      } else {
        check(part.size() + header->header_length == inputs[found].size);
        check(part.size() <= header->gso_size && part.size() > 0);
      }
    }
    for (const Input& in : inputs) check(head.empty() || !inside(head, in));
    if (header->gso_type != GsoType::kNone) {
      check(head.size() == kVirtioNetHeaderSize + header->header_length);
      check(header->header_length + payload <= 65535 && packet.parts.size() - 1 <= 64);
      std::vector<std::byte> written;
      for (auto part : packet.parts) written.insert(written.end(), part.begin(), part.end());
      check(cordon::testing::split_super_packet(written).size() == packet.parts.size() - 1);
    }
  }
  for (int s : seen) check(s == 1);
  check(tally.packets_in == inputs.size() && tally.packets_out == out.size());
  check(tally.coalesced == tally.packets_in - tally.packets_out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t capacities[] = {1, 2, 3, 5, 8, 16, 64, 1024};
  const GroOptions options{.tcp = true, .udp = (data[0] & 1) != 0, .max_packets = capacities[(data[0] >> 1) & 7]};
  Coalescer c(options);
  std::vector<Input> batch;
  const auto finish = [&] {
    check_batch(batch, c.finish(), c.tally());
    batch.clear();
    check(c.finish().empty() && c.tally().packets_in == 0 && c.tally().packets_out == 0);
  };
  size_t at = 1;
  while (at < size) {
    size_t n = size - at;
    if (n >= 2) {
      n = std::min<size_t>(size_t{data[at]} << 8 | data[at + 1], size - at - 2);
      at += 2;
    }
    Input in{std::make_unique<std::byte[]>(n), n};
    std::memcpy(in.bytes.get(), data + at, n);
    at += n;
    batch.push_back(std::move(in));
    if (!c.add(batch.back().span())) {
      Input again = std::move(batch.back());
      batch.pop_back();
      finish();
      batch.push_back(std::move(again));
      check(c.add(batch.back().span()));
    }
  }
  finish();
  return 0;
}
