// The administrator's filter rules (docs/gateways.md, "Central rules";
// docs/firewall.md, "Central open rules"): adding, ordering, refusing, what
// key sets carry, and how host and group changes keep a rule's meaning.
#include "tests/unit/admin_fixture.hpp"

namespace cordon::admin::test {
namespace {

const FilterTarget kForGw{FilterTarget::Kind::kHost, "gw"};
const FilterTarget kForOffice{FilterTarget::Kind::kGroup, "office"};

class AdminFilterTest : public AdminTest {
 protected:
  void SetUp() override {
    AdminTest::SetUp();
    HostSpec g = coordinator("gw");
    g.subnets.push_back(*Prefix::parse("192.168.71.0/24"));
    gw = a().add_host(g).id;
    road = a().add_host(client("road", "gw")).id;
    desk = a().add_host(client("desk", "gw")).id;
    a().add_group("office");
    a().add_member("office", "desk");
    pw_gw = add_user("gw", "root");
    pw_desk = add_user("desk", "ann");
  }
  std::vector<keys::FilterRuleEntry> rules_of(const std::string& host, const std::string& password) {
    return export_and_open(host, password).body.rules;
  }
  std::vector<std::string> texts(const std::vector<FilterRuleInfo>& rules) {
    std::vector<std::string> out;
    for (const auto& r : rules) out.push_back(r.text);
    return out;
  }
  HostId gw, road, desk;
  std::string pw_gw, pw_desk;
};

TEST_F(AdminFilterTest, KeySetsCarryAHostsRulesInOrderWithPeersByHostId) {
  const FilterRuleInfo ssh = a().add_filter_rule(kForGw, "drop in peer road proto tcp dport 22");
  const FilterRuleInfo https = a().add_filter_rule(kForGw, "allow in peer road,office proto tcp dport 443");
  a().add_filter_rule(kForOffice, "allow out proto icmp");
  // --before puts a rule ahead of another.
  const FilterRuleInfo first = a().add_filter_rule(kForGw, "allow in peer road proto icmp", ssh.number);
  EXPECT_EQ(https.exported, "allow in peer " + road.to_string() + "," + desk.to_string() + " proto tcp dport 443");

  const auto rules = rules_of("gw", pw_gw);
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].id, static_cast<uint32_t>(first.number));
  EXPECT_EQ(rules[0].text, "allow in peer " + road.to_string() + " proto icmp");
  EXPECT_EQ(rules[1].text, "drop in peer " + road.to_string() + " proto tcp dport 22");
  EXPECT_EQ(rules[2].id, static_cast<uint32_t>(https.number));
  // A group's rule reaches its members, and only them.
  const auto desk_rules = rules_of("desk", pw_desk);
  ASSERT_EQ(desk_rules.size(), 1u);
  EXPECT_EQ(desk_rules[0].text, "allow out proto icmp");
  // `filter list --host` shows what that host receives, in order.
  EXPECT_EQ(texts(a().list_filter_rules(std::string("desk"))), std::vector<std::string>{"allow out proto icmp"});
  EXPECT_EQ(a().list_filter_rules(std::nullopt).size(), 4u);
}

TEST_F(AdminFilterTest, BadRulesAreRefusedAndNothingChanges) {
  a().add_filter_rule(kForGw, "allow in proto icmp");
  const std::string before = dump();
  struct Case {
    FilterTarget target;
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {kForGw, "allow in peer nobody", "no host or group is named 'nobody'"},
      {kForGw, "allow in dport 80-22", "runs backwards"},
      {kForGw, "allow in from 10.0.0.0/33", "word 4"},
      {kForGw, "permit in", "word 1"},
      {FilterTarget{FilterTarget::Kind::kHost, "ghost"}, "allow", "--host: no host named 'ghost'"},
      {FilterTarget{FilterTarget::Kind::kGroup, "ghosts"}, "allow", "no group named 'ghosts'"},
      {kForGw, std::string(1100, 'a'), "at most 1024"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text.substr(0, 40));
    try {
      a().add_filter_rule(c.target, c.text);
      ADD_FAILURE() << "accepted";
    } catch (const AdminError& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(a().add_filter_rule(kForGw, "allow", int64_t{999}), AdminError);
  EXPECT_THROW(a().remove_filter_rule(999), AdminError);
  EXPECT_EQ(dump(), before);
}

TEST_F(AdminFilterTest, OpenRulesTravelAsKindTwoInTheirOrderAsWritten) {
  const FilterRuleInfo ssh = a().add_filter_rule(kForGw, "drop in peer road proto tcp dport 22");
  const FilterRuleInfo web =
      a().add_filter_rule(kForGw, "allow input proto tcp dport 443", std::nullopt, FilterTraffic::kOpen);
  const FilterRuleInfo lan = a().add_filter_rule(kForOffice, "allow input iif lan0 from 192.168.71.0/24",
                                                 std::nullopt, FilterTraffic::kOpen);
  const FilterRuleInfo first =
      a().add_filter_rule(kForGw, "drop input from 203.0.113.0/24", web.number, FilterTraffic::kOpen);
  EXPECT_EQ(web.traffic, FilterTraffic::kOpen);
  EXPECT_EQ(ssh.traffic, FilterTraffic::kProtected);
  EXPECT_EQ(web.exported, web.text);

  const auto rules = rules_of("gw", pw_gw);
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0].kind, keys::FilterRuleKind::kProtected);
  EXPECT_EQ(rules[1].id, static_cast<uint32_t>(first.number));
  EXPECT_EQ(rules[1].kind, keys::FilterRuleKind::kOpen);
  EXPECT_EQ(rules[1].text, "drop input from 203.0.113.0/24");
  EXPECT_EQ(rules[2].text, "allow input proto tcp dport 443");
  const auto desk_rules = rules_of("desk", pw_desk);
  ASSERT_EQ(desk_rules.size(), 1u);
  EXPECT_EQ(desk_rules[0].id, static_cast<uint32_t>(lan.number));
  EXPECT_EQ(desk_rules[0].kind, keys::FilterRuleKind::kOpen);

  // A rename of a host or group leaves an open rule's text alone, even one
  // whose words look like a name.
  a().add_filter_rule(kForGw, "allow input iif road", std::nullopt, FilterTraffic::kOpen);
  HostChange rename;
  rename.name = "laptop";
  a().set_host("road", rename);
  EXPECT_EQ(texts(a().list_filter_rules(std::string("gw"))).back(), "allow input iif road");
}

