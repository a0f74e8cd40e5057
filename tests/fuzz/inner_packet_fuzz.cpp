// libFuzzer target for the parsers of the send path: wire::parse_inner (the
// inner IPv4/IPv6 packet), wire::parse_header (the 8-byte datagram header),
// and Node::process_tun, which takes arbitrary bytes from the tunnel device.
//
// Input: the first byte picks the slot geometry (bits 0-1 headroom, bits 2-3
// tailroom, bit 4 a length that overstates the buffer) so that the core's
// buffer checks are fed too; the rest is the packet.
//
// Asserts, besides "no crash, hang or leak":
//   - parse_inner's length lies within the input and covers the IP header;
//   - parse_header accepts only datagrams that can hold header and tag, and
//     write_header gives back the exact 8 bytes it parsed;
//   - a datagram process_tun delivers lies inside the slot's buffer, right
//     before the inner packet, and is header + inner length + tag; the peer
//     it goes to opens it to the very same inner bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "core/node.hpp"
#include "core/wire/header.hpp"
#include "core/wire/inner_packet.hpp"

namespace {

using namespace cordon;

constexpr int64_t kT0 = int64_t{1'800'000'000} * kNsPerSecond;
constexpr uint32_t kSelf = 0x0001000a;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

PeerConfig make_peer(uint32_t id, uint8_t fill, std::vector<const char*> prefixes, crypto::Suite suite,
                     const char* endpoint) {
  PeerConfig p;
  p.id = HostId{id};
  p.link_key = crypto::SecretBytes(kLinkKeySize);
  for (auto& b : p.link_key.mutable_view()) b = std::byte{fill};
  for (const char* prefix : prefixes) p.allowed_prefixes.push_back(*Prefix::parse(prefix));
  if (endpoint) p.endpoint = Endpoint::parse(endpoint);
  p.suite = suite;
  return p;
}

// One sender with a peer per suite (one IPv4, one IPv6, one dual-stack) and
// a peer whose endpoint is unknown; one receiver per reachable peer, which
// accepts any inner source from the sender so that every sealed packet must
// come back out unchanged.
struct World {
  struct Link {
    uint32_t id;
    uint8_t key;
    std::vector<const char*> prefixes;
    crypto::Suite suite;
    const char* endpoint;
  };
  const std::vector<Link> links = {
      {0x0001000b, 1, {"10.0.0.0/24"}, crypto::Suite::kAes256Gcm, "192.0.2.11:1011"},
      {0x0001000c, 2, {"fd00::/64"}, crypto::Suite::kChaCha20Poly1305, "192.0.2.12:1012"},
      {0x0001000d, 3, {"10.0.1.0/24", "fd00:1::/64"}, crypto::Suite::kAes256Siv, "[2001:db8::13]:1013"},
      {0x0001000e, 4, {"10.0.2.0/24"}, crypto::Suite::kAes256Gcm, nullptr},  // no endpoint yet
  };

  std::unique_ptr<Node> sender;
  std::map<uint16_t, std::unique_ptr<Node>> receivers;  // by endpoint port
  int64_t step = 0;

  World() {
    NodeConfig a;
    a.self = HostId{kSelf};
    for (const Link& l : links) a.peers.push_back(make_peer(l.id, l.key, l.prefixes, l.suite, l.endpoint));
    sender = std::make_unique<Node>(std::move(a), 1, 0, now());
    for (const Link& l : links) {
      if (!l.endpoint) continue;
      NodeConfig b;
      b.self = HostId{l.id};
      b.peers.push_back(make_peer(kSelf, l.key, {"0.0.0.0/0", "::/0"}, l.suite, nullptr));
      receivers[Endpoint::parse(l.endpoint)->port] = std::make_unique<Node>(std::move(b), 1, 0, now());
    }
  }

  // The clock moves 1 ms per input so the counters never run ahead of it.
  Now now() const { return Now{1 + step * kNsPerMs, kT0 + step * kNsPerMs}; }

  // What the daemon's control thread does: persist every floor asked for.
  void advance() {
    ++step;
    const auto t = sender->tick(now());
    if (t.persist_counter_floor) sender->counter_floor_persisted(*t.persist_counter_floor);
  }
};

void fuzz_parse_inner(std::span<const std::byte> packet) {
  const auto inner = wire::parse_inner(packet);
  if (!inner) return;
  check(inner->length <= packet.size());
  check(inner->source.is_v4() == inner->destination.is_v4());
  check(inner->length >= (inner->source.is_v4() ? size_t{20} : size_t{40}));
}

void fuzz_parse_header(std::span<const std::byte> datagram) {
  const auto parsed = wire::parse_header(datagram);
  if (!parsed.header) return;
  check(datagram.size() >= wire::kOverhead);
  std::array<std::byte, wire::kHeaderSize> again{};
  wire::write_header(*parsed.header, again);
  check(std::memcmp(again.data(), datagram.data(), wire::kHeaderSize) == 0);
}

void fuzz_process_tun(World& world, uint8_t geometry, std::span<const std::byte> packet) {
  constexpr size_t kHeadrooms[] = {wire::kHeadroom, wire::kHeaderSize, wire::kHeaderSize - 1, 0};
  constexpr size_t kTailrooms[] = {wire::kTailroom, wire::kTailroom - 1, 0, 64};
  const size_t headroom = kHeadrooms[geometry & 3];
  const size_t tailroom = kTailrooms[(geometry >> 2) & 3];
  std::vector<std::byte> buffer(headroom + packet.size() + tailroom);
  if (!packet.empty()) std::memcpy(buffer.data() + headroom, packet.data(), packet.size());

  world.advance();
  TxSlot slot;
  slot.buffer = buffer;
  slot.headroom = headroom;
  slot.length = packet.size() + ((geometry & 0x10) ? tailroom + 1 : 0);
  world.sender->process_tun(0, world.now(), std::span(&slot, 1));

  if (slot.verdict != Verdict::kDeliver) {
    check(slot.wire.empty());
    check(slot.reason != DropReason::kNonceReservation && slot.reason != DropReason::kCryptoError);
    return;
  }
  const auto inner = wire::parse_inner(packet);
  check(inner.has_value());
  check(slot.wire.data() == buffer.data() + headroom - wire::kHeaderSize);
  check(slot.wire.size() == inner->length + wire::kOverhead);
  const auto header = wire::parse_header(slot.wire);
  check(header.header && header.header->sender_host == HostId{kSelf}.host());

  // The receiver opens it in place, to the bytes that went in.
  auto receiver = world.receivers.find(slot.to.port);
  check(receiver != world.receivers.end());
  std::vector<std::byte> datagram(slot.wire.begin(), slot.wire.end());
  RxSlot rx;
  rx.from = *Endpoint::parse("198.51.100.1:1000");
  rx.data = datagram;
  receiver->second->process_wire(0, world.now(), std::span(&rx, 1));
  check(rx.verdict == Verdict::kDeliver);
  check(rx.inner.size() == inner->length && std::memcmp(rx.inner.data(), packet.data(), inner->length) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  if (size == 0) return 0;
  const auto packet = std::as_bytes(std::span(data + 1, size - 1));
  fuzz_parse_inner(packet);
  fuzz_parse_header(packet);
  fuzz_process_tun(world, data[0], packet);
  return 0;
}
