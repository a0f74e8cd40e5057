// The IKE state machines (core/ipsec/ike_sa.hpp, gateway.hpp) between two
// Cordon gateways on a lossless wire (testing/ike_pair.hpp): the initial
// exchanges, refusals, CREATE_CHILD_SA, INFORMATIONAL, cookies, NAT
// traversal and fragmentation. Random loss, duplication and reordering are
// the simulations' (tests/sim/ike_sim_test.cpp); simultaneous IKE SA rekeys
// lose or duplicate one chosen message here.
#include <gtest/gtest.h>

#include <set>

#include "core/ipsec/gateway.hpp"
#include "testing/ike_pair.hpp"
#include "tests/unit/ike_sa_fixture.hpp"

namespace cordon::ipsec {
namespace {

using testing::IkePair;
using namespace ike_fixture;

constexpr int64_t kMinute = 60 * kNsPerSecond;

TEST(IkeSa, PskSiteToSiteComesUpWithMirroredChildren) {
  IkePair pair(site_a(), site_b());
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1 && pair.children_b().size() == 1; }, kMinute));
  EXPECT_TRUE(pair.children_paired());
  const ChildSaInstall& c = pair.children_a().begin()->second;
  EXPECT_EQ(c.child, "net");
  EXPECT_EQ(c.chosen.encryption.id, EncrId::kAesGcm16);
  EXPECT_EQ(c.local_ts, selectors("10.1.0.0/24"));
  EXPECT_EQ(c.remote_ts, selectors("10.2.0.0/24"));
  EXPECT_FALSE(c.udp_encapsulation);
  EXPECT_TRUE(pair.logged("ike_established"));
  ASSERT_EQ(pair.a().list().size(), 1u);
  EXPECT_EQ(pair.a().list().front().state, IkeState::kEstablished);
  EXPECT_EQ(pair.b().list().front().remote_identity, "a.example");
}

TEST(IkeSa, EveryIkeSuiteAndGroupNegotiates) {
  for (const char* ike : {"aes128gcm16-prfsha256-x25519", "aes256-sha256-modp2048", "aes128-sha384-ecp384",
                          "chacha20poly1305-prfsha512-ecp256"}) {
    for (const char* esp : {"aes256gcm16", "aes128-sha256", "chacha20poly1305-esn"}) {
      IkePair pair(site_a(ike, esp), site_b(ike, esp));
      pair.start();
      EXPECT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1 && pair.children_b().size() == 1; },
                                 kMinute))
          << ike << " / " << esp;
      EXPECT_TRUE(pair.children_paired()) << ike << " / " << esp;
    }
  }
}

TEST(IkeSa, ProposalMismatchIsNoProposalChosenNamingBothSides) {
  IkePair pair(site_a("aes256gcm16-prfsha256-ecp256"), site_b("aes128-sha256-modp2048"));
  pair.start();
  EXPECT_TRUE(pair.run_until([&] { return pair.logged("no_proposal_chosen"); }, kMinute));
  bool named = false;
  for (const IkeLogEvent& e : pair.events_b().log) {
    if (e.event == "no_proposal_chosen") {
      named = e.detail.find("aes256gcm16-prfsha256-ecp256") != std::string::npos &&
              e.detail.find("aes128-sha256-prfsha256-modp2048") != std::string::npos;
    }
  }
  EXPECT_TRUE(named);
  pair.run_for(kMinute);
  EXPECT_TRUE(pair.children_a().empty());
  EXPECT_TRUE(pair.a().list().empty());  // the initiator gave up at once
}

TEST(IkeSa, WrongDhGroupIsRetriedWithTheOneAskedFor) {
  // A proposes x25519 first; B only takes ecp256: INVALID_KE_PAYLOAD, then success.
  IkePair pair(site_a("aes256gcm16-prfsha256-x25519-ecp256"), site_b("aes256gcm16-prfsha256-ecp256"));
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1; }, kMinute));
  EXPECT_TRUE(pair.logged("invalid_ke_payload"));
  EXPECT_TRUE(pair.children_paired());
}

