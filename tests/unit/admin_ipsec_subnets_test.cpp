// IPsec peers' subnets (docs/ipsec.md, "Routing IPsec subnets from Cordon
// hosts"): a coordinator's IPsec subnets reach its peers' key sets like its
// tunneled subnets, reach limits narrow them, only a coordinator holds
// them, overlaps are refused naming the other gateway, changes are audited
// and mark the hosts that need an update, and the schema migration keeps
// what an older database held.
#include "tests/unit/admin_fixture.hpp"

#ifndef CORDON_ADMIN_TEST_POSTGRES
#include <sqlite3.h>
#include <sys/stat.h>

#include "admin/schema.hpp"
#include "daemon/managed.hpp"
#endif

namespace cordon::admin::test {
namespace {

Prefix pfx(const char* text) { return *Prefix::parse(text); }
IpsecSubnet ipsec(const char* prefix, const char* peer = "") { return IpsecSubnet{pfx(prefix), peer}; }

class AdminIpsecSubnetTest : public AdminTest {
 protected:
  void SetUp() override {
    AdminTest::SetUp();
    HostSpec g = coordinator("gw");
    g.subnets = {pfx("192.168.71.0/24")};
    g.ipsec_subnets = {ipsec("10.50.0.0/24", "branch"), ipsec("fd50::/64")};
    gw = a().add_host(g).id;
    road = a().add_host(client("road", "gw")).id;
    desk = a().add_host(client("desk", "gw")).id;
    pw_gw = add_user("gw", "root");
    pw_road = add_user("road", "ann");
  }
  // The gateway's subnets as `host`'s key set lists them.
  std::vector<Prefix> seen_by(const std::string& host, const std::string& password) {
    return subnets_seen_by(host, password, gw);
  }
  HostChange set_ipsec(std::vector<IpsecSubnet> subnets) {
    HostChange c;
    c.ipsec_subnets = std::move(subnets);
    return c;
  }
  HostId gw, road, desk;
  std::string pw_gw, pw_road;
};

const std::vector<Prefix> kAll = {pfx("192.168.71.0/24"), pfx("10.50.0.0/24"), pfx("fd50::/64")};

TEST_F(AdminIpsecSubnetTest, KeySetsListThemAfterTheTunneledSubnets) {
  EXPECT_EQ(seen_by("road", pw_road), kAll);
  EXPECT_EQ(seen_by("gw", pw_gw), kAll);  // entry 0: the gateway's own
  const HostInfo shown = a().show_host("gw");
  EXPECT_EQ(shown.subnets, std::vector<Prefix>{pfx("192.168.71.0/24")});
  EXPECT_EQ(shown.ipsec_subnets, (std::vector<IpsecSubnet>{ipsec("10.50.0.0/24", "branch"), ipsec("fd50::/64")}));
  const std::vector<HostInfo> list = a().list_hosts();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].ipsec_subnets, shown.ipsec_subnets);
  EXPECT_TRUE(list[1].ipsec_subnets.empty());
  EXPECT_EQ(shown.ipsec_subnets[0].to_string(), "10.50.0.0/24=branch");
  EXPECT_EQ(IpsecSubnet::parse("10.50.0.0/24=branch"), shown.ipsec_subnets[0]);
  EXPECT_EQ(IpsecSubnet::parse("fd50::/64"), shown.ipsec_subnets[1]);
  EXPECT_FALSE(IpsecSubnet::parse("branch=10.50.0.0/24").has_value());
  EXPECT_FALSE(IpsecSubnet::parse("10.50.0.0/24=").has_value());
}

#ifndef CORDON_ADMIN_TEST_POSTGRES
// What the daemons make of the key sets (daemon/managed.hpp): the client
// routes the IPsec subnets to gw; gw counts them among the subnets it
// forwards for and enforces reach on, and adds no route of its own for them.
TEST_F(AdminIpsecSubnetTest, DaemonsRouteThemToTheGatewayAndTheGatewayForwardsThem) {
  const daemon::ManagedNode client_view = daemon::managed_node(export_and_open("road", pw_road));
  const auto to_gw = std::find_if(client_view.peers.begin(), client_view.peers.end(),
                                  [&](const auto& p) { return p.id == gw; });
  ASSERT_NE(to_gw, client_view.peers.end());
  for (const Prefix& p : kAll) {
    EXPECT_NE(std::find(to_gw->allowed_prefixes.begin(), to_gw->allowed_prefixes.end(), p),
              to_gw->allowed_prefixes.end())
        << p.to_string();
  }
  const daemon::ManagedNode gw_view = daemon::managed_node(export_and_open("gw", pw_gw));
  EXPECT_EQ(gw_view.subnets, kAll);
  for (const auto& peer : gw_view.peers) {
    for (const Prefix& p : peer.allowed_prefixes) EXPECT_FALSE(p == pfx("10.50.0.0/24")) << peer.id.to_string();
  }
}
#endif