TEST_F(AdminFilterTest, BadOpenRulesAreRefusedAndNothingChanges) {
  const FilterRuleInfo ssh = a().add_filter_rule(kForGw, "drop in peer road proto tcp dport 22");
  const std::string before = dump();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"allow in peer road", "bad open rule: word 2 (\"in\"): unknown keyword"},
      {"allow input dport 22", "bad open rule: dport needs proto tcp or proto udp; see docs/firewall.md"},
      {"allow input from 10.0.0.1/8", "has bits set after the prefix length"},
      {"allow input proto tcp dport 0", "a port is a number from 1 to 65535"},
      {"allow input iif a/b", "word 4 (\"a/b\"): interface"},
  };
  for (const auto& [text, message] : cases) {
    SCOPED_TRACE(text);
    try {
      a().add_filter_rule(kForGw, text, std::nullopt, FilterTraffic::kOpen);
      ADD_FAILURE() << "accepted";
    } catch (const AdminError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
  // An open rule goes before an open rule only.
  try {
    a().add_filter_rule(kForGw, "allow input", ssh.number, FilterTraffic::kOpen);
    ADD_FAILURE() << "accepted";
  } catch (const AdminError& e) {
    EXPECT_NE(std::string(e.what()).find("is for protected traffic and this one for open"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(dump(), before);
}

TEST_F(AdminFilterTest, AddingAndRemovingARuleMarksItsHostsForAnAddressBookUpdate) {
  // Packages are built for exported hosts: export, then clear the marks.
  rules_of("gw", pw_gw);
  rules_of("desk", pw_desk);
  a().build_updates(dir.file("updates"));
  ASSERT_EQ(a().show_host("gw").dirty, DirtyKind::kNone);
  const FilterRuleInfo r = a().add_filter_rule(kForOffice, "drop in peer road");
  EXPECT_EQ(a().show_host("desk").dirty, DirtyKind::kAddressBook);
  EXPECT_EQ(a().show_host("gw").dirty, DirtyKind::kNone);
  a().build_updates(dir.file("updates2"));
  a().remove_filter_rule(r.number);
  EXPECT_EQ(a().show_host("desk").dirty, DirtyKind::kAddressBook);
  EXPECT_TRUE(a().list_filter_rules(std::nullopt).empty());
}

TEST_F(AdminFilterTest, RulesKeepTheirMeaningWhenHostsAndGroupsChange) {
  a().add_filter_rule(kForGw, "drop in peer road,desk proto tcp dport 22");
  const FilterRuleInfo only_office = a().add_filter_rule(kForGw, "allow in peer office");
  // A renamed host is renamed in the rules.
  HostChange rename;
  rename.name = "laptop";
  a().set_host("road", rename);
  EXPECT_EQ(texts(a().list_filter_rules(std::nullopt))[0], "drop in peer laptop,desk proto tcp dport 22");
  // A name a rule uses cannot be given to another host or group.
  EXPECT_THROW(a().add_group("laptop"), AdminError);
  // An empty group names nobody: the rule stays, but no host receives it.
  a().remove_member("office", "desk");
  auto rules = a().list_filter_rules(std::nullopt);
  EXPECT_EQ(rules[1].text, "allow in peer office");
  EXPECT_TRUE(rules[1].exported.empty());
  EXPECT_EQ(rules_of("gw", pw_gw).size(), 1u);
  // A removed host leaves the peer lists; a rule left with none goes.
  a().remove_host("desk");
  EXPECT_EQ(texts(a().list_filter_rules(std::nullopt))[0], "drop in peer laptop proto tcp dport 22");
  a().remove_group("office");
  rules = a().list_filter_rules(std::nullopt);
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_NE(rules[0].number, only_office.number);
}

TEST_F(AdminFilterTest, ANameOfBothAHostAndAGroupIsRefusedInARule) {
  a().add_group("road-group");
  a().add_member("road-group", "road");
  // Not ambiguous: different names.
  EXPECT_NO_THROW(a().add_filter_rule(kForGw, "allow in peer road-group"));
  // Names are checked when a host or group is created, so a rule cannot be
  // made ambiguous later; a group and host of the same name from before any
  // rule are refused in a rule.
  HostSpec twin = client("twin", "gw");
  a().add_host(twin);
  a().add_group("twin");
  try {
    a().add_filter_rule(kForGw, "allow in peer twin");
    ADD_FAILURE() << "accepted";
  } catch (const AdminError& e) {
    EXPECT_NE(std::string(e.what()).find("names both a host and a group"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cordon::admin::test