TEST(IkeSa, WrongPreSharedKeyIsAuthenticationFailedWithTheIdentity) {
  GatewayConfig b = site_b();
  b.connections[0].remote.psk = secret("not the same secret at all");
  b.connections[0].local.psk = secret("not the same secret at all");
  IkePair pair(site_a(), std::move(b));
  pair.start();
  EXPECT_TRUE(pair.run_until([&] { return pair.logged("authentication_failed"); }, kMinute));
  bool named = false;
  for (const IkeLogEvent& e : pair.events_b().log) {
    if (e.event == "authentication_failed") named = e.detail.find("a.example") != std::string::npos;
  }
  EXPECT_TRUE(named);
  pair.run_for(kMinute);
  EXPECT_TRUE(pair.children_a().empty());
  EXPECT_TRUE(pair.children_b().empty());
}

TEST(IkeSa, ChildRekeyIsMakeBeforeBreak) {
  GatewayConfig a = site_a();
  a.connections[0].children[0].rekey_time_ns = 10 * kMinute;
  a.connections[0].children[0].proposals = {*parse_proposal("aes256gcm16-ecp256", ProtocolId::kEsp)};
  GatewayConfig b = site_b();
  b.connections[0].children[0].proposals = a.connections[0].children[0].proposals;
  IkePair pair(std::move(a), std::move(b));
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1; }, kMinute));
  const uint32_t first = pair.children_a().begin()->first;
  // At the rekey the new SA is installed before the old is removed: for a
  // moment both are there, then only the new one.
  bool overlap = false;
  ASSERT_TRUE(pair.run_until(
      [&] {
        overlap = overlap || pair.children_a().size() == 2;
        return pair.children_a().size() == 1 && pair.children_a().begin()->first != first &&
               pair.children_b().size() == 1;
      },
      20 * kMinute));
  EXPECT_TRUE(overlap);
  EXPECT_TRUE(pair.children_paired());
  EXPECT_TRUE(pair.logged("child_rekeyed"));
  EXPECT_EQ(pair.a().list().front().counters.child_rekeys, 1u);
}

TEST(IkeSa, TheResponderCanRekeyTooAndKeysStayMirrored) {
  IkePair pair(site_a(), site_b());
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1 && pair.children_b().size() == 1; }, kMinute));
  // B answered IKE_AUTH; now B starts the CREATE_CHILD_SA: its nonce is
  // Ni and its outbound keys are the i-to-r ones (section 2.17).
  const uint32_t at_b = pair.children_b().begin()->first;
  pair.b().child_limit_reached(at_b, pair.clock().now(), pair.events_b());
  ASSERT_TRUE(pair.run_until(
      [&] { return pair.children_b().size() == 1 && pair.children_b().begin()->first != at_b && pair.children_a().size() == 1; },
      kMinute));
  EXPECT_TRUE(pair.children_paired());
}

TEST(IkeSa, IkeRekeyKeepsTheChildren) {
  GatewayConfig a = site_a();
  a.connections[0].rekey_time_ns = 10 * kMinute;
  IkePair pair(std::move(a), site_b());
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1; }, kMinute));
  const uint64_t old_spi = pair.a().list().front().spi_i;
  const auto children = pair.children_a();
  ASSERT_TRUE(pair.run_until(
      [&] {
        const auto l = pair.a().list();
        return l.size() == 1 && l.front().spi_i != old_spi && l.front().state == IkeState::kEstablished &&
               pair.b().list().size() == 1;
      },
      20 * kMinute));
  EXPECT_TRUE(pair.logged("ike_rekeyed"));
  EXPECT_EQ(pair.children_a().size(), children.size());
  EXPECT_EQ(pair.children_a().begin()->first, children.begin()->first);  // untouched
  EXPECT_TRUE(pair.children_paired());
  // The new IKE SA works: a child rekey goes through it.
  pair.a().child_limit_reached(pair.children_a().begin()->first, pair.clock().now(), pair.events_a());
  EXPECT_TRUE(pair.run_until([&] { return pair.logged("child_rekeyed"); }, kMinute));
}

// Simultaneous IKE SA rekeys (RFC 7296 section 2.8.2). A's exchange is A's
// request and B's answer; B's exchange the other two messages.
enum class Message { kRequestOfA, kAnswerOfB, kRequestOfB, kAnswerOfA };
enum class Fault { kNone, kLost, kDuplicated };

struct NonceOrder {
  const char* lowest;
  // The first byte of each nonce, as each side draws them: its own
  // request's, then its answer's.
  uint8_t a_request, a_answer, b_request, b_answer;
  bool lowest_in_exchange_of_a;
};
constexpr NonceOrder kNonceOrders[] = {
    {"Ni of A's exchange", 0x10, 0x80, 0x70, 0x60, true},
    {"Nr of A's exchange", 0x80, 0x70, 0x60, 0x10, true},
    {"Ni of B's exchange", 0x70, 0x80, 0x10, 0x60, false},
    {"Nr of B's exchange", 0x60, 0x10, 0x80, 0x70, false},
};