TEST_F(AdminIpsecSubnetTest, ReachLimitsNarrowThemLikeTunneledSubnets) {
  const FilterTarget who{FilterTarget::Kind::kHost, "road"};
  a().set_reach("gw", who, {pfx("10.50.0.0/25")});
  EXPECT_EQ(seen_by("road", pw_road), std::vector<Prefix>{pfx("10.50.0.0/25")});
  EXPECT_EQ(export_and_open("gw", pw_gw).body.reach,
            (std::vector<keys::ReachLimit>{{road, {pfx("10.50.0.0/25")}}}));
  expect_refused([&] { a().set_reach("gw", who, {pfx("10.60.0.0/24")}); },
                 {"10.60.0.0/24 is not inside a tunneled or IPsec subnet", "10.50.0.0/24"});
  // A gateway with IPsec subnets only takes limits too.
  HostSpec only = coordinator("vpn");
  only.ipsec_subnets = {ipsec("10.70.0.0/24", "pool")};
  a().add_host(only);
  a().set_reach("vpn", who, {pfx("10.70.0.0/26")});
}

TEST_F(AdminIpsecSubnetTest, OnlyACoordinatorHoldsThemAndBadOnesAreRefused) {
  const std::string before = dump();
  HostSpec c = client("c", "gw");
  c.ipsec_subnets = {ipsec("10.60.0.0/24")};
  expect_refused([&] { a().add_host(c); }, {"--ipsec-subnet", "only a coordinator", "--role coordinator"});
  EXPECT_EQ(dump(), before);
  HostSpec vpn = coordinator("vpn");
  vpn.ipsec_subnets = {ipsec("10.70.0.0/24")};
  a().add_host(vpn);
  const std::string with_vpn = dump();
  HostChange demote;
  demote.role = Role::kClient;
  expect_refused([&] { a().set_host("vpn", demote); }, {"--ipsec-subnet", "--clear-ipsec-subnets"});
  EXPECT_EQ(dump(), with_vpn);
  expect_refused([&] { a().set_host("gw", set_ipsec({ipsec("10.60.0.1/24")})); },
                 {"--ipsec-subnet 10.60.0.1/24", "did you mean 10.60.0.0/24"});
  expect_refused([&] { a().set_host("gw", set_ipsec({ipsec("10.60.0.0/24", "branch office")})); },
                 {"--ipsec-subnet 10.60.0.0/24=branch office", "peer name", "letters, digits"});
  std::vector<IpsecSubnet> many;
  for (int i = 0; i < 255; ++i) {
    const std::string text = "10." + std::to_string(100 + i / 200) + "." + std::to_string(i % 200) + ".0/24";
    many.push_back(ipsec(text.c_str()));
  }
  expect_refused([&] { a().set_host("gw", set_ipsec(many)); }, {"1 tunneled and 255 IPsec subnets", "at most 255"});
  EXPECT_EQ(dump(), with_vpn);
}

TEST_F(AdminIpsecSubnetTest, OverlapsWithAnyOtherSubnetOrTheTunnelAreRefusedNamingTheGateway) {
  HostSpec g2 = coordinator("g2");
  const std::string id = gw.to_string();
  g2.ipsec_subnets = {ipsec("10.50.0.128/25")};
  expect_refused([&] { a().add_host(g2); },
                 {"--ipsec-subnet 10.50.0.128/25", "overlaps 10.50.0.0/24", "an IPsec subnet of gateway 'gw'", id,
                  "peer 'branch'", "narrow or remove"});
  g2.ipsec_subnets = {ipsec("192.168.0.0/16")};
  expect_refused([&] { a().add_host(g2); },
                 {"--ipsec-subnet 192.168.0.0/16", "overlaps 192.168.71.0/24", "tunneled by gateway 'gw'", id});
  g2.ipsec_subnets = {};
  g2.subnets = {pfx("fd50::/48")};
  expect_refused([&] { a().add_host(g2); },
                 {"--subnet fd50::/48", "overlaps fd50::/64", "IPsec subnet of gateway 'gw'"});
  g2.subnets = {};
  g2.ipsec_subnets = {ipsec("10.77.0.0/25")};
  expect_refused([&] { a().add_host(g2); }, {"--ipsec-subnet 10.77.0.0/25", "tunnel addresses 10.77.0.0/24"});
  // The host's own subnets of either kind.
  expect_refused([&] { a().set_host("gw", set_ipsec({ipsec("192.168.71.128/25")})); },
                 {"--subnet 192.168.71.0/24 and --ipsec-subnet 192.168.71.128/25 overlap"});
  expect_refused([&] { a().set_host("gw", set_ipsec({ipsec("10.60.0.0/24"), ipsec("10.60.0.0/16")})); },
                 {"--ipsec-subnet 10.60.0.0/24 and --ipsec-subnet 10.60.0.0/16 overlap"});
  // Replacing its own: its old rows are not in the way.
  EXPECT_EQ(a().set_host("gw", set_ipsec({ipsec("10.50.0.0/23", "branch")})).ipsec_subnets.size(), 1u);
  g2.ipsec_subnets = {ipsec("fd50::/64")};
  EXPECT_EQ(a().add_host(g2).ipsec_subnets.size(), 1u);
}

