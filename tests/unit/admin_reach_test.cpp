// Reach limits (docs/gateways.md, "Reach"): which of a gateway's tunneled
// subnets a host or a group's members reach, what key sets carry, the
// refusals, and how group changes move a limit.
#include "tests/unit/admin_fixture.hpp"

namespace cordon::admin::test {
namespace {

const FilterTarget kRoad{FilterTarget::Kind::kHost, "road"};
const FilterTarget kOffice{FilterTarget::Kind::kGroup, "office"};

Prefix pfx(const char* text) { return *Prefix::parse(text); }

class AdminReachTest : public AdminTest {
 protected:
  void SetUp() override {
    AdminTest::SetUp();
    HostSpec g = coordinator("gw");
    g.subnets = {pfx("192.168.71.0/24"), pfx("192.168.72.0/24")};
    gw = a().add_host(g).id;
    road = a().add_host(client("road", "gw")).id;
    desk = a().add_host(client("desk", "gw")).id;
    a().add_group("office");
    a().add_member("office", "desk");
    pw_gw = add_user("gw", "root");
    pw_road = add_user("road", "ann");
    pw_desk = add_user("desk", "bob");
  }
  // The gateway's subnets as `host`'s key set lists them.
  std::vector<Prefix> seen_by(const std::string& host, const std::string& password) {
    return subnets_seen_by(host, password, gw);
  }
  std::vector<keys::ReachLimit> gateway_limits() { return export_and_open("gw", pw_gw).body.reach; }
  HostId gw, road, desk;
  std::string pw_gw, pw_road, pw_desk;
};

TEST_F(AdminReachTest, ALimitedHostSeesOnlyItsPrefixesAndTheGatewayKnowsTheLimit) {
  // Unlimited: every host reaches every subnet, and the gateway lists no limit.
  EXPECT_EQ(seen_by("road", pw_road).size(), 2u);
  EXPECT_TRUE(gateway_limits().empty());

  const ReachInfo info = a().set_reach("gw", kRoad, {pfx("192.168.71.0/24")});
  EXPECT_EQ(info.gateway_name, "gw");
  EXPECT_EQ(seen_by("road", pw_road), std::vector<Prefix>{pfx("192.168.71.0/24")});
  EXPECT_EQ(seen_by("desk", pw_desk).size(), 2u);
  EXPECT_EQ(gateway_limits(), (std::vector<keys::ReachLimit>{{road, {pfx("192.168.71.0/24")}}}));

  // A group's limit reaches its members; a host limited both ways reaches
  // the union.
  a().set_reach("gw", kOffice, {pfx("192.168.72.0/25")});
  a().add_member("office", "road");
  EXPECT_EQ(seen_by("desk", pw_desk), std::vector<Prefix>{pfx("192.168.72.0/25")});
  EXPECT_EQ(seen_by("road", pw_road), (std::vector<Prefix>{pfx("192.168.71.0/24"), pfx("192.168.72.0/25")}));
  const auto limits = gateway_limits();
  ASSERT_EQ(limits.size(), 2u);

  // Setting again replaces; clearing lifts it.
  a().set_reach("gw", kRoad, {pfx("192.168.71.128/25")});
  EXPECT_EQ(seen_by("road", pw_road), (std::vector<Prefix>{pfx("192.168.71.128/25"), pfx("192.168.72.0/25")}));
  a().clear_reach("gw", kOffice);
  a().clear_reach("gw", kRoad);
  EXPECT_EQ(seen_by("road", pw_road).size(), 2u);
  EXPECT_TRUE(gateway_limits().empty());
  EXPECT_TRUE(a().list_reach(std::nullopt).empty());
}

TEST_F(AdminReachTest, ListShowsEachPairInOrder) {
  a().set_reach("gw", kOffice, {pfx("192.168.72.0/24")});
  a().set_reach("gw", kRoad, {pfx("192.168.71.0/24"), pfx("192.168.72.0/26")});
  const auto list = a().list_reach(std::string("gw"));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].who.name, "road");
  EXPECT_EQ(list[0].prefixes, (std::vector<Prefix>{pfx("192.168.71.0/24"), pfx("192.168.72.0/26")}));
  EXPECT_EQ(list[1].who.kind, FilterTarget::Kind::kGroup);
  EXPECT_EQ(list[1].who.name, "office");
  EXPECT_THROW(a().list_reach(std::string("nobody")), AdminError);
}

