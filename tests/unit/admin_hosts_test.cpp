// Hosts: IDs, names, roles, tunnel addresses, coordinators, removal and
// compromise, and the refusals that name the field.
#include "admin/addressing.hpp"
#include "tests/unit/admin_fixture.hpp"

namespace cordon::admin::test {
namespace {

TEST_F(AdminTest, HostNumbersAndTunnelAddressesAreAssigned) {
  const HostInfo hub = a().add_host(coordinator("hub"));
  EXPECT_EQ(hub.id.to_string(), "0x00010001");
  EXPECT_EQ(hub.tunnel_v4->to_string(), "10.77.0.1/24");
  EXPECT_EQ(hub.tunnel_v6->to_string(), "fd77::1/64");
  const HostInfo c = a().add_host(client("c", "hub"));
  EXPECT_EQ(c.id.to_string(), "0x00010002");
  EXPECT_EQ(c.tunnel_v4->to_string(), "10.77.0.2/24");
  EXPECT_EQ(c.registry, hub.id);
  EXPECT_EQ(c.rendezvous, hub.id);
  EXPECT_EQ(c.courier, hub.id);

  HostSpec given = client("given");
  given.id = HostId::parse("0x0001000a");
  const HostInfo g = a().add_host(given);
  EXPECT_EQ(g.tunnel_v4->to_string(), "10.77.0.10/24");
  EXPECT_EQ(g.tunnel_v6->to_string(), "fd77::a/64");
  // The lowest free number fills the gap.
  EXPECT_EQ(a().add_host(client("next")).id.to_string(), "0x00010003");
}

TEST_F(AdminTest, InABatchARemovedHostsNumberIsStillTheLowestFree) {
  // Within a batch, host numbers are found from a floor instead of
  // counting the hosts each time; removing a host must lower it again.
  Admin::Batch batch(a());
  a().add_host(client("n1"));
  a().add_host(client("n2"));
  a().add_host(client("n3"));
  a().remove_host("n2");
  EXPECT_EQ(a().add_host(client("again")).id.to_string(), "0x00010002");
  EXPECT_EQ(a().add_host(client("n4")).id.to_string(), "0x00010004");
  a().remove_host("n1");
  batch.commit();
  EXPECT_EQ(a().add_host(client("after")).id.to_string(), "0x00010001");
}

TEST_F(AdminTest, TunnelAddressFallsBackToTheLowestFreeOne) {
  // Host number 300 doesn't fit a /24 (offsets 1..254): the lowest free one.
  HostSpec big = client("big");
  big.id = HostId::parse("0x0001012c");
  const HostInfo b = a().add_host(big);
  EXPECT_EQ(b.tunnel_v4->to_string(), "10.77.0.1/24");
  EXPECT_EQ(b.tunnel_v6->to_string(), "fd77::12c/64");
  // Host 1 then wants 10.77.0.1, which is taken: it gets .2.
  const HostInfo one = a().add_host(client("one"));
  EXPECT_EQ(one.id.to_string(), "0x00010001");
  EXPECT_EQ(one.tunnel_v4->to_string(), "10.77.0.2/24");
}

TEST_F(AdminTest, DuplicateHostIdOrNameIsRefusedNamingTheField) {
  a().add_host(coordinator("hub"));
  const std::string before = dump();
  expect_refused([&] { a().add_host(client("hub")); }, {"--name", "'hub'", "already exists", "0x00010001"});
  HostSpec dup = client("other");
  dup.id = HostId::parse("0x00010001");
  expect_refused([&] { a().add_host(dup); }, {"--id 0x00010001", "already used by host 'hub'"});
  HostSpec foreign = client("other");
  foreign.id = HostId::parse("0x00020005");
  expect_refused([&] { a().add_host(foreign); }, {"--id 0x00020005", "network 2", "network 1"});
  EXPECT_EQ(dump(), before);
}

TEST_F(AdminTest, BadHostSettingsAreRefused) {
  a().add_host(coordinator("hub"));
  a().add_host(client("c1", "hub"));
  const std::string before = dump();
  expect_refused([&] { a().add_host(client("x", "nowhere")); }, {"--coordinator", "no host named 'nowhere'"});
  expect_refused([&] { a().add_host(client("x", "c1")); }, {"--coordinator", "c1", "is a client"});
  expect_refused([&] { a().add_host(client("")); }, {"--name", "1 to 64"});
  expect_refused([&] { a().add_host(client(std::string(65, 'n'))); }, {"--name", "65 bytes"});
  expect_refused([&] { a().add_host(client("0x1234")); }, {"looks like a host ID"});
  HostSpec coord_with_coord = coordinator("c2");
  coord_with_coord.coordinators.coordinator = "hub";
  expect_refused([&] { a().add_host(coord_with_coord); }, {"only a client has coordinators"});
  HostSpec client_subnet = client("c3");
  client_subnet.subnets.push_back(*Prefix::parse("192.168.0.0/24"));
  expect_refused([&] { a().add_host(client_subnet); }, {"--subnet", "coordinator"});
  HostSpec bad_subnet = coordinator("gw");
  bad_subnet.subnets.push_back(*Prefix::parse("192.168.0.1/24"));
  expect_refused([&] { a().add_host(bad_subnet); }, {"--subnet 192.168.0.1/24", "192.168.0.0/24"});
  HostSpec zero_port = coordinator("gw");
  zero_port.endpoints = {Endpoint{*IpAddress::parse("192.0.2.9"), 0}};
  expect_refused([&] { a().add_host(zero_port); }, {"--endpoint", "port 0"});
  expect_refused([&] { a().show_host("ghost"); }, {"no host named 'ghost'"});
  expect_refused([&] { a().remove_host("0x00010063"); }, {"no host with ID 0x00010063"});
  EXPECT_EQ(dump(), before);
}

// Tunneled subnets of two gateways, or of one gateway, or a subnet and the
// network's tunnel addresses, never overlap; the refusal names both sides
// and changes nothing.
TEST_F(AdminTest, OverlappingTunneledSubnetsAreRefused) {
  HostSpec g1 = coordinator("g1");
  g1.subnets = {*Prefix::parse("192.168.1.0/24"), *Prefix::parse("fd10:1::/64")};
  const HostInfo first = a().add_host(g1);
  const std::string before = dump();
  HostSpec g2 = coordinator("g2");
  g2.subnets = {*Prefix::parse("192.168.0.0/16")};
  expect_refused([&] { a().add_host(g2); },
                 {"--subnet 192.168.0.0/16", "overlaps 192.168.1.0/24", "gateway 'g1'", first.id.to_string()});
  g2.subnets = {*Prefix::parse("fd10:1::/80")};
  expect_refused([&] { a().add_host(g2); }, {"--subnet fd10:1::/80", "overlaps fd10:1::/64", "'g1'"});
  g2.subnets = {*Prefix::parse("10.77.0.128/25")};
  expect_refused([&] { a().add_host(g2); }, {"--subnet 10.77.0.128/25", "tunnel addresses 10.77.0.0/24"});
  g2.subnets = {*Prefix::parse("172.16.0.0/24"), *Prefix::parse("172.16.0.128/25")};
  expect_refused([&] { a().add_host(g2); }, {"172.16.0.0/24", "172.16.0.128/25", "overlap"});
  EXPECT_EQ(dump(), before);

  // Next to each other is fine, and a gateway may keep or narrow its own.
  g2.subnets = {*Prefix::parse("192.168.2.0/24")};
  a().add_host(g2);
  HostChange narrow;
  narrow.subnets = std::vector<Prefix>{*Prefix::parse("192.168.1.0/25")};
  EXPECT_EQ(a().set_host("g1", narrow).subnets.size(), 1u);
  HostChange grab;
  grab.subnets = std::vector<Prefix>{*Prefix::parse("192.168.1.128/25"), *Prefix::parse("192.168.2.0/23")};
  const std::string kept = dump();
  expect_refused([&] { a().set_host("g1", grab); }, {"--subnet 192.168.2.0/23", "overlaps 192.168.2.0/24", "'g2'"});
  EXPECT_EQ(dump(), kept);
}

TEST_F(AdminTest, ClientIsLinkedToEachOfItsCoordinators) {
  const HostInfo r = a().add_host(coordinator("reg"));
  const HostInfo v = a().add_host(coordinator("rdv"));
  const HostInfo k = a().add_host(coordinator("courier"));
  HostSpec spec = client("c");
  spec.coordinators.registry = "reg";
  spec.coordinators.rendezvous = "rdv";
  spec.coordinators.courier = "courier";
  const HostInfo c = a().add_host(spec);
  EXPECT_EQ(c.registry, r.id);
  EXPECT_EQ(c.rendezvous, v.id);
  EXPECT_EQ(c.courier, k.id);
  const HostInfo shown = a().show_host("c");
  EXPECT_EQ(shown.peers, (std::vector<HostId>{r.id, v.id, k.id}));
  for (const LinkInfo& l : a().list_links()) EXPECT_EQ(l.reasons, (std::vector<std::string>{"coordinator"}));
}

TEST_F(AdminTest, ChangingTheCoordinatorMovesTheLink) {
  const HostInfo hub1 = a().add_host(coordinator("hub1"));
  const HostInfo hub2 = a().add_host(coordinator("hub2"));
  a().add_host(client("c", "hub1"));
  HostChange change;
  change.coordinators.coordinator = "hub2";
  const HostInfo c = a().set_host("c", change);
  EXPECT_EQ(c.courier, hub2.id);
  EXPECT_EQ(a().show_host("c").peers, (std::vector<HostId>{hub2.id}));
  EXPECT_TRUE(a().show_host("hub1").peers.empty());
  (void)hub1;
}

TEST_F(AdminTest, CoordinatorInUseCannotBeRemovedOrDemoted) {
  a().add_host(coordinator("hub"));
  a().add_host(client("c", "hub"));
  const std::string before = dump();
  expect_refused([&] { a().remove_host("hub"); }, {"cannot remove", "'hub'", "coordinator of 1 client", "'c'"});
  HostChange demote;
  demote.role = Role::kClient;
  expect_refused([&] { a().set_host("hub", demote); }, {"make a client of", "'hub'"});
  EXPECT_EQ(dump(), before);
}

TEST_F(AdminTest, SetHostChangesFieldsAndRefusesADuplicateName) {
  a().add_host(coordinator("hub"));
  a().add_host(client("c", "hub"));
  HostChange change;
  change.name = "gateway";
  change.endpoints = std::vector<Endpoint>{*Endpoint::parse("[2001:db8::1]:4000")};
  change.subnets = std::vector<Prefix>{*Prefix::parse("192.168.10.0/24")};
  const HostInfo h = a().set_host("hub", change);
  EXPECT_EQ(h.name, "gateway");
  ASSERT_EQ(h.endpoints.size(), 1u);
  EXPECT_EQ(h.endpoints[0].to_string(), "[2001:db8::1]:4000");
  ASSERT_EQ(h.subnets.size(), 1u);
  HostChange rename;
  rename.name = "c";
  expect_refused([&] { a().set_host("gateway", rename); }, {"--name", "'c'", "already exists"});
  HostChange clear;
  clear.endpoints = std::vector<Endpoint>{};
  EXPECT_TRUE(a().set_host("gateway", clear).endpoints.empty());
}

TEST_F(AdminTest, RemoveHostDropsItsLinksUsersAndMemberships) {
  a().add_host(coordinator("hub"));
  a().add_host(client("a", "hub"));
  a().add_host(client("b", "hub"));
  a().add_link("a", "b");
  add_user("a", "alice");
  a().add_group("g");
  a().add_member("g", "a");
  a().remove_host("a");
  EXPECT_EQ(a().list_hosts().size(), 2u);
  EXPECT_EQ(a().list_links().size(), 1u);  // hub-b
  EXPECT_TRUE(a().list_users(std::nullopt).empty());
  EXPECT_TRUE(a().list_groups()[0].members.empty());
  // Its number is free again.
  EXPECT_EQ(a().add_host(client("again", "hub")).id.to_string(), "0x00010002");
}

TEST_F(AdminTest, CompromiseRemovesTheHostAndRetiresItsId) {
  const HostInfo hub = a().add_host(coordinator("hub"));
  const HostInfo x = a().add_host(client("x", "hub"));
  const HostInfo y = a().add_host(client("y", "hub"));
  a().add_link("x", "y");
  const std::vector<HostId> peers = a().compromise_host("x");
  EXPECT_EQ(peers, (std::vector<HostId>{hub.id, y.id}));
  EXPECT_THROW(a().show_host("x"), AdminError);
  // Its ID is never given out again, automatically or on request.
  EXPECT_EQ(a().add_host(client("z", "hub")).id.to_string(), "0x00010004");
  HostSpec reuse = client("w", "hub");
  reuse.id = x.id;
  expect_refused([&] { a().add_host(reuse); }, {"compromised host 'x'", "never reused"});
  // Its peers' next packages are "keys" packages.
  EXPECT_EQ(a().show_host("hub").dirty, DirtyKind::kKeys);
  EXPECT_EQ(a().show_host("y").dirty, DirtyKind::kKeys);
}

TEST_F(AdminTest, CompromisedCoordinatorLeavesItsClientsWithoutOne) {
  a().add_host(coordinator("hub"));
  a().add_host(client("c", "hub"));
  a().compromise_host("hub");
  const HostInfo c = a().show_host("c");
  EXPECT_EQ(c.registry.value, 0u);
  EXPECT_EQ(c.courier.value, 0u);
  EXPECT_TRUE(c.peers.empty());
}

TEST(AdminAddressing, OffsetsAndMasks) {
  const Prefix v4 = *Prefix::parse("10.77.0.0/16");
  EXPECT_EQ(max_offset(v4), 65534u);
  EXPECT_EQ(address_at(v4, 1).to_string(), "10.77.0.1/16");
  EXPECT_EQ(address_at(v4, 256).to_string(), "10.77.1.0/16");
  EXPECT_EQ(address_at(v4, 65534).to_string(), "10.77.255.254/16");
  EXPECT_EQ(max_offset(*Prefix::parse("10.0.0.0/30")), 2u);
  EXPECT_EQ(max_offset(*Prefix::parse("10.0.0.0/31")), 0u);
  const Prefix v6 = *Prefix::parse("fd77::/64");
  EXPECT_EQ(max_offset(v6), uint64_t{1} << 62);
  EXPECT_EQ(address_at(v6, 0x1234).to_string(), "fd77::1234/64");
  EXPECT_EQ(max_offset(*Prefix::parse("fd77::/120")), 255u);
  EXPECT_EQ(masked(*Prefix::parse("10.1.2.3/20")).to_string(), "10.1.0.0/20");
  EXPECT_TRUE(host_bits_zero(*Prefix::parse("10.1.0.0/20")));
  EXPECT_FALSE(host_bits_zero(*Prefix::parse("10.1.2.0/20")));
}

}  // namespace
}  // namespace cordon::admin::test
