// daemon/drop_sample.hpp: a typo in an `id` reaches the drop log with the
// sender's host number and address. Two real nodes, the receiver's datagrams
// judged by the core and dispatched by the daemon's dispatcher.
#include "daemon/drop_sample.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "core/node.hpp"
#include "core/wire/header.hpp"
#include "daemon/verdict_dispatch.hpp"

namespace cordon::daemon {
namespace {

using Bytes = std::vector<std::byte>;

constexpr int64_t kT0 = int64_t{1'800'000'000} * kNsPerSecond;

struct NullTun final : os::TunQueue {
  os::Result<size_t> read(std::span<const std::span<std::byte>>, std::span<size_t>, size_t) override {
    return size_t{0};
  }
  os::Status write(std::span<const std::byte>) override { return os::Ok{}; }
};
struct NullSocket final : os::DatagramSocket {
  os::Result<size_t> receive(std::span<os::Datagram>) override { return size_t{0}; }
  os::Result<size_t> send(std::span<const os::Datagram> batch) override { return batch.size(); }
};
struct NullStreams final : StreamSink {
  bool push(uint32_t, std::span<const std::byte>) override { return true; }
};

PeerConfig peer(uint32_t host, const char* prefix, std::optional<Endpoint> endpoint) {
  PeerConfig p;
  p.id = HostId{host};
  p.endpoint = endpoint;
  p.link_key = crypto::SecretBytes(kLinkKeySize);
  for (auto& b : p.link_key.mutable_view()) b = std::byte{7};  // the same key file on both ends
  p.allowed_prefixes = {*Prefix::parse(prefix)};
  return p;
}

// An IPv4 packet from 10.77.0.1 to 10.77.0.2.
Bytes ip_packet() {
  Bytes p(28);
  p[0] = std::byte{0x45};
  p[3] = std::byte{28};
  p[8] = std::byte{64};
  p[9] = std::byte{17};
  const uint8_t src[] = {10, 77, 0, 1}, dst[] = {10, 77, 0, 2};
  std::memcpy(p.data() + 12, src, 4);
  std::memcpy(p.data() + 16, dst, 4);
  return p;
}

class DropSampleTest : public ::testing::Test {
 protected:
  const Endpoint ea = *Endpoint::parse("192.0.2.1:51820"), eb = *Endpoint::parse("192.0.2.2:51820");
  const Now now{1, kT0};

  // The sender as configured: its own ID, and the ID it has for the receiver.
  Bytes datagram_from(uint32_t self, uint32_t receiver) {
    NodeConfig c;
    c.self = HostId{self};
    c.peers.push_back(peer(receiver, "10.77.0.2/32", eb));
    Node a(std::move(c), 1, 0, now);
    if (auto t = a.tick(now); t.persist_counter_floor) a.counter_floor_persisted(*t.persist_counter_floor);
    const Bytes packet = ip_packet();
    Bytes buffer(wire::kHeadroom + packet.size() + wire::kTailroom);
    std::memcpy(buffer.data() + wire::kHeadroom, packet.data(), packet.size());
    TxSlot slot{.buffer = buffer, .headroom = wire::kHeadroom, .length = packet.size()};
    a.process_tun(0, now, std::span(&slot, 1));
    EXPECT_EQ(slot.verdict, Verdict::kDeliver);
    return Bytes(slot.wire.begin(), slot.wire.end());
  }

  // The receiver 0x0001000b, with a peer 0x0001000a, judges it.
  DispatchTally receive(Bytes datagram) {
    NodeConfig c;
    c.self = HostId{0x0001000b};
    c.peers.push_back(peer(0x0001000a, "10.77.0.1/32", std::nullopt));
    Node b(std::move(c), 1, 0, now);
    RxSlot slot{.from = ea, .data = datagram};
    b.process_wire(0, now, std::span(&slot, 1));
    NullTun tun;
    NullSocket socket;
    NullStreams streams;
    VerdictDispatch dispatch(tun, socket, streams);
    return dispatch.received(std::span(&slot, 1));
  }
};

TEST_F(DropSampleTest, TypoInTheReceiversIdOnTheSenderIsAnAuthFailureFromItsHostNumber) {
  const DispatchTally t = receive(datagram_from(0x0001000a, 0x0001000c));  // b's ID mistyped at a
  ASSERT_TRUE(t.auth_failure.has_value());
  EXPECT_FALSE(t.unknown_peer.has_value());
  EXPECT_EQ(t.auth_failure->sender_host, 0x000a);
  EXPECT_EQ(t.auth_failure->from, ea);
  const std::string cause = drop_cause(DropReason::kAuthFailure, t.auth_failure);
  for (const char* needle : {"from 192.0.2.1:51820 with host number 0x000a", "different link keys",
                             "another ID for this host or for itself", "`id` values"}) {
    EXPECT_NE(cause.find(needle), std::string::npos) << "missing: " << needle << "\n" << cause;
  }
}

TEST_F(DropSampleTest, TypoInTheSendersOwnHostNumberIsAnUnknownPeer) {
  const DispatchTally t = receive(datagram_from(0x0001000d, 0x0001000b));  // a's own host.id mistyped
  ASSERT_TRUE(t.unknown_peer.has_value());
  EXPECT_FALSE(t.auth_failure.has_value());
  EXPECT_EQ(t.unknown_peer->sender_host, 0x000d);
  const std::string cause = drop_cause(DropReason::kUnknownPeer, t.unknown_peer);
  EXPECT_NE(cause.find("from 192.0.2.1:51820 with host number 0x000d: no peer here has that host number"),
            std::string::npos)
      << cause;
}

TEST_F(DropSampleTest, AnAuthenticDatagramLeavesNoSample) {
  const DispatchTally t = receive(datagram_from(0x0001000a, 0x0001000b));
  EXPECT_EQ(t.delivered, 1u);
  EXPECT_FALSE(t.auth_failure.has_value());
  EXPECT_FALSE(t.unknown_peer.has_value());
}

TEST(DropSampleSlot, KeepsTheFirstOfferUntilTaken) {
  DropSampleSlot slot;
  EXPECT_FALSE(slot.take().has_value());
  slot.offer(DropSample{1, *Endpoint::parse("192.0.2.1:1")});
  slot.offer(DropSample{2, *Endpoint::parse("192.0.2.2:2")});
  auto first = slot.take();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->sender_host, 1);
  EXPECT_FALSE(slot.take().has_value());
  slot.offer(DropSample{3, *Endpoint::parse("192.0.2.3:3")});
  EXPECT_EQ(slot.take()->sender_host, 3);
  // Without a sample the cause is still named.
  EXPECT_NE(drop_cause(DropReason::kAuthFailure, std::nullopt).find("both IDs are in the key derivation"),
            std::string::npos);
  EXPECT_EQ(drop_cause(DropReason::kUnknownPeer, std::nullopt).rfind("unknown_peer: no peer here", 0), 0u);
  EXPECT_TRUE(drop_cause(DropReason::kReplay, std::nullopt).empty());
}

}  // namespace
}  // namespace cordon::daemon
