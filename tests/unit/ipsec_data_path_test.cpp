// The IPsec data path (core/ipsec/data_path.hpp) fed with CHILD_SAs two
// Cordon gateways negotiated (testing/ike_pair.hpp): packets sealed on one
// side open on the other, policies decide, and a rekey switches sending
// only once the peer can read the new SA (make before break).
#include "core/ipsec/data_path.hpp"

#include <gtest/gtest.h>

#include <set>

#include "core/ipsec/ip_header.hpp"
#include "testing/ike_pair.hpp"
#include "tests/unit/ike_sa_fixture.hpp"
#include "tests/unit/ipsec_packets.hpp"

namespace cordon::ipsec {
namespace {

using namespace ike_fixture;
using test::seeded;
using test::udp_packet;
constexpr int64_t kMinute = 60 * kNsPerSecond;

// A at 10.0.0.1, B at 10.0.0.2: the addresses of ipsec_packets.hpp.
struct Sites {
  explicit Sites(ChildMode mode = ChildMode::kTunnel) : pair(config(true, mode), config(false, mode)) {
    pair.start();
    EXPECT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1 && pair.children_b().size() == 1; }, kMinute));
    sync();
  }
  static GatewayConfig config(bool a, ChildMode mode) {
    GatewayConfig g = a ? site_a() : site_b();
    g.connections[0].children[0].mode = mode;
    g.connections[0].children[0].local_ts = selectors(a ? "10.0.0.1/32" : "10.0.0.2/32");
    g.connections[0].children[0].remote_ts = selectors(a ? "10.0.0.2/32" : "10.0.0.1/32");
    return g;
  }
  // Mirrors what IKE installed and removed into the two data paths.
  void sync() {
    sync_side(pair.children_a(), installed_a, a);
    sync_side(pair.children_b(), installed_b, b);
  }
  static void sync_side(const std::map<uint32_t, ChildSaInstall>& now, std::set<uint32_t>& have, DataPath& path) {
    for (const auto& [spi, c] : now) {
      if (have.insert(spi).second) EXPECT_TRUE(path.install(c));
    }
    for (auto it = have.begin(); it != have.end();) {
      if (!now.count(*it)) {
        path.remove(*it);
        it = have.erase(it);
      } else {
        ++it;
      }
    }
  }
  testing::IkePair pair;
  DataPath a, b;
  std::set<uint32_t> installed_a, installed_b;
};

// Seals `packet` on `from` and opens it on `to`; the SPI used, or 0.
uint32_t carry(DataPath& from, DataPath& to, const std::vector<std::byte>& packet) {
  std::vector<std::byte> buffer(kAhHeadroom + packet.size() + kEspTailroom);
  std::copy(packet.begin(), packet.end(), buffer.begin() + kAhHeadroom);
  auto sealed = from.seal(buffer, kAhHeadroom, packet.size());
  if (!sealed) return 0;
  std::vector<std::byte> wire(sealed->packet.begin(), sealed->packet.end());
  auto inner = to.open_esp(wire, 0);
  if (!inner || !std::equal(inner->begin(), inner->end(), packet.begin(), packet.end())) return 0;
  return *esp_spi(wire);
}

std::vector<std::byte> reply_of(std::vector<std::byte> p) {
  // 10.0.0.2 -> 10.0.0.1: swap the addresses (the checksum stays valid).
  for (int i = 0; i < 4; ++i) std::swap(p[12 + i], p[16 + i]);
  return p;
}

TEST(IpsecDataPath, NegotiatedChildCarriesPacketsBothWays) {
  Sites s;
  const auto packet = udp_packet(4, 200);
  EXPECT_NE(carry(s.a, s.b, packet), 0u);
  EXPECT_NE(carry(s.b, s.a, reply_of(packet)), 0u);
  const auto list = s.a.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].inbound.counters.packets, 1u);
  ASSERT_TRUE(list[0].outbound);
  EXPECT_EQ(list[0].outbound->counters.packets, 1u);
}

// Transport mode (RFC 4303 section 3.1.1): as in tunnel mode the caller
// gets the ESP packet alone, and the socket that sends it writes the IP
// header; the receiver opens what a raw socket delivers, header and ESP.
TEST(IpsecDataPath, TransportModeSealsWithoutTheIpHeader) {
  Sites s(ChildMode::kTransport);
  const auto packet = udp_packet(4, 200);
  std::vector<std::byte> buffer(kAhHeadroom + packet.size() + kEspTailroom);
  std::copy(packet.begin(), packet.end(), buffer.begin() + kAhHeadroom);
  auto sealed = s.a.seal(buffer, kAhHeadroom, packet.size());
  ASSERT_TRUE(sealed);
  ASSERT_EQ(s.pair.children_a().size(), 1u);
  EXPECT_EQ(esp_spi(sealed->packet), s.pair.children_a().begin()->second.outbound_spi);

  const auto h = ip::parse_header(packet);
  ASSERT_TRUE(h);
  std::vector<std::byte> wire(packet.begin(), packet.begin() + static_cast<ptrdiff_t>(h->length));
  wire.insert(wire.end(), sealed->packet.begin(), sealed->packet.end());
  ip::rewrite(wire, *h, kIpProtoEsp, wire.size());
  auto inner = s.b.open_esp(wire, h->length);
  ASSERT_TRUE(inner);
  EXPECT_TRUE(std::equal(inner->begin(), inner->end(), packet.begin(), packet.end()));
}

