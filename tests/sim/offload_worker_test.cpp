// The production workers with offloads, on the fakes (docs/design.md,
// "Offloads: the worker's data path"): A's TUN hands its worker TCP
// super-packets, which the worker splits into MTU-sized packets, more than
// one batch's slots hold, and seals; B's worker opens them and writes them
// to its TUN coalesced. What B's kernel would deliver, cut back with the
// kernel's rules, is exactly the byte stream A's application sent.
#include <gtest/gtest.h>

#include <deque>
#include <vector>

#include "core/offload/virtio_net.hpp"
#include "daemon/workers.hpp"
#include "os/tun_offload.hpp"
#include "testing/manual_clock.hpp"
#include "testing/segment_forge.hpp"
#include "testing/sim_link.hpp"
#include "testing/sim_network.hpp"
#include "tests/common/offload_packets.hpp"

namespace cordon::testing {
namespace {

// A TUN queue opened with virtio-net headers and TSO: reads hand out what
// the test queued (header and packet), writes are recorded whole.
class FakeOffloadTun final : public os::TunQueue, public os::TunOffload {
 public:
  void queue(const offload::VirtioNetHeader& header, std::span<const uint8_t> packet) {
    std::vector<std::byte> h(offload::kVirtioNetHeaderSize);
    offload::encode_virtio_net(header, h);
    const auto* p = reinterpret_cast<const std::byte*>(packet.data());
    outbound_.push_back({std::move(h), std::vector<std::byte>(p, p + packet.size())});
  }
  std::vector<std::vector<std::byte>>& written() { return written_; }

  os::Result<size_t> read_offloaded(std::span<std::byte> header, std::span<std::byte> packet) override {
    if (outbound_.empty()) return size_t{0};
    auto [h, p] = std::move(outbound_.front());
    outbound_.pop_front();
    std::copy(h.begin(), h.end(), header.begin());
    const size_t n = std::min(p.size(), packet.size());
    std::copy_n(p.begin(), n, packet.begin());
    return n;
  }
  os::Status write_offloaded(std::span<const std::span<const std::byte>> parts) override {
    std::vector<std::byte> whole;
    for (const auto& part : parts) whole.insert(whole.end(), part.begin(), part.end());
    written_.push_back(std::move(whole));
    return os::Ok{};
  }
  os::TunFeatures features() const override { return {.checksum = true, .tso = true, .uso = false}; }

  // The plain side, as TunDeviceQueue offers it: an empty header.
  os::Result<size_t> read(std::span<const std::span<std::byte>>, std::span<size_t>, size_t) override {
    return size_t{0};
  }
  os::Status write(std::span<const std::byte> packet) override {
    std::vector<std::byte> whole(offload::kVirtioNetHeaderSize);
    whole.insert(whole.end(), packet.begin(), packet.end());
    written_.push_back(std::move(whole));
    return os::Ok{};
  }