TEST_F(AdminIpsecSubnetTest, ChangesAreAuditedAndMarkTheGatewayAndItsPeers) {
  const std::string pw_desk = add_user("desk", "bob");
  export_and_open("gw", pw_gw);
  export_and_open("road", pw_road);
  export_and_open("desk", pw_desk);
  a().build_updates(dir.file("updates"));
  ASSERT_TRUE(a().pending_updates().empty());

  a().set_host("gw", set_ipsec({ipsec("10.50.0.0/24", "branch"), ipsec("fd50::/64"), ipsec("10.51.0.0/24", "hq")}));
  EXPECT_NE(a().audit_log(1).back().arguments.find("ipsec-subnet=10.51.0.0/24=hq"), std::string::npos);
  std::vector<HostId> marked;
  for (const PendingUpdate& p : a().pending_updates()) {
    EXPECT_EQ(p.kind, DirtyKind::kAddressBook) << p.host_name;
    marked.push_back(p.host);
  }
  EXPECT_EQ(marked, (std::vector<HostId>{gw, road, desk}));
  a().build_updates(dir.file("updates2"));

  // A new peer name alone changes no key set: nothing is marked.
  EXPECT_EQ(a().set_host("gw", set_ipsec({ipsec("10.50.0.0/24", "branch-2"), ipsec("fd50::/64"),
                                          ipsec("10.51.0.0/24", "hq")}))
                .ipsec_subnets[0]
                .peer,
            "branch-2");
  EXPECT_TRUE(a().pending_updates().empty());

  const HostInfo cleared = a().set_host("gw", set_ipsec({}));
  EXPECT_TRUE(cleared.ipsec_subnets.empty());
  EXPECT_EQ(cleared.subnets.size(), 1u);
  EXPECT_NE(a().audit_log(1).back().arguments.find("ipsec-subnets=none"), std::string::npos);
  EXPECT_EQ(a().pending_updates().size(), 3u);
  EXPECT_EQ(seen_by("road", pw_road), std::vector<Prefix>{pfx("192.168.71.0/24")});

  // Refusals are audited too, and change nothing.
  HostSpec c = client("c2", "gw");
  c.ipsec_subnets = {ipsec("10.60.0.0/24")};
  expect_refused([&] { a().add_host(c); }, {"--ipsec-subnet"});
  EXPECT_NE(a().audit_log(1).back().result.find("refused: --ipsec-subnet"), std::string::npos);
}

TEST_F(AdminIpsecSubnetTest, RemovingTheGatewayDropsThemAndABackupKeepsThem) {
  const std::string backup = dir.file("network.backup");
  a().export_backup(backup, "backup password 1");
  const std::string restored = dir.file("restored.db");
  (void)Admin::import_backup(backup, restored, "backup password 1");
  Admin copy = Admin::open(restored);
  EXPECT_EQ(copy.show_host("gw").ipsec_subnets, a().show_host("gw").ipsec_subnets);

  a().remove_host("road");
  a().remove_host("desk");
  a().remove_host("gw");
  Statement st = a().database().prepare("SELECT COUNT(*) FROM ipsec_subnets");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.int64(0), 0);
}

#ifndef CORDON_ADMIN_TEST_POSTGRES
// A database of schema version 7 opens, migrates to version 8, keeps its
// tunneled subnets and gains an empty ipsec_subnets table.
TEST(AdminIpsecSubnetMigration, Version7DatabaseMigratesWithoutLoss) {
  TempDir dir;
  const std::string path = dir.file("v7.db");
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    for (const Migration& m : migrations()) {
      if (m.version > 7) break;
      ASSERT_EQ(sqlite3_exec(raw, m.sql, nullptr, nullptr, nullptr), SQLITE_OK) << m.version;
    }
    ASSERT_EQ(sqlite3_exec(raw,
                           "INSERT INTO network (id, number, name, ipv4, ipv6, created_at) "
                           "VALUES (1, 1, 'old', '10.77.0.0/24', NULL, 0);"
                           "INSERT INTO hosts (id, number, name, role, tunnel_v4, host_key, dirty, created_at) "
                           "VALUES (65537, 1, 'gw', 2, 1, zeroblob(32), 0, 0);"
                           "INSERT INTO subnets (host, position, prefix) VALUES (65537, 0, '192.168.71.0/24');"
                           "PRAGMA user_version = 7;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
  }
  ::chmod(path.c_str(), 0600);
  Admin admin = Admin::open(path);
  EXPECT_EQ(admin.network_info().schema_version, 8);
  EXPECT_EQ(latest_schema_version(), 8);
  HostInfo gw = admin.show_host("gw");
  EXPECT_EQ(gw.subnets, std::vector<Prefix>{pfx("192.168.71.0/24")});
  EXPECT_TRUE(gw.ipsec_subnets.empty());
  HostChange change;
  change.ipsec_subnets = std::vector<IpsecSubnet>{ipsec("10.50.0.0/24", "branch")};
  EXPECT_EQ(admin.set_host("gw", change).ipsec_subnets.size(), 1u);
  EXPECT_EQ(admin.show_host("gw").subnets, std::vector<Prefix>{pfx("192.168.71.0/24")});
}
#endif

}  // namespace
}  // namespace cordon::admin::test
