// daemon/verdict_dispatch.hpp: one table of verdicts and what each does,
// on recording edges; and the edge fakes (testing/fake_tun.hpp,
// testing/fake_transport.hpp) cutting what does not fit, as the kernel does.
#include "daemon/verdict_dispatch.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <vector>

#include "core/offload/virtio_net.hpp"
#include "testing/fake_tun.hpp"
#include "testing/manual_clock.hpp"
#include "testing/segment_forge.hpp"
#include "testing/sim_network.hpp"

namespace cordon::daemon {
namespace {

using Bytes = std::vector<std::byte>;

struct RecordingTun final : os::TunQueue {
  os::Result<size_t> read(std::span<const std::span<std::byte>>, std::span<size_t>, size_t) override {
    return size_t{0};
  }
  os::Status write(std::span<const std::byte> packet) override {
    if (refuse) return os::sys_error("write to TUN device test", EIO);
    written.emplace_back(packet.begin(), packet.end());
    return os::Ok{};
  }
  bool refuse = false;
  std::vector<Bytes> written;
};

// A TUN queue with virtio-net headers that refuses, as Linux's tun_get_user
// does with EINVAL, a packet that does not start with IP version 4 or 6.
struct RecordingOffloadTun final : os::TunQueue, os::TunOffload {
  os::Result<size_t> read(std::span<const std::span<std::byte>>, std::span<size_t>, size_t) override {
    return size_t{0};
  }
  os::Status write(std::span<const std::byte> packet) override {
    const std::span<const std::byte> parts[] = {header, packet};
    return write_offloaded(parts);
  }
  os::Result<size_t> read_offloaded(std::span<std::byte>, std::span<std::byte>) override { return size_t{0}; }
  os::Status write_offloaded(std::span<const std::span<const std::byte>> parts) override {
    Bytes whole;
    for (const auto& part : parts) whole.insert(whole.end(), part.begin(), part.end());
    const size_t at = offload::kVirtioNetHeaderSize;
    const size_t version = whole.size() > at ? std::to_integer<size_t>(whole[at]) >> 4 : 0;
    if (version != 4 && version != 6) return os::sys_error("write to TUN device test", EINVAL);
    written.push_back(std::move(whole));
    return os::Ok{};
  }
  os::TunFeatures features() const override { return {.checksum = true, .tso = true}; }
  std::array<std::byte, offload::kVirtioNetHeaderSize> header{};
  std::vector<Bytes> written;
};

struct RecordingSocket final : os::DatagramSocket {
  os::Result<size_t> receive(std::span<os::Datagram>) override { return size_t{0}; }
  os::Result<size_t> send(std::span<const os::Datagram> batch) override {
    if (!batch.empty() && batch[0].peer == unreachable) return os::sys_error("send UDP", ENETUNREACH);
    for (const os::Datagram& d : batch) {
      if (d.peer == unreachable) return static_cast<size_t>(&d - batch.data());
      sent.push_back({d.peer, Bytes(d.data.begin(), d.data.begin() + d.length)});
    }
    return batch.size();
  }
  Endpoint unreachable;
  std::vector<std::pair<Endpoint, Bytes>> sent;
};

struct RecordingStreams final : StreamSink {
  bool push(uint32_t stream, std::span<const std::byte> datagram) override {
    if (full) return false;
    pushed[stream].emplace_back(datagram.begin(), datagram.end());
    return true;
  }
  bool full = false;
  std::map<uint32_t, std::vector<Bytes>> pushed;
};

Endpoint ep(uint8_t last, uint16_t port, uint32_t stream = 0) {
  Endpoint e{.address = IpAddress::v4({10, 0, 0, last}), .port = port};
  e.stream = stream;
  return e;
}

struct Edges {
  RecordingTun tun;
  RecordingSocket socket;
  RecordingStreams streams;
  VerdictDispatch dispatch{tun, socket, streams};
};

TEST(VerdictDispatch, ReceivedVerdictsGoWhereTheyName) {
  Edges e;
  Bytes buffers[6];
  for (auto& b : buffers) b = Bytes(64, std::byte{0x5a});
  std::vector<RxSlot> slots(6);
  for (size_t i = 0; i < slots.size(); ++i) slots[i] = RxSlot{.from = ep(1, 1000), .data = buffers[i]};
  slots[0].verdict = Verdict::kDeliver;
  slots[0].inner = std::span<const std::byte>(buffers[0]).subspan(8, 20);
  slots[1].verdict = Verdict::kForward;  // relayed over UDP: to `to`, never back to `from`
  slots[1].to = ep(2, 2000);
  slots[1].wire = std::span<const std::byte>(buffers[1]).subspan(4, 40);
  slots[2].verdict = Verdict::kForward;  // relayed onto a TCP tunnel stream
  slots[2].to = ep(3, 3000, 7);
  slots[2].wire = std::span<const std::byte>(buffers[2]).first(30);
  slots[3].verdict = Verdict::kControl;
  slots[4].verdict = Verdict::kConsumed;
  slots[5].verdict = Verdict::kDrop;

  const DispatchTally t = e.dispatch.received(slots);
  EXPECT_EQ(t.delivered, 1u);
  EXPECT_EQ(t.forwarded, 2u);
  EXPECT_EQ(t.sent, 1u);
  EXPECT_EQ(t.streamed, 1u);
  EXPECT_EQ(t.control, 1u);
  EXPECT_EQ(t.consumed, 1u);
  EXPECT_EQ(t.dropped, 1u);
  EXPECT_EQ(t.contract_violations, 0u);
  EXPECT_TRUE(t.wake());
  ASSERT_EQ(e.tun.written.size(), 1u);
  EXPECT_EQ(e.tun.written[0].size(), 20u);
  ASSERT_EQ(e.socket.sent.size(), 1u);
  EXPECT_EQ(e.socket.sent[0].first, ep(2, 2000));
  EXPECT_EQ(e.socket.sent[0].second.size(), 40u);
  ASSERT_EQ(e.streams.pushed[7].size(), 1u);
  EXPECT_EQ(e.streams.pushed[7][0].size(), 30u);
}

TEST(VerdictDispatch, SealedDatagramsGoToTheSocketOrTheirStream) {
  Edges e;
  Bytes a(100), b(100), c(100);
  std::vector<TxSlot> slots = {
      TxSlot{.buffer = a, .headroom = 32, .length = 20, .verdict = Verdict::kDeliver, .to = ep(2, 2000),
             .wire = std::span<const std::byte>(a).subspan(16, 60)},
      TxSlot{.buffer = b, .headroom = 32, .length = 20, .verdict = Verdict::kDeliver, .to = ep(3, 3000, 9),
             .wire = std::span<const std::byte>(b).subspan(16, 50)},
      TxSlot{.buffer = c, .headroom = 32, .length = 20, .verdict = Verdict::kDrop, .reason = DropReason::kNoRoute},
  };
  const DispatchTally t = e.dispatch.sealed(slots);
  EXPECT_EQ(t.sent, 1u);
  EXPECT_EQ(t.streamed, 1u);
  EXPECT_EQ(t.dropped, 1u);
  EXPECT_EQ(t.contract_violations, 0u);
  ASSERT_EQ(e.socket.sent.size(), 1u);
  EXPECT_EQ(e.socket.sent[0].second.size(), 60u);
  EXPECT_EQ(e.streams.pushed[9].size(), 1u);
}

TEST(VerdictDispatch, BrokenContractsAreCountedAndNothingLeaves) {
  Edges e;
  Bytes buffer(64), elsewhere(64);
  std::vector<RxSlot> rx(2, RxSlot{.from = ep(1, 1000), .data = buffer});
  rx[0].verdict = Verdict::kDeliver;
  rx[0].inner = std::span<const std::byte>(buffer).subspan(60, 8);  // runs past the end
  rx[1].verdict = Verdict::kForward;
  rx[1].to = ep(2, 2000);
  rx[1].wire = std::span<const std::byte>(elsewhere).first(10);  // another buffer
  EXPECT_EQ(e.dispatch.received(rx).contract_violations, 2u);

  std::vector<TxSlot> tx(2, TxSlot{.buffer = buffer, .headroom = 32, .length = 10});
  tx[0].verdict = Verdict::kDeliver;  // an empty datagram
  tx[0].to = ep(2, 2000);
  tx[1].verdict = Verdict::kForward;  // a receive-side verdict
  EXPECT_EQ(e.dispatch.sealed(tx).contract_violations, 2u);
  EXPECT_TRUE(e.tun.written.empty());
  EXPECT_TRUE(e.socket.sent.empty());
}

TEST(VerdictDispatch, FailuresCostOnlyTheirOwnDatagram) {
  Edges e;
  e.socket.unreachable = ep(9, 9000);
  e.streams.full = true;
  e.tun.refuse = true;
  Bytes buffers[4];
  for (auto& b : buffers) b = Bytes(64);
  std::vector<RxSlot> rx(4);
  for (size_t i = 0; i < rx.size(); ++i) {
    rx[i] = RxSlot{.from = ep(1, 1000), .data = buffers[i], .verdict = Verdict::kForward, .to = ep(2, 2000),
                   .wire = std::span<const std::byte>(buffers[i]).first(10)};
  }
  rx[1].to = e.socket.unreachable;
  rx[2].to = ep(3, 3000, 5);  // a full stream outbox
  rx[3].verdict = Verdict::kDeliver;
  rx[3].inner = rx[3].wire;
  const DispatchTally t = e.dispatch.received(rx);
  EXPECT_EQ(t.sent, 1u);
  EXPECT_EQ(t.udp_send_failures, 1u);
  EXPECT_EQ(t.stream_drops, 1u);
  EXPECT_EQ(t.tun_write_errors, 1u);
  EXPECT_EQ(t.last_errno, ENETUNREACH);  // the socket goes last, once per batch
  EXPECT_FALSE(t.wake());
}

// A receive batch with nothing to deliver writes nothing to the tunnel. The
// receive buffers are reused from batch to batch (a UDP socket with GRO
// receives into one arena), so a packet written again from the batch before
// is whatever the new datagrams left there: here the first of two packets
// now starts with a control message's plaintext (the TUN refuses it) and
// the second is unchanged (the TUN would take it a second time).
TEST(VerdictDispatch, ABatchWithNothingToDeliverWritesNothing) {
  RecordingOffloadTun tun;
  RecordingSocket socket;
  RecordingStreams streams;
  VerdictDispatch dispatch(tun, socket, streams, CoalescingTun{.tun = &tun, .tcp = true, .udp = false});

  testing::SegmentSpec flow{.source = {10, 0, 0, 1}, .destination = {10, 0, 0, 2},
                            .source_port = 40000, .destination_port = 443, .seq = 1000, .ack = 1};
  const Bytes first = testing::forge_segment(flow, Bytes(100, std::byte{0x11}));
  flow.destination_port = 444;  // another flow: written on its own
  const Bytes second = testing::forge_segment(flow, Bytes(100, std::byte{0x22}));
  // Two datagrams of 8 + packet + 16 bytes, one after the other in the arena.
  const size_t size = 8 + first.size() + 16;
  Bytes arena(2 * size);
  std::copy(first.begin(), first.end(), arena.begin() + 8);
  std::copy(second.begin(), second.end(), arena.begin() + static_cast<ptrdiff_t>(size + 8));
  std::vector<RxSlot> rx(2);
  for (size_t i = 0; i < rx.size(); ++i) {
    const auto data = std::span(arena).subspan(i * size, size);
    rx[i] = RxSlot{.from = ep(1, 1000), .data = data, .verdict = Verdict::kDeliver,
                   .inner = std::span<const std::byte>(data).subspan(8, first.size())};
  }
  const DispatchTally t1 = dispatch.received(rx);
  EXPECT_EQ(t1.delivered, 2u);
  EXPECT_EQ(t1.tun_write_errors, 0u);
  ASSERT_EQ(tun.written.size(), 2u);

  // The next receive: one control message (a probe ack, type 0x05) opened
  // in place at the start of the arena.
  std::fill(arena.begin() + 8, arena.begin() + 40, std::byte{0x05});
  std::vector<RxSlot> control(1, RxSlot{.from = ep(1, 1000), .data = std::span(arena).first(8 + 32 + 16),
                                        .verdict = Verdict::kControl});
  const DispatchTally t2 = dispatch.received(control);
  EXPECT_EQ(t2.control, 1u);
  EXPECT_EQ(t2.delivered, 0u);
  EXPECT_EQ(t2.tun_write_errors, 0u);
  EXPECT_EQ(tun.written.size(), 2u);

  // An empty batch, and one that forwards only: nothing written either.
  EXPECT_EQ(dispatch.received({}).delivered, 0u);
  std::vector<RxSlot> forward(1, RxSlot{.from = ep(1, 1000), .data = std::span(arena).first(size),
                                        .verdict = Verdict::kForward, .to = ep(2, 2000),
                                        .wire = std::span<const std::byte>(arena).first(size)});
  const DispatchTally t3 = dispatch.received(forward);
  EXPECT_EQ(t3.delivered + t3.tun_write_errors, 0u);
  EXPECT_EQ(tun.written.size(), 2u);
}

TEST(EdgeFakes, WhatDoesNotFitIsCutAndSaidSo) {
  testing::FakeTun tun;
  tun.inject(Bytes(100, std::byte{1}));
  tun.inject(Bytes(10, std::byte{2}));
  Bytes room_a(60), room_b(60);
  const std::span<std::byte> buffers[] = {room_a, room_b};
  size_t sizes[2] = {};
  auto read = tun.read(buffers, sizes, 20);
  ASSERT_TRUE(read);
  EXPECT_EQ(read.value(), 2u);
  EXPECT_EQ(sizes[0], 40u);  // cut to the room after the offset
  EXPECT_EQ(sizes[1], 10u);
  EXPECT_EQ(room_b[20], std::byte{2});
  EXPECT_EQ(tun.truncated(), 1u);

  testing::ManualClock clock;
  testing::SimNetwork network(clock, 1);
  auto a = network.bind(ep(1, 1000));
  auto b = network.bind(ep(2, 2000));
  a->send(ep(2, 2000), Bytes(50, std::byte{3}));
  a->send(ep(2, 2000), Bytes(20, std::byte{4}));
  network.deliver_due();
  Bytes slot_a(30), slot_b(30);
  os::Datagram batch[2] = {{.data = slot_a}, {.data = slot_b}};
  auto received = b->receive(batch);
  ASSERT_TRUE(received);
  ASSERT_EQ(received.value(), 2u);
  EXPECT_TRUE(batch[0].truncated);
  EXPECT_FALSE(batch[1].truncated);
  EXPECT_EQ(batch[1].length, 20u);
  EXPECT_EQ(batch[1].peer, ep(1, 1000));
}

}  // namespace
}  // namespace cordon::daemon