std::optional<Message> rekey_message(bool from_a, std::span<const std::byte> m) {
  if (m.size() < kIkeHeaderSize || m[18] != static_cast<std::byte>(ExchangeType::kCreateChildSa)) return std::nullopt;
  const bool response = (m[19] & std::byte{0x20}) != std::byte{0};
  if (from_a) return response ? Message::kAnswerOfA : Message::kRequestOfA;
  return response ? Message::kAnswerOfB : Message::kRequestOfB;
}

std::string case_name(const NonceOrder& order, Message message, Fault fault) {
  static const char* kMessages[] = {"A's request", "B's answer", "B's request", "A's answer"};
  const char* what = fault == Fault::kNone ? "nothing" : fault == Fault::kLost ? "lost" : "duplicated";
  return std::string("lowest nonce: ") + order.lowest + "; " +
         (fault == Fault::kNone ? std::string("no fault") : std::string(kMessages[static_cast<int>(message)]) + " " + what);
}

void simultaneous_ike_rekey(const NonceOrder& order, Message message, Fault fault) {
  SCOPED_TRACE(case_name(order, message, fault));
  // Each datagram takes 20 ms, and A's timer fires 10 ms after B's request
  // left: both requests are in flight together.
  constexpr int64_t kLatency = 20 * kNsPerMs;
  GatewayConfig a = site_a(), b = site_b();
  b.connections[0].rekey_time_ns = 10 * kMinute;
  a.connections[0].rekey_time_ns = 10 * kMinute - kLatency / 2;
  testing::IkeWire wire;
  wire.latency_ns = kLatency;
  IkePair pair(std::move(a), std::move(b), wire);
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1 && pair.children_b().size() == 1; }, kMinute));
  const uint64_t old_spi = pair.a().list().front().spi_i;
  std::set<uint32_t> children_a, children_b;
  for (const auto& [spi, c] : pair.children_a()) children_a.insert(spi);
  for (const auto& [spi, c] : pair.children_b()) children_b.insert(spi);

  // From here on, each side's nonces start with the bytes of the case.
  std::vector<uint8_t> firsts_a = {order.a_request, order.a_answer}, firsts_b = {order.b_request, order.b_answer};
  pair.set_random_hook([&](bool side_a, std::span<std::byte> drawn) {
    auto& firsts = side_a ? firsts_a : firsts_b;
    if (drawn.size() != kNonceSize || firsts.empty()) return;
    drawn[0] = static_cast<std::byte>(firsts.front());
    firsts.erase(firsts.begin());
  });
  bool struck = false;
  pair.set_fault([&](bool from_a, std::span<const std::byte> m) {
    if (fault == Fault::kNone || struck || rekey_message(from_a, m) != message) return 1;
    struck = true;  // the first copy only; retransmissions go through
    return fault == Fault::kLost ? 0 : 2;
  });

  auto settled = [&] {
    const auto la = pair.a().list(), lb = pair.b().list();
    return la.size() == 1 && lb.size() == 1 && la.front().spi_i != old_spi &&
           la.front().state == IkeState::kEstablished && lb.front().state == IkeState::kEstablished &&
           la.front().spi_i == lb.front().spi_i && la.front().spi_r == lb.front().spi_r;
  };
  ASSERT_TRUE(pair.run_until(settled, 16 * kMinute)) << pair.log_text();
  EXPECT_TRUE(pair.logged("ike_rekey_collision")) << pair.log_text();
  if (fault != Fault::kNone) EXPECT_TRUE(struck);
  // Nothing moves once settled (the new IKE SA's own rekey is 10 minutes off).
  pair.run_for(2 * kMinute);
  ASSERT_TRUE(settled()) << pair.log_text();

  const IkeSaInfo at_a = pair.a().list().front(), at_b = pair.b().list().front();
  EXPECT_NE(at_a.initiator, at_b.initiator);
  // A lost request is never seen by the peer until it has finished its own
  // rekey: the peer's new IKE SA is the only one made. Otherwise the IKE SA
  // of the exchange without the lowest nonce survives.
  bool a_made_survivor = !order.lowest_in_exchange_of_a;
  if (fault == Fault::kLost && message == Message::kRequestOfA) a_made_survivor = false;
  if (fault == Fault::kLost && message == Message::kRequestOfB) a_made_survivor = true;
  EXPECT_EQ(at_a.initiator, a_made_survivor) << pair.log_text();
  EXPECT_EQ(at_a.counters.ike_rekeys, 1u);
  // The CHILD_SAs moved to it untouched, and none went down on the way.
  EXPECT_EQ(std::set<uint32_t>(at_a.children.begin(), at_a.children.end()), children_a);
  EXPECT_EQ(std::set<uint32_t>(at_b.children.begin(), at_b.children.end()), children_b);
  std::set<uint32_t> now_a, now_b;
  for (const auto& [spi, c] : pair.children_a()) now_a.insert(spi);
  for (const auto& [spi, c] : pair.children_b()) now_b.insert(spi);
  EXPECT_EQ(now_a, children_a);
  EXPECT_EQ(now_b, children_b);
  EXPECT_EQ(pair.children_removed(), 0u) << pair.log_text();
  EXPECT_TRUE(pair.children_paired());
  // The survivor works: a CHILD_SA rekey goes through it.
  pair.a().child_limit_reached(*children_a.begin(), pair.clock().now(), pair.events_a());
  EXPECT_TRUE(pair.run_until([&] { return pair.logged("child_rekeyed"); }, kMinute)) << pair.log_text();
}

