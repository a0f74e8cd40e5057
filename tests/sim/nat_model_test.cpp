// The RFC 4787 NAT models (testing/nat_model.hpp): what each lets in, when
// it makes a new mapping, how mappings time out, and, on a SimNetwork, which
// pairs of NATs a rendezvous-assisted hole punch gets through. Simulations
// of NAT traversal are only as good as these models.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "testing/fake_transport.hpp"
#include "testing/manual_clock.hpp"
#include "testing/nat_model.hpp"
#include "testing/sim_network.hpp"

namespace cordon::testing {
namespace {

enum class Kind { kFullCone, kAddressRestricted, kPortRestricted, kSymmetric, kAddressDependentMapping };

const char* name(Kind k) {
  switch (k) {
    case Kind::kFullCone:
      return "full cone";
    case Kind::kAddressRestricted:
      return "address-restricted";
    case Kind::kPortRestricted:
      return "port-restricted";
    case Kind::kSymmetric:
      return "symmetric";
    case Kind::kAddressDependentMapping:
      return "address-dependent mapping";
  }
  return "?";
}

std::shared_ptr<Rfc4787Nat> make(Kind k, IpAddress public_address, NatOptions options = {}) {
  switch (k) {
    case Kind::kFullCone:
      return std::make_shared<FullConeNat>(public_address, options);
    case Kind::kAddressRestricted:
      return std::make_shared<AddressRestrictedNat>(public_address, options);
    case Kind::kPortRestricted:
      return std::make_shared<PortRestrictedNat>(public_address, options);
    case Kind::kSymmetric:
      return std::make_shared<SymmetricNat>(public_address, options);
    case Kind::kAddressDependentMapping:
      return std::make_shared<Rfc4787Nat>(NatMapping::kAddressDependent, NatFiltering::kAddressAndPortDependent,
                                          public_address, options);
  }
  return nullptr;
}

constexpr Kind kClassic[] = {Kind::kFullCone, Kind::kAddressRestricted, Kind::kPortRestricted, Kind::kSymmetric};

IpAddress nat_address(uint8_t last) { return IpAddress::v4({198, 51, 100, last}); }
Endpoint inside(uint8_t last, uint16_t port = 4000) { return Endpoint{IpAddress::v4({10, 0, 0, last}), port}; }
Endpoint remote(uint8_t last, uint16_t port = 3478) { return Endpoint{IpAddress::v4({203, 0, 113, last}), port}; }

constexpr int64_t kT0 = ManualClock::kDefaultMonoNs;
constexpr int64_t kSecond = kNsPerSecond;

// --- The models on their own ---------------------------------------------

// RFC 4787 section 5: after the inside endpoint sends to R, who may answer.
TEST(Rfc4787Nat, FilteringDecidesWhoGetsIn) {
  struct Row {
    Kind kind;
    bool same_address_other_port;
    bool other_address;
  };
  const Row rows[] = {
      {Kind::kFullCone, true, true},
      {Kind::kAddressRestricted, true, false},
      {Kind::kPortRestricted, false, false},
      {Kind::kSymmetric, false, false},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(name(row.kind));
    auto nat = make(row.kind, nat_address(1));
    EXPECT_EQ(nat->inbound(Endpoint{nat_address(1), 4000}, remote(1), kT0), std::nullopt) << "no mapping yet";

    const std::optional<Endpoint> pub = nat->outbound(inside(1), remote(1), kT0);
    ASSERT_TRUE(pub.has_value());
    EXPECT_EQ(pub->address, nat_address(1));
    EXPECT_EQ(nat->inbound(*pub, remote(1), kT0), inside(1)) << "the remote it sent to";
    EXPECT_EQ(nat->inbound(*pub, remote(1, 9999), kT0).has_value(), row.same_address_other_port);
    EXPECT_EQ(nat->inbound(*pub, remote(2), kT0).has_value(), row.other_address);
    EXPECT_EQ(nat->inbound(Endpoint{nat_address(1), uint16_t(pub->port + 1)}, remote(1), kT0), std::nullopt)
        << "a public port with no mapping";

    EXPECT_TRUE(nat->serves(Endpoint{nat_address(1), 1})) << "every port of its address is its own to drop";
    EXPECT_FALSE(nat->serves(Endpoint{nat_address(2), pub->port}));
    EXPECT_EQ(nat->inbound(Endpoint{nat_address(2), pub->port}, remote(1), kT0), std::nullopt);
  }
}

// RFC 4787 section 4.1: one public endpoint for every destination, or one
// per destination; ports preserved (section 4.2.1) or allocated from 20000.
TEST(Rfc4787Nat, MappingIsReusedOrFreshPerDestination) {
  struct Row {
    Kind kind;
    uint16_t to_r1, to_r1_other_port, to_r2;  // public ports of the three flows
    size_t mappings;
  };
  const Row rows[] = {
      {Kind::kFullCone, 4000, 4000, 4000, 1},
      {Kind::kAddressRestricted, 4000, 4000, 4000, 1},
      {Kind::kPortRestricted, 4000, 4000, 4000, 1},
      {Kind::kSymmetric, 20000, 20001, 20002, 3},
      {Kind::kAddressDependentMapping, 20000, 20000, 20001, 2},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(name(row.kind));
    auto nat = make(row.kind, nat_address(1));
    EXPECT_EQ(nat->public_endpoint(inside(1), remote(1), kT0), std::nullopt);
    EXPECT_EQ(nat->outbound(inside(1), remote(1), kT0), (Endpoint{nat_address(1), row.to_r1}));
    EXPECT_EQ(nat->outbound(inside(1), remote(1, 9999), kT0), (Endpoint{nat_address(1), row.to_r1_other_port}));
    EXPECT_EQ(nat->outbound(inside(1), remote(2), kT0), (Endpoint{nat_address(1), row.to_r2}));
    EXPECT_EQ(nat->outbound(inside(1), remote(1), kT0 + kSecond), (Endpoint{nat_address(1), row.to_r1}))
        << "a flow keeps its mapping";
    EXPECT_EQ(nat->mapping_count(kT0), row.mappings);
    EXPECT_EQ(nat->public_endpoint(inside(1), remote(2), kT0), (Endpoint{nat_address(1), row.to_r2}));
  }

  auto plain = std::make_shared<FullConeNat>(nat_address(1), NatOptions{.preserve_port = false});
  EXPECT_EQ(plain->outbound(inside(1), remote(1), kT0), (Endpoint{nat_address(1), 20000}))
      << "without port preservation, the first port of the pool";
}

// RFC 4787 section 4.3: a mapping idle for the timeout is gone; REQ-6:
// outbound datagrams refresh it, inbound ones (the model's choice) do not.
TEST(Rfc4787Nat, MappingsExpireWhenIdleAndOnlyOutboundRefreshes) {
  for (Kind kind : kClassic) {
    SCOPED_TRACE(name(kind));
    auto nat = make(kind, nat_address(1));
    EXPECT_EQ(nat->idle_timeout_ns(), 120 * kSecond) << "RFC 4787 REQ-5: two minutes at least";
    const Endpoint pub = *nat->outbound(inside(1), remote(1), kT0);
    EXPECT_EQ(nat->inbound(pub, remote(1), kT0 + 60 * kSecond), inside(1));
    EXPECT_EQ(nat->inbound(pub, remote(1), kT0 + 120 * kSecond - 1), inside(1));
    EXPECT_EQ(nat->inbound(pub, remote(1), kT0 + 120 * kSecond), std::nullopt) << "inbound did not refresh it";
    EXPECT_EQ(nat->mapping_count(kT0 + 120 * kSecond), 0u);

    // A new mapping, kept alive by sending.
    const int64_t t1 = kT0 + 200 * kSecond;
    const Endpoint again = *nat->outbound(inside(1), remote(1), t1);
    if (kind == Kind::kSymmetric) {
      EXPECT_NE(again, pub) << "a fresh port from the cursor";
    } else {
      EXPECT_EQ(again, pub) << "the inside port is free again, so preserved again";
    }
    EXPECT_EQ(nat->outbound(inside(1), remote(1), t1 + 100 * kSecond), again);
    EXPECT_EQ(nat->inbound(again, remote(1), t1 + 220 * kSecond - 1), inside(1));
    EXPECT_EQ(nat->inbound(again, remote(1), t1 + 220 * kSecond), std::nullopt);
  }

  auto short_lived = std::make_shared<PortRestrictedNat>(nat_address(1), NatOptions{.idle_timeout_ns = 30 * kSecond});
  const Endpoint pub = *short_lived->outbound(inside(1), remote(1), kT0);
  EXPECT_EQ(short_lived->inbound(pub, remote(1), kT0 + 30 * kSecond - 1), inside(1));
  EXPECT_EQ(short_lived->inbound(pub, remote(1), kT0 + 30 * kSecond), std::nullopt);
}

// Filtering permissions time out per remote, as connection tracking does:
// a mapping kept alive by one flow does not keep another remote let in.
TEST(Rfc4787Nat, PermissionsLapseOnTheirOwn) {
  struct Row {
    Kind kind;
    Endpoint second;     // sent to 100 s after remote(1)
    bool first_let_in;   // at 130 s, is remote(1) still let in?
    Endpoint probe;      // ... and this other endpoint of remote(1)'s host?
    bool probe_let_in;
  };
  const Row rows[] = {
      {Kind::kFullCone, remote(2), true, remote(1, 1), true},
      {Kind::kAddressRestricted, remote(2), false, remote(1, 1), false},
      {Kind::kAddressRestricted, remote(1, 1), true, remote(1, 2), true},
      {Kind::kPortRestricted, remote(1, 1), false, remote(1, 1), true},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(name(row.kind));
    auto nat = make(row.kind, nat_address(1));
    const Endpoint pub = *nat->outbound(inside(1), remote(1), kT0);
    ASSERT_EQ(nat->outbound(inside(1), row.second, kT0 + 100 * kSecond), pub);
    EXPECT_EQ(nat->inbound(pub, remote(1), kT0 + 130 * kSecond).has_value(), row.first_let_in);
    EXPECT_EQ(nat->inbound(pub, row.probe, kT0 + 130 * kSecond).has_value(), row.probe_let_in);
    EXPECT_EQ(nat->inbound(pub, row.second, kT0 + 130 * kSecond), inside(1));
  }
}

TEST(Rfc4787Nat, FlushForgetsEveryMapping) {
  for (Kind kind : kClassic) {
    SCOPED_TRACE(name(kind));
    auto nat = make(kind, nat_address(1));
    const Endpoint pub1 = *nat->outbound(inside(1), remote(1), kT0);
    const Endpoint pub2 = *nat->outbound(inside(2), remote(1), kT0);
    ASSERT_EQ(nat->mapping_count(kT0), 2u);
    nat->flush();
    EXPECT_EQ(nat->mapping_count(kT0), 0u);
    EXPECT_EQ(nat->inbound(pub1, remote(1), kT0), std::nullopt);
    EXPECT_EQ(nat->inbound(pub2, remote(1), kT0), std::nullopt);
    const Endpoint after = *nat->outbound(inside(1), remote(1), kT0);
    EXPECT_EQ(nat->inbound(after, remote(1), kT0), inside(1)) << "sending makes a mapping again";
    if (kind == Kind::kSymmetric) {
      EXPECT_EQ(after.port, 20002) << "the cursor survives the reboot: old peers' endpoints stay stale";
    } else {
      EXPECT_EQ(after, pub1) << "the preserved port comes back";
    }
  }
}

TEST(Rfc4787Nat, BlockedUdpDropsBothWaysUntilUnblocked) {
  for (Kind kind : kClassic) {
    SCOPED_TRACE(name(kind));
    auto nat = make(kind, nat_address(1));
    const Endpoint pub = *nat->outbound(inside(1), remote(1), kT0);
    nat->set_udp_blocked(true);
    EXPECT_TRUE(nat->udp_blocked());
    EXPECT_EQ(nat->outbound(inside(1), remote(1), kT0), std::nullopt);
    EXPECT_EQ(nat->outbound(inside(1), remote(2), kT0), std::nullopt);
    EXPECT_EQ(nat->inbound(pub, remote(1), kT0), std::nullopt);
    EXPECT_EQ(nat->mapping_count(kT0), 1u) << "nothing new while blocked";
    nat->set_udp_blocked(false);
    EXPECT_EQ(nat->inbound(pub, remote(1), kT0), inside(1));
    // Blocked datagrams refreshed nothing: the mapping dies on time.
    nat->set_udp_blocked(true);
    EXPECT_EQ(nat->outbound(inside(1), remote(1), kT0 + 119 * kSecond), std::nullopt);
    nat->set_udp_blocked(false);
    EXPECT_EQ(nat->inbound(pub, remote(1), kT0 + 120 * kSecond), std::nullopt);
  }
}

TEST(Rfc4787Nat, HostsBehindOneNatGetTheirOwnPorts) {
  auto nat = std::make_shared<PortRestrictedNat>(nat_address(1));
  auto port = [&](const Endpoint& host) { return nat->outbound(host, remote(1), kT0).value_or(Endpoint{}).port; };
  EXPECT_EQ(port(inside(1, 20000)), 20000) << "preserved, though it is the pool's first port";
  EXPECT_EQ(port(inside(2, 5000)), 5000);
  EXPECT_EQ(port(inside(3, 5000)), 20001) << "5000 is taken; the pool skips 20000, taken too";
  EXPECT_EQ(port(inside(4, 20001)), 20002) << "its own port is taken by the pool";
  EXPECT_EQ(port(inside(3, 5000)), 20001) << "a host keeps its mapping";
  EXPECT_EQ(nat->mapping_count(kT0), 4u);
  EXPECT_EQ(nat->inbound(Endpoint{nat_address(1), 20000}, remote(1), kT0), inside(1, 20000));
  EXPECT_EQ(nat->inbound(Endpoint{nat_address(1), 5000}, remote(1), kT0), inside(2, 5000));
  EXPECT_EQ(nat->inbound(Endpoint{nat_address(1), 20001}, remote(1), kT0), inside(3, 5000));
  EXPECT_EQ(nat->inbound(Endpoint{nat_address(1), 20002}, remote(1), kT0), inside(4, 20001));
}

TEST(Rfc4787Nat, HairpinningIsNotModelled) {
  auto nat = std::make_shared<FullConeNat>(nat_address(1));
  const Endpoint pub = *nat->outbound(inside(1), remote(1), kT0);
  EXPECT_EQ(nat->outbound(inside(2), pub, kT0), std::nullopt);
  EXPECT_EQ(nat->mapping_count(kT0), 1u);
}

// --- On a SimNetwork ---------------------------------------------------------

std::vector<std::byte> bytes(const std::string& s) {
  std::vector<std::byte> out;
  for (char c : s) out.push_back(std::byte(c));
  return out;
}
std::string text(const std::vector<std::byte>& d) {
  std::string out;
  for (std::byte b : d) out.push_back(char(b));
  return out;
}

std::vector<Datagram> drain(FakeTransport& t) {
  std::vector<Datagram> out;
  while (auto d = t.receive()) out.push_back(std::move(*d));
  return out;
}

void run_network(ManualClock& clock, SimNetwork& net) {
  net.deliver_due();
  while (auto next = net.next_delivery_mono_ns()) {
    clock.advance_to(*next);
    net.deliver_due();
  }
}

TEST(Rfc4787NatOnSimNetwork, HostsShareTheNatAndStrangersAreDropped) {
  ManualClock clock;
  SimNetwork net(clock, 1);
  net.set_default_conditions(LinkConditions{.latency_ns = 5 * kNsPerMs});
  auto nat = std::make_shared<PortRestrictedNat>(nat_address(1));
  auto h1 = net.bind(inside(1, 5000), nat);
  auto h2 = net.bind(inside(2, 5000), nat);
  auto server = net.bind(remote(1));
  auto stranger = net.bind(remote(2));

  h1->send(remote(1), bytes("h1"));
  h2->send(remote(1), bytes("h2"));
  run_network(clock, net);
  std::vector<Datagram> got = drain(*server);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].from, (Endpoint{nat_address(1), 5000}));
  EXPECT_EQ(got[1].from, (Endpoint{nat_address(1), 20000}));