 private:
  std::deque<std::pair<std::vector<std::byte>, std::vector<std::byte>>> outbound_;
  std::vector<std::vector<std::byte>> written_;
};

constexpr unsigned kMtu = 1420;

class OffloadWorker : public ::testing::TestWithParam<bool> {};

TEST_P(OffloadWorker, SuperPacketsCrossSplitSealedOpenedAndCoalesced) {
  const bool v6 = GetParam();
  ManualClock clock;
  SimNetwork net(clock, 7);
  const SimLink link = make_sim_link();
  auto transport_a = net.bind(link.a.underlay);
  auto transport_b = net.bind(link.b.underlay);
  FakeOffloadTun tun_a, tun_b;
  daemon::StreamOutbox outbox_a, outbox_b;
  Node node_a(link.a_config, 1, 0, clock.now());
  Node node_b(link.b_config, 1, 0, clock.now());
  // The counter floor each node asks for is "stored" at once, as the
  // daemon's counter keeper would.
  for (Node* node : {&node_a, &node_b}) {
    if (auto floor = node->tick(clock.now()).persist_counter_floor) node->counter_floor_persisted(*floor);
  }
  daemon::Worker a(0, node_a, tun_a, *transport_a, outbox_a, kMtu, 64,
                   daemon::WorkerOffloads{.tun = &tun_a, .tcp_coalescing = true});
  daemon::Worker b(0, node_b, tun_b, *transport_b, outbox_b, kMtu, 64,
                   daemon::WorkerOffloads{.tun = &tun_b, .tcp_coalescing = true});

  // Three super-packets of one TCP stream, 60,000 payload bytes each, as a
  // kernel with TSO leaves them: the checksum field holds the pseudo-header
  // sum. 3 x 44 segments is more than the worker's 128 slots.
  test::Flow flow;
  flow.v4 = !v6;
  if (v6) {
    flow.source = {0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    flow.destination = {0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  }
  const size_t mss = kMtu - flow.ip_header() - flow.transport_header();
  std::vector<uint8_t> sent;
  uint32_t seq = 0xffff0000;  // wraps inside the second super-packet
  size_t expected_segments = 0;
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> payload(60000);
    for (size_t k = 0; k < payload.size(); ++k) payload[k] = static_cast<uint8_t>(k * 7 + i);
    const auto packet =
        test::build_packet(flow, payload, static_cast<uint16_t>(i * 100), seq, test::kTcpAck, test::Checksum::kPartial);
    tun_a.queue(offload::VirtioNetHeader{.flags = offload::kNeedsChecksum,
                                         .gso_type = v6 ? offload::GsoType::kTcpV6 : offload::GsoType::kTcpV4,
                                         .header_length = static_cast<uint16_t>(flow.ip_header() + 20),
                                         .gso_size = static_cast<uint16_t>(mss),
                                         .checksum_start = static_cast<uint16_t>(flow.ip_header()),
                                         .checksum_offset = 16},
                packet);
    sent.insert(sent.end(), payload.begin(), payload.end());
    seq += static_cast<uint32_t>(payload.size());
    expected_segments += (payload.size() + mss - 1) / mss;
  }

  std::vector<size_t> batches;
  for (;;) {
    auto report = a.send_batch(clock.now());
    ASSERT_TRUE(report);
    if (report.value().slots == 0) break;
    batches.push_back(report.value().slots);
    for (const TxSlot& slot : a.sealed()) EXPECT_LE(slot.length, kMtu);
  }
  ASSERT_EQ(batches.size(), 2u) << "the third super-packet is finished in the next batch";
  EXPECT_EQ(batches[0], 128u);
  EXPECT_EQ(batches[0] + batches[1], expected_segments);
  EXPECT_EQ(a.counters().super_packets.load(), 3u);
  EXPECT_EQ(a.counters().segments.load(), expected_segments);
  EXPECT_EQ(a.counters().split_drops.load(), 0u);

  while (auto due = net.next_delivery_mono_ns()) {
    clock.advance_to(*due);
    net.deliver_due();
    while (b.receive_batch(clock.now()).slots != 0) {
    }
  }

  // What B's kernel delivers: each write cut back into segments.
  std::vector<uint8_t> received;
  size_t segments = 0;
  for (const auto& write : tun_b.written()) {
    for (const auto& packet : split_super_packet(write)) {
      const size_t headers = flow.ip_header() + flow.transport_header();
      ASSERT_GT(packet.size(), headers);
      ++segments;
      const auto* bytes = reinterpret_cast<const uint8_t*>(packet.data());
      received.insert(received.end(), bytes + headers, bytes + packet.size());
    }
  }
  EXPECT_EQ(segments, expected_segments) << "sent " << net.stats().sent << " delivered " << net.stats().delivered
                                         << " b delivered " << tun_b.written().size();
  EXPECT_TRUE(received == sent) << "the delivered byte stream differs from the one sent";
  EXPECT_LT(tun_b.written().size(), expected_segments / 10) << "B wrote the segments mostly one by one";
  EXPECT_EQ(b.counters().coalesced.load(), expected_segments);
  EXPECT_EQ(b.counters().coalesced_writes.load(), tun_b.written().size());
}

INSTANTIATE_TEST_SUITE_P(Families, OffloadWorker, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Ipv6" : "Ipv4"; });

}  // namespace
}  // namespace cordon::testing