TEST(IkeSa, SimultaneousIkeRekeysKeepOneIkeSaAndEveryChild) {
  for (const NonceOrder& order : kNonceOrders) {
    simultaneous_ike_rekey(order, Message::kRequestOfA, Fault::kNone);
    for (const Message m : {Message::kRequestOfA, Message::kAnswerOfB, Message::kRequestOfB, Message::kAnswerOfA}) {
      for (const Fault f : {Fault::kLost, Fault::kDuplicated}) simultaneous_ike_rekey(order, m, f);
    }
  }
}

TEST(IkeSa, ThePeerClosingDuringOurIkeRekeyLeavesNoIkeSa) {
  GatewayConfig a = site_a();
  a.connections[0].rekey_time_ns = 10 * kMinute;
  testing::IkeWire wire;
  wire.latency_ns = 20 * kNsPerMs;
  IkePair pair(std::move(a), site_b(), wire);
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1 && pair.children_b().size() == 1; }, kMinute));
  bool sent = false;
  pair.set_fault([&](bool from_a, std::span<const std::byte> m) {
    sent = sent || rekey_message(from_a, m) == Message::kRequestOfA;
    return 1;
  });
  ASSERT_TRUE(pair.run_until([&] { return sent; }, 20 * kMinute));
  // A's rekey request is on the wire when B deletes the IKE SA: B refuses
  // the rekey (section 2.25.2), A drops it on the delete, and nothing stays.
  ASSERT_TRUE(pair.b().down("site", pair.clock().now(), pair.events_b()).ok());
  ASSERT_TRUE(pair.run_until([&] { return pair.a().list().empty() && pair.b().list().empty(); }, 5 * kMinute))
      << pair.log_text();
  pair.run_for(5 * kMinute);
  EXPECT_TRUE(pair.a().list().empty());
  EXPECT_TRUE(pair.b().list().empty());
  EXPECT_TRUE(pair.children_a().empty());
  EXPECT_TRUE(pair.children_b().empty());
  EXPECT_FALSE(pair.logged("peer_dead"));
}

TEST(IkeSa, DownDeletesBothSides) {
  IkePair pair(site_a(), site_b());
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1 && pair.children_b().size() == 1; }, kMinute));
  ASSERT_TRUE(pair.a().down("site", pair.clock().now(), pair.events_a()).ok());
  ASSERT_TRUE(pair.run_until([&] { return pair.a().list().empty() && pair.b().list().empty(); }, kMinute));
  EXPECT_TRUE(pair.children_a().empty());
  EXPECT_TRUE(pair.children_b().empty());
  EXPECT_FALSE(pair.a().down("site", pair.clock().now(), pair.events_a()).ok());
  const auto unknown = pair.a().up("nosuch", pair.clock().now(), pair.events_a());
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().find("nosuch"), std::string::npos);
}