TEST_F(AdminReachTest, BadLimitsAreRefusedAndNothingChanges) {
  a().set_reach("gw", kRoad, {pfx("192.168.71.0/24")});
  const std::string before = dump();
  struct Case {
    const char* what;
    std::string gateway;
    FilterTarget who;
    std::vector<Prefix> prefixes;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"outside the subnets", "gw", kRoad, {pfx("10.0.0.0/24")},
       "10.0.0.0/24 is not inside a tunneled or IPsec subnet"},
      {"wider than a subnet", "gw", kRoad, {pfx("192.168.0.0/16")}, "is not inside a tunneled or IPsec subnet"},
      {"host bits", "gw", kRoad, {pfx("192.168.71.1/24")}, "has bits set after the prefix length"},
      {"no prefix", "gw", kRoad, {}, "name at least one prefix"},
      {"not a gateway", "road", FilterTarget{FilterTarget::Kind::kHost, "desk"}, {pfx("192.168.71.0/24")},
       "has no tunneled subnets"},
      {"the gateway itself", "gw", FilterTarget{FilterTarget::Kind::kHost, "gw"}, {pfx("192.168.71.0/24")},
       "reaches its own LANs"},
      {"unknown host", "gw", FilterTarget{FilterTarget::Kind::kHost, "ghost"}, {pfx("192.168.71.0/24")},
       "no host named 'ghost'"},
      {"unknown group", "gw", FilterTarget{FilterTarget::Kind::kGroup, "ghosts"}, {pfx("192.168.71.0/24")},
       "no group named 'ghosts'"},
      {"unknown gateway", "nowhere", kRoad, {pfx("192.168.71.0/24")}, "--gateway"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    try {
      a().set_reach(c.gateway, c.who, c.prefixes);
      ADD_FAILURE() << "accepted";
    } catch (const AdminError& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    }
  }
  try {
    a().clear_reach("gw", kOffice);
    ADD_FAILURE() << "cleared a limit that is not there";
  } catch (const AdminError& e) {
    EXPECT_NE(std::string(e.what()).find("group 'office' has no reach limit"), std::string::npos) << e.what();
  }
  EXPECT_EQ(dump(), before);
}

TEST_F(AdminReachTest, LimitsMarkHostsForAnAddressBookUpdate) {
  seen_by("road", pw_road);
  seen_by("desk", pw_desk);
  gateway_limits();
  a().build_updates(dir.file("updates"));
  ASSERT_EQ(a().show_host("gw").dirty, DirtyKind::kNone);
  a().set_reach("gw", kOffice, {pfx("192.168.72.0/24")});
  EXPECT_EQ(a().show_host("gw").dirty, DirtyKind::kAddressBook);
  EXPECT_EQ(a().show_host("desk").dirty, DirtyKind::kAddressBook);
  EXPECT_EQ(a().show_host("road").dirty, DirtyKind::kNone);
  a().build_updates(dir.file("updates2"));
  // Joining the group brings the group's limit to road.
  a().add_member("office", "road");
  EXPECT_NE(a().show_host("road").dirty, DirtyKind::kNone);
  EXPECT_EQ(a().show_host("gw").dirty, DirtyKind::kAddressBook);
}

TEST_F(AdminReachTest, ALimitOutsideTheGatewaysNewSubnetsReachesNothing) {
  a().set_reach("gw", kRoad, {pfx("192.168.72.0/24")});
  HostChange change;
  change.subnets = std::vector<Prefix>{pfx("192.168.71.0/24")};
  a().set_host("gw", change);
  // road is still limited, to nothing that remains: it routes none of gw's
  // subnets, and gw drops what road sends into them.
  EXPECT_TRUE(seen_by("road", pw_road).empty());
  EXPECT_EQ(gateway_limits(), (std::vector<keys::ReachLimit>{{road, {}}}));
  EXPECT_EQ(seen_by("desk", pw_desk), std::vector<Prefix>{pfx("192.168.71.0/24")});
}

}  // namespace
}  // namespace cordon::admin::test