  for (const Datagram& d : got) server->send(d.from, bytes("re " + text(d.data)));
  stranger->send(got[0].from, bytes("stranger"));
  server->send(Endpoint{nat_address(1), 7777}, bytes("no mapping"));
  run_network(clock, net);
  got = drain(*h1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(text(got[0].data), "re h1");
  EXPECT_EQ(got[0].from, remote(1));
  got = drain(*h2);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(text(got[0].data), "re h2");
  EXPECT_EQ(net.stats().nat_dropped, 2u);
  EXPECT_EQ(net.stats().unroutable, 0u);

  // Two minutes of silence from the inside: the server's reply is dropped.
  clock.advance(120 * kSecond);
  server->send(Endpoint{nat_address(1), 5000}, bytes("late"));
  run_network(clock, net);
  EXPECT_EQ(h1->pending(), 0u);
  EXPECT_EQ(net.stats().nat_dropped, 3u);

  // UDP blocked: nothing leaves.
  nat->set_udp_blocked(true);
  h1->send(remote(1), bytes("blocked"));
  run_network(clock, net);
  EXPECT_EQ(server->pending(), 0u);
  EXPECT_EQ(net.stats().nat_dropped, 4u);
}

// A hole punch as docs/protocol.md ("Rendezvous") does it: A and B register
// with a public rendezvous host R, which tells each the other's public
// endpoint as R saw it. Then, for a few rounds, each side that initiates
// sends a probe to the endpoint it knows, and every side answers a probe
// with an ack to the probe's source and sends there from then on.
// Connected: each side received something from the other.
struct PunchResult {
  bool a_heard_b = false;
  bool b_heard_a = false;
  SimNetworkStats stats;
};

PunchResult hole_punch(Kind a_kind, Kind b_kind, bool b_initiates) {
  ManualClock clock;
  SimNetwork net(clock, 7);
  net.set_default_conditions(LinkConditions{.latency_ns = 10 * kNsPerMs});
  auto nat_a = make(a_kind, nat_address(1));
  auto nat_b = make(b_kind, nat_address(2));
  const Endpoint a_inside{IpAddress::v4({10, 0, 1, 1}), 4000};
  const Endpoint b_inside{IpAddress::v4({10, 0, 2, 1}), 4000};
  auto a = net.bind(a_inside, nat_a);
  auto b = net.bind(b_inside, nat_b);
  auto rendezvous = net.bind(remote(1));

  a->send(remote(1), bytes("register"));
  b->send(remote(1), bytes("register"));
  run_network(clock, net);
  const std::vector<Datagram> registered = drain(*rendezvous);
  EXPECT_EQ(registered.size(), 2u);
  if (registered.size() != 2) return {};
  // Each learns the other's public endpoint (both registered in order).
  rendezvous->send(registered[0].from, bytes(registered[1].from.to_string()));
  rendezvous->send(registered[1].from, bytes(registered[0].from.to_string()));
  run_network(clock, net);

  struct Side {
    FakeTransport* transport;
    std::string tag;
    bool initiates;
    std::optional<Endpoint> target;
    bool heard_peer = false;
  };
  Side sides[2] = {{a.get(), "A", true, {}}, {b.get(), "B", b_initiates, {}}};
  for (Side& s : sides) {
    const std::vector<Datagram> got = drain(*s.transport);
    EXPECT_EQ(got.size(), 1u) << s.tag << " hears from the rendezvous host";
    if (got.size() == 1) s.target = Endpoint::parse(text(got[0].data));
    EXPECT_TRUE(s.target.has_value());
  }

  for (int round = 0; round < 5; ++round) {
    for (Side& s : sides) {
      if (s.initiates && s.target) s.transport->send(*s.target, bytes("probe " + s.tag));
    }
    run_network(clock, net);
    for (Side& s : sides) {
      for (const Datagram& d : drain(*s.transport)) {
        const std::string msg = text(d.data);
        if (msg.starts_with("probe")) s.transport->send(d.from, bytes("ack " + s.tag));
        s.heard_peer = true;
        s.target = d.from;
      }
    }
    run_network(clock, net);
    for (Side& s : sides) {
      for (const Datagram& d : drain(*s.transport)) {
        s.heard_peer = true;
        s.target = d.from;
      }
    }
  }
  return PunchResult{sides[0].heard_peer, sides[1].heard_peer, net.stats()};
}

TEST(Rfc4787NatOnSimNetwork, HolePunchGetsThroughUnlessMappingAndFilteringBothDependOnThePort) {
  // Endpoint-independent mapping on both sides always works when both send
  // (docs/protocol.md, "Rendezvous"). A symmetric NAT's probes leave from a
  // port the peer never learnt: only a peer NAT that lets anyone in (full
  // cone) or anyone from that address (address-restricted, once it has sent
  // there itself) lets them through.
  auto connects = [](Kind x, Kind y) {
    auto weak = [](Kind k) { return k == Kind::kSymmetric; };
    auto strict = [](Kind k) { return k == Kind::kPortRestricted || k == Kind::kSymmetric; };
    return !((weak(x) && strict(y)) || (weak(y) && strict(x)));
  };
  int connected_pairs = 0;
  for (Kind a : kClassic) {
    for (Kind b : kClassic) {
      SCOPED_TRACE(std::string(name(a)) + " / " + name(b));
      const PunchResult r = hole_punch(a, b, /*b_initiates=*/true);
      const bool expected = connects(a, b);
      EXPECT_EQ(r.a_heard_b, expected);
      EXPECT_EQ(r.b_heard_a, expected);
      EXPECT_EQ(r.stats.unroutable, 0u);
      if (!expected) EXPECT_GT(r.stats.nat_dropped, 0u) << "the NATs drop the probes";
      connected_pairs += r.a_heard_b && r.b_heard_a;
    }
  }
  EXPECT_EQ(connected_pairs, 16 - 3) << "symmetric with port-restricted (either way round) and with symmetric fail";
}

// Why both ends must send (docs/protocol.md: "both ends of a port-restricted
// NAT pair must send first"): when only A probes, B's NAT lets A in only if
// it filters nothing.
TEST(Rfc4787NatOnSimNetwork, OneSidedHolePunchNeedsAFullConeAtTheSilentEnd) {
  struct Row {
    Kind a, b;
    bool connects;
  };
  const Row rows[] = {
      {Kind::kFullCone, Kind::kFullCone, true},
      {Kind::kPortRestricted, Kind::kFullCone, true},
      {Kind::kSymmetric, Kind::kFullCone, true},
      {Kind::kFullCone, Kind::kAddressRestricted, false},
      {Kind::kFullCone, Kind::kPortRestricted, false},
      {Kind::kFullCone, Kind::kSymmetric, false},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(std::string(name(row.a)) + " probes " + name(row.b));
    const PunchResult r = hole_punch(row.a, row.b, /*b_initiates=*/false);
    EXPECT_EQ(r.a_heard_b && r.b_heard_a, row.connects);
  }
}

}  // namespace
}  // namespace cordon::testing