TEST(IkeSa, DeadPeerIsClearedAndRestarted) {
  GatewayConfig a = site_a();
  a.connections[0].dpd_delay_ns = 30 * kNsPerSecond;
  a.connections[0].dpd_action = DpdAction::kRestart;
  IkePair pair(std::move(a), site_b());
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1; }, kMinute));
  pair.set_blocked(true);
  ASSERT_TRUE(pair.run_until([&] { return pair.logged("peer_dead"); }, 10 * kMinute));
  EXPECT_TRUE(pair.children_a().empty());
  pair.set_blocked(false);
  // B still holds the old SA (it runs no liveness check here); A's new one
  // comes with INITIAL_CONTACT, and B drops the stale one (section 2.4).
  EXPECT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1 && pair.children_b().size() == 1; }, kMinute));
  EXPECT_TRUE(pair.logged("ike_replaced"));
  EXPECT_EQ(pair.b().list().size(), 1u);
  EXPECT_TRUE(pair.children_paired());
}

// retransmit_timeout 1 s and retransmit_tries 3: the liveness check that
// starts after 5 s of silence is sent at +0, +1 and +2.8 s and the peer is
// dead 6.04 s after the first send (section 2.4), so 6.04 to 11.04 s after
// the link went down; the default settings would take about 90 s more.
TEST(IkeSa, RetransmissionFollowsTheConnectionsSettings) {
  GatewayConfig a = site_a();
  a.connections[0].dpd_delay_ns = 5 * kNsPerSecond;
  a.connections[0].retransmit_timeout_ns = kNsPerSecond;
  a.connections[0].retransmit_tries = 3;
  IkePair pair(std::move(a), site_b());
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1; }, kMinute));
  pair.set_blocked(true);
  const int64_t blocked_at = pair.clock().now().mono_ns;
  ASSERT_TRUE(pair.run_until([&] { return pair.logged("peer_dead"); }, kMinute));
  const int64_t took = pair.clock().now().mono_ns - blocked_at;
  EXPECT_GE(took, 6 * kNsPerSecond);
  EXPECT_LE(took, 12 * kNsPerSecond);
  EXPECT_TRUE(pair.a().list().empty());
}

TEST(IkeSa, CookiesEngageUnderLoad) {
  GatewayConfig b = site_b();
  b.cookie_threshold = 0;  // every IKE_SA_INIT must bring a cookie
  IkePair pair(site_a(), std::move(b));
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1; }, kMinute));
  EXPECT_TRUE(pair.logged("cookie_requested"));
  EXPECT_EQ(pair.b().drops(IkeDrop::kCookieRequired), 1u);
  EXPECT_TRUE(pair.children_paired());
}

TEST(IkeSa, NatIsDetectedAndEverythingFloatsTo4500) {
  GatewayConfig b = site_b();
  b.connections[0].remote_addrs.clear();  // the peer comes from the NAT's address
  testing::IkeWire wire;
  wire.nat_in_front_of_a = true;
  IkePair pair(site_a(), std::move(b), wire);
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1 && pair.children_b().size() == 1; }, kMinute));
  EXPECT_TRUE(pair.children_a().begin()->second.udp_encapsulation);
  const ChildSaInstall& at_b = pair.children_b().begin()->second;
  EXPECT_TRUE(at_b.udp_encapsulation);
  EXPECT_EQ(at_b.remote.address, *IpAddress::parse(IkePair::kNatAddress));
  EXPECT_NE(at_b.remote.port, kNatTraversalPort);  // the NAT's port, not A's
  // A, behind the NAT, keeps its mapping alive; B (not behind one) does not.
  pair.run_for(kMinute);
  EXPECT_GE(pair.keepalives_to_b(), 2u);
}

TEST(IkeSa, ForcedEncapsulationFloatsWithoutNat) {
  GatewayConfig a = site_a();
  a.connections[0].force_encapsulation = true;
  IkePair pair(std::move(a), site_b());
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1 && pair.children_b().size() == 1; }, kMinute));
  EXPECT_TRUE(pair.children_a().begin()->second.udp_encapsulation);
  EXPECT_TRUE(pair.children_b().begin()->second.udp_encapsulation);
}

TEST(IkeSa, SelectorsAreNarrowedToWhatTheResponderAllows) {
  GatewayConfig a = site_a();
  a.connections[0].children[0].remote_ts = selectors("10.2.0.0/16");  // wider than B gives
  IkePair pair(std::move(a), site_b());
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1; }, kMinute));
  EXPECT_EQ(pair.children_a().begin()->second.remote_ts, selectors("10.2.0.0/24"));
  EXPECT_TRUE(pair.children_paired());
}

