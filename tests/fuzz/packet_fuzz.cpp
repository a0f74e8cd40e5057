// libFuzzer target for the receive path: header parse, link lookup, time and
// replay checks, decryption, inner-packet parse. The first input byte picks
// the mode:
//   even: the rest is a raw datagram, as an attacker would send it;
//   odd:  the rest is XORed over a genuine sealed datagram, so mutations
//         reach the checks behind authentication.
// Nothing may crash, hang or leak; every datagram must end in a verdict.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "core/node.hpp"
#include "core/wire/header.hpp"

namespace {

using namespace cordon;

constexpr int64_t kT0 = int64_t{1'800'000'000} * kNsPerSecond;

PeerConfig make_peer(uint32_t id, uint8_t fill, const char* prefix, crypto::Suite suite) {
  PeerConfig p;
  p.id = HostId{id};
  p.link_key = crypto::SecretBytes(kLinkKeySize);
  for (auto& b : p.link_key.mutable_view()) b = std::byte{fill};
  p.allowed_prefixes = {*Prefix::parse(prefix)};
  p.endpoint = Endpoint::parse("192.0.2.9:51820");
  p.suite = suite;
  return p;
}

struct World {
  std::unique_ptr<Node> sender, receiver;
  std::vector<std::byte> genuine;

  World() {
    const Now now{1, kT0};
    NodeConfig a;
    a.self = HostId{0x0001000a};
    a.peers.push_back(make_peer(0x0001000b, 1, "10.0.0.2/32", crypto::Suite::kAes256Gcm));
    sender = std::make_unique<Node>(std::move(a), 1, 0, now);
    NodeConfig b;
    b.self = HostId{0x0001000b};
    b.peers.push_back(make_peer(0x0001000a, 1, "10.0.0.1/32", crypto::Suite::kAes256Gcm));
    b.peers.push_back(make_peer(0x0002000a, 2, "10.0.1.0/24", crypto::Suite::kAes256Siv));  // same host number
    b.peers.push_back(make_peer(0x0001000c, 3, "fd00::/64", crypto::Suite::kChaCha20Poly1305));
    receiver = std::make_unique<Node>(std::move(b), 1, 0, now);
    const auto t = sender->tick(now);
    sender->counter_floor_persisted(*t.persist_counter_floor);
    // A 40-byte IPv4 packet 10.0.0.1 -> 10.0.0.2.
    std::vector<std::byte> buf(wire::kHeadroom + 40 + wire::kTailroom);
    std::byte* ip = buf.data() + wire::kHeadroom;
    ip[0] = std::byte{0x45};
    ip[3] = std::byte{40};
    ip[12] = std::byte{10}, ip[15] = std::byte{1};
    ip[16] = std::byte{10}, ip[19] = std::byte{2};
    TxSlot slot;
    slot.buffer = buf;
    slot.headroom = wire::kHeadroom;
    slot.length = 40;
    sender->process_tun(0, now, std::span(&slot, 1));
    genuine.assign(slot.wire.begin(), slot.wire.end());
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  if (size == 0) return 0;
  std::vector<std::byte> datagram;
  if (data[0] % 2 == 0) {
    datagram.resize(size - 1);
    if (size > 1) std::memcpy(datagram.data(), data + 1, size - 1);
  } else {
    datagram = world.genuine;
    for (size_t i = 1; i < size && i - 1 < datagram.size(); ++i) datagram[i - 1] ^= std::byte{data[i]};
    if (size > 1 && data[1] % 7 == 0) datagram.resize(datagram.size() - std::min<size_t>(datagram.size(), data[1] / 7));
  }
  // Vary the receiver's clock a little so the time checks see both sides.
  const int64_t skew = size > 2 ? (int64_t{data[size - 1]} - 128) * 2 * kNsPerSecond : 0;
  RxSlot slot;
  slot.from = *Endpoint::parse("198.51.100.1:1000");
  slot.data = datagram;
  world.receiver->process_wire(0, Now{2, kT0 + skew}, std::span(&slot, 1));
  if (slot.verdict == Verdict::kDeliver && (slot.inner.data() < datagram.data() ||
                                            slot.inner.data() + slot.inner.size() > datagram.data() + datagram.size())) {
    __builtin_trap();  // the inner packet must lie inside the datagram
  }
  return 0;
}
