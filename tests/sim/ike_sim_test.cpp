// Two Cordon IPsec gateways in one process (testing/ike_pair.hpp) on a wire
// that loses, duplicates and reorders IKE datagrams: the SAs still come up,
// rekey (CHILD_SAs with PFS, and the IKE SA) and delete, and the data
// path, checked every simulated second in both directions, never finds a
// moment without an SA both ends can use (make before break, RFC 7296
// section 2.8).
#include <gtest/gtest.h>

#include <set>

#include "core/ipsec/data_path.hpp"
#include "testing/ike_pair.hpp"
#include "tests/unit/ike_sa_fixture.hpp"
#include "tests/unit/ipsec_packets.hpp"

namespace cordon::ipsec {
namespace {

using namespace ike_fixture;
constexpr int64_t kMinute = 60 * kNsPerSecond;

GatewayConfig config(bool a) {
  GatewayConfig g = a ? site_a() : site_b();
  ConnectionConfig& c = g.connections[0];
  c.children[0].local_ts = selectors(a ? "10.0.0.1/32" : "10.0.0.2/32");
  c.children[0].remote_ts = selectors(a ? "10.0.0.2/32" : "10.0.0.1/32");
  c.children[0].proposals = {*parse_proposal("aes256gcm16-ecp256", ProtocolId::kEsp)};
  // Both ends rekey on their own timers, so CREATE_CHILD_SA runs both ways
  // and now and then at once (section 2.8.1).
  c.children[0].rekey_time_ns = (a ? 3 : 4) * kMinute;
  if (a) c.rekey_time_ns = 7 * kMinute;
  c.dpd_delay_ns = kMinute;
  return g;
}

class Mirror {
 public:
  void sync(const std::map<uint32_t, ChildSaInstall>& now) {
    for (const auto& [spi, c] : now) {
      if (have_.insert(spi).second) ASSERT_TRUE(path_.install(c));
    }
    for (auto it = have_.begin(); it != have_.end();) {
      if (now.count(*it) == 0) {
        path_.remove(*it);
        it = have_.erase(it);
      } else {
        ++it;
      }
    }
  }
  DataPath& path() { return path_; }

 private:
  DataPath path_;
  std::set<uint32_t> have_;
};

bool carry(DataPath& from, DataPath& to, std::vector<std::byte> packet) {
  std::vector<std::byte> buffer(kAhHeadroom + packet.size() + kEspTailroom);
  std::copy(packet.begin(), packet.end(), buffer.begin() + kAhHeadroom);
  auto sealed = from.seal(buffer, kAhHeadroom, packet.size());
  if (!sealed) return false;
  std::vector<std::byte> wire(sealed->packet.begin(), sealed->packet.end());
  auto inner = to.open_esp(wire, 0);
  return inner && std::equal(inner->begin(), inner->end(), packet.begin(), packet.end());
}

std::vector<std::byte> reply_of(std::vector<std::byte> p) {
  for (int i = 0; i < 4; ++i) std::swap(p[12 + i], p[16 + i]);
  return p;
}

testing::IkeWire reordering_wire(uint64_t seed, int loss_percent, int duplicate_percent, int64_t latency_ns) {
  testing::IkeWire wire;
  wire.loss_percent = loss_percent;
  wire.duplicate_percent = duplicate_percent;
  wire.reorder = true;
  wire.latency_ns = latency_ns;
  wire.seed = seed;
  return wire;
}

// Brings the pair's CHILD_SA up, then for 30 simulated minutes sends a
// packet each way every second through data paths that follow what IKE
// installs and removes. Counts what got through and what did not.
struct Carried {
  size_t carried = 0, lost = 0;
};
Carried run_half_an_hour(testing::IkePair& pair, uint64_t seed) {
  Carried n;
  pair.start();
  const bool up = pair.run_until([&] { return pair.children_a().size() == 1 && pair.children_b().size() == 1; },
                                 5 * kMinute);
  EXPECT_TRUE(up) << "seed " << seed << "\n" << pair.log_text();
  if (!up) return n;
  Mirror a, b;
  const auto packet = test::udp_packet(4, 64);
  for (int second = 0; second < 30 * 60; ++second) {
    pair.run_for(kNsPerSecond);
    a.sync(pair.children_a());
    b.sync(pair.children_b());
    (carry(a.path(), b.path(), packet) ? n.carried : n.lost) += 1;
    (carry(b.path(), a.path(), reply_of(packet)) ? n.carried : n.lost) += 1;
  }
  return n;
}

TEST(IkeSim, LossyWireStillBringsUpRekeysAndDeletes) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    testing::IkePair pair(config(true), config(false), reordering_wire(seed, 15, 10, 0));
    const Carried n = run_half_an_hour(pair, seed);
    EXPECT_EQ(n.lost, 0u) << "seed " << seed << ": " << n.carried << " carried\n" << pair.log_text();
    const auto sas = pair.a().list();
    ASSERT_FALSE(sas.empty()) << "seed " << seed;
    EXPECT_GE(sas.front().counters.child_rekeys, 5u) << "seed " << seed;
    EXPECT_GE(sas.front().counters.ike_rekeys, 2u) << "seed " << seed;
    EXPECT_TRUE(pair.children_paired()) << "seed " << seed;
    ASSERT_TRUE(pair.a().down("site", pair.clock().now(), pair.events_a()).ok());
    EXPECT_TRUE(pair.run_until([&] { return pair.a().list().empty() && pair.b().list().empty(); }, 5 * kMinute))
        << "seed " << seed;
  }
}

// Both ends rekey the IKE SA on the same schedule over a wire with 30 ms of
// latency, so their requests cross again and again (RFC 7296 section
// 2.8.2), while CHILD_SAs rekey too and the wire loses, duplicates and
// reorders. Every second a packet each way must get through.
TEST(IkeSim, SimultaneousIkeRekeysUnderLossLoseNothing) {
  constexpr int64_t kLatency = 30 * kNsPerMs;
  size_t collisions = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    GatewayConfig ga = config(true), gb = config(false);
    ga.connections[0].rekey_time_ns = 5 * kMinute;
    gb.connections[0].rekey_time_ns = 5 * kMinute;
    testing::IkePair pair(std::move(ga), std::move(gb), reordering_wire(seed, 10, 5, kLatency));
    const Carried n = run_half_an_hour(pair, seed);
    EXPECT_EQ(n.lost, 0u) << "seed " << seed << ": " << n.carried << " carried\n" << pair.log_text();
    EXPECT_EQ(n.carried, 2u * 30 * 60) << "seed " << seed;
    for (const ipsec::IkeEvents* ev : {&pair.events_a(), &pair.events_b()}) {
      for (const IkeLogEvent& e : ev->log) collisions += e.event == "ike_rekey_collision";
    }
    // Between rekeys, one IKE SA on each side, the same one.
    auto one_ike_sa = [&] {
      const auto la = pair.a().list(), lb = pair.b().list();
      return la.size() == 1 && lb.size() == 1 && la.front().spi_i == lb.front().spi_i &&
             la.front().spi_r == lb.front().spi_r;
    };
    ASSERT_TRUE(pair.run_until(one_ike_sa, 5 * kMinute)) << "seed " << seed << "\n" << pair.log_text();
    EXPECT_GE(pair.a().list().front().counters.ike_rekeys, 4u) << "seed " << seed;
    EXPECT_TRUE(pair.children_paired()) << "seed " << seed;
  }
  EXPECT_GE(collisions, 8u);  // the schedule makes the requests cross
}

}  // namespace
}  // namespace cordon::ipsec