TEST(IkeSa, DisjointSelectorsAreTsUnacceptableButTheIkeSaStays) {
  GatewayConfig a = site_a();
  a.connections[0].children[0].remote_ts = selectors("10.9.0.0/24");
  IkePair pair(std::move(a), site_b());
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.logged("child_failed"); }, kMinute));
  EXPECT_TRUE(pair.logged("ts_unacceptable"));
  EXPECT_TRUE(pair.children_a().empty());
  ASSERT_EQ(pair.a().list().size(), 1u);
  EXPECT_EQ(pair.a().list().front().state, IkeState::kEstablished);  // section 1.2
}

TEST(IkeSa, RemoteAccessClientGetsAnAddressFromThePool) {
  GatewayConfig a = site_a();
  a.connections[0].request_virtual_ip = true;
  GatewayConfig b = site_b();
  PoolConfig pool;
  pool.name = "rw";
  pool.addresses = *Prefix::parse("10.3.7.0/24");
  pool.dns = {*IpAddress::parse("10.2.0.53")};
  b.pools = {pool};
  b.connections[0].pools = {"rw"};
  b.connections[0].children[0].remote_ts.clear();  // the client's address
  IkePair pair(std::move(a), std::move(b));
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1 && pair.children_b().size() == 1; }, kMinute))
      << pair.log_text();
  const ChildSaInstall& at_b = pair.children_b().begin()->second;
  ASSERT_TRUE(at_b.virtual_ip);
  EXPECT_EQ(*at_b.virtual_ip, *IpAddress::parse("10.3.7.1"));
  EXPECT_EQ(at_b.remote_ts, selectors("10.3.7.1/32"));
  EXPECT_TRUE(pair.children_paired());
}

TEST(IkeSa, AnEmptyPoolIsInternalAddressFailureWithoutAChild) {
  GatewayConfig a = site_a();
  a.connections[0].request_virtual_ip = true;
  GatewayConfig b = site_b();
  PoolConfig pool;
  pool.name = "rw";
  pool.addresses = *Prefix::parse("10.3.7.0/31");  // no usable host address
  b.pools = {pool};
  b.connections[0].pools = {"rw"};
  b.connections[0].children[0].remote_ts.clear();
  IkePair pair(std::move(a), std::move(b));
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.logged("internal_address_failure"); }, kMinute)) << pair.log_text();
  pair.run_for(kMinute);
  EXPECT_TRUE(pair.children_a().empty());
  EXPECT_TRUE(pair.children_b().empty());
  ASSERT_EQ(pair.b().list().size(), 1u);
  EXPECT_EQ(pair.b().list().front().state, IkeState::kEstablished);  // section 3.15.4
}

TEST(IkeSa, CertificatesWithEveryKeyTypeAuthenticate) {
  for (const KeyKind kind : {KeyKind::kEcdsa, KeyKind::kRsa, KeyKind::kEd25519}) {
    const Pki pki = make_pki(kind);
    IkePair pair(with_certificates(site_a(), pki, "a.example", "b.example"),
                 with_certificates(site_b(), pki, "b.example", "a.example"));
    pair.start();
    EXPECT_TRUE(pair.run_until([&] { return pair.children_a().size() == 1 && pair.children_b().size() == 1; }, kMinute))
        << static_cast<int>(kind);
    EXPECT_TRUE(pair.children_paired());
  }
}

TEST(IkeSa, UntrustedCertificateIsRefused) {
  const Pki ours = make_pki(KeyKind::kEcdsa);
  const Pki other = make_pki(KeyKind::kEcdsa);
  GatewayConfig b = with_certificates(site_b(), ours, "b.example", "a.example");
  IkePair pair(with_certificates(site_a(), other, "a.example", "b.example"), std::move(b));
  pair.start();
  EXPECT_TRUE(pair.run_until([&] { return pair.logged("authentication_failed"); }, kMinute));
  EXPECT_TRUE(pair.children_b().empty());
}

TEST(IkeSa, LargeCertificateExchangesAreFragmented) {
  const Pki pki = make_pki(KeyKind::kRsa);  // an RSA chain does not fit 1280 bytes
  IkePair pair(with_certificates(site_a(), pki, "a.example", "b.example"),
               with_certificates(site_b(), pki, "b.example", "a.example"));
  pair.start();
  ASSERT_TRUE(pair.run_until([&] { return pair.children_b().size() == 1; }, kMinute));
  EXPECT_GT(pair.largest_datagram(), 0u);
  EXPECT_LE(pair.largest_datagram(), kFragmentSize);
}

}  // namespace
}  // namespace cordon::ipsec