TEST(IpsecDataPath, PoliciesDecideBeforeSas) {
  Sites s;
  // Nothing protects 10.0.0.1 -> 10.0.0.9: discarded by default.
  auto other = udp_packet(4, 50);
  other[19] = std::byte{9};
  std::vector<std::byte> buffer(kAhHeadroom + other.size() + kEspTailroom);
  std::copy(other.begin(), other.end(), buffer.begin() + kAhHeadroom);
  EXPECT_EQ(s.a.seal(buffer, kAhHeadroom, other.size()).error(), SealDrop::kNoPolicy);
  // An operator's discard entry comes before the child's protect entry.
  Policy discard;
  discard.local = *parse_selector("10.0.0.1/32");
  discard.remote = *parse_selector("10.0.0.2/32");
  discard.action = PolicyAction::kDiscard;
  EXPECT_EQ(s.a.add_policy(discard), 0u);
  EXPECT_EQ(carry(s.a, s.b, udp_packet(4, 50)), 0u);
  EXPECT_EQ(s.a.drops(SealDrop::kDiscard), 1u);
  EXPECT_TRUE(s.a.remove_policy(0));
  EXPECT_NE(carry(s.a, s.b, udp_packet(4, 50)), 0u);
}

TEST(IpsecDataPath, RekeySwitchesOnlyWhenThePeerCanRead) {
  Sites s;
  const auto packet = udp_packet(4, 100);
  const uint32_t old_a_out = carry(s.a, s.b, packet);
  const uint32_t old_b_out = carry(s.b, s.a, reply_of(packet));
  ASSERT_NE(old_a_out, 0u);
  // A rekeys; both sides install the new SAs beside the old ones.
  s.pair.a().child_limit_reached(s.pair.children_a().begin()->first, s.pair.clock().now(), s.pair.events_a());
  ASSERT_TRUE(s.pair.run_until([&] { return s.pair.children_a().size() == 2 && s.pair.children_b().size() == 2; },
                               kMinute));
  s.sync();
  // B did not start the rekey: it still sends on the old SA...
  EXPECT_EQ(carry(s.b, s.a, reply_of(packet)), old_b_out);
  // ...until the first packet on the new one arrives from A, which sends
  // on the new SA at once.
  const uint32_t new_a_out = carry(s.a, s.b, packet);
  EXPECT_NE(new_a_out, old_a_out);
  EXPECT_NE(new_a_out, 0u);
  const uint32_t new_b_out = carry(s.b, s.a, reply_of(packet));
  EXPECT_NE(new_b_out, old_b_out);
  EXPECT_NE(new_b_out, 0u);
  // Then the old SAs go, and traffic goes on.
  ASSERT_TRUE(s.pair.run_until([&] { return s.pair.children_a().size() == 1 && s.pair.children_b().size() == 1; },
                               kMinute));
  s.sync();
  EXPECT_EQ(carry(s.a, s.b, packet), new_a_out);
  EXPECT_EQ(carry(s.b, s.a, reply_of(packet)), new_b_out);
}

TEST(IpsecDataPath, ManualSasPairUp) {
  ManualSaConfig out;
  out.name = "m";
  out.spi = 0x1000;
  out.inbound = false;
  out.cipher = CipherSpec{EncrId::kAesGcm16, 128, IntegId::kNone};
  out.encryption_key = crypto::SecretBytes(seeded(20, 7));
  out.local = *IpAddress::parse("192.0.2.1");
  out.remote = *IpAddress::parse("192.0.2.2");
  out.local_ts = selectors("10.0.0.1/32");
  out.remote_ts = selectors("10.0.0.2/32");
  ManualSaConfig in = out;
  in.inbound = true;
  in.local = out.remote;
  in.remote = out.local;
  in.local_ts = out.remote_ts;
  in.remote_ts = out.local_ts;
  DataPath a, b;
  ASSERT_TRUE(a.install_manual(out));
  ASSERT_TRUE(b.install_manual(in));
  EXPECT_EQ(carry(a, b, udp_packet(4, 64)), 0x1000u);
  // A wrong key length is refused, not installed.
  ManualSaConfig bad = out;
  bad.encryption_key = crypto::SecretBytes(seeded(7, 1));
  DataPath c;
  EXPECT_FALSE(c.install_manual(bad));
}

}  // namespace
}  // namespace cordon::ipsec
