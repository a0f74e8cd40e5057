// Links: host pairs with one key each, group links expanded to pairs, and
// which reasons keep a pair linked.
#include "tests/unit/admin_fixture.hpp"

namespace cordon::admin::test {
namespace {

std::vector<std::byte> link_key(Database& db, HostId a, HostId b) {
  if (b < a) std::swap(a, b);
  Statement st = db.prepare("SELECT key FROM links WHERE a = ?1 AND b = ?2");
  st.bind(1, static_cast<int64_t>(a.value)).bind(2, static_cast<int64_t>(b.value));
  if (!st.step()) return {};
  const auto k = st.blob(0);
  return {k.begin(), k.end()};
}

class AdminLinkTest : public AdminTest {
 protected:
  void SetUp() override {
    AdminTest::SetUp();
    hub = a().add_host(coordinator("hub")).id;
    x = a().add_host(client("x", "hub")).id;
    y = a().add_host(client("y", "hub")).id;
    z = a().add_host(client("z", "hub")).id;
  }
  HostId hub, x, y, z;
};

TEST_F(AdminLinkTest, LinkAddMakesOneRandomKeyPerPair) {
  const LinkChange c = a().add_link("x", "0x00010003");
  ASSERT_EQ(c.added.size(), 1u);
  EXPECT_EQ(c.added[0], std::make_pair(x, y));
  a().add_link("x", "z");
  const auto kxy = link_key(a().database(), x, y);
  const auto kxz = link_key(a().database(), x, z);
  EXPECT_EQ(kxy.size(), 32u);
  EXPECT_EQ(kxz.size(), 32u);
  EXPECT_NE(kxy, kxz);
  EXPECT_NE(kxy, std::vector<std::byte>(32));
}

TEST_F(AdminLinkTest, LinkRefusals) {
  a().add_link("x", "y");
  const std::string before = dump();
  expect_refused([&] { a().add_link("x", "ghost"); }, {"second host", "no host named 'ghost'"});
  expect_refused([&] { a().add_link("0x00010063", "x"); }, {"first host", "no host with ID 0x00010063"});
  expect_refused([&] { a().add_link("x", "x"); }, {"cannot be linked with itself"});
  expect_refused([&] { a().add_link("y", "x"); }, {"already linked"});
  expect_refused([&] { a().remove_link("y", "z"); }, {"'y'", "'z'", "not linked"});
  expect_refused([&] { a().remove_link("x", "hub"); }, {"coordinator", "host set"});
  EXPECT_EQ(dump(), before);
}

TEST_F(AdminLinkTest, LinkAddOnACoveredPairSaysWhichLinkCoversIt) {
  const auto key = link_key(a().database(), x, hub);
  const LinkChange c = a().add_link("x", "hub");
  EXPECT_TRUE(c.added.empty());
  ASSERT_TRUE(c.already_linked.has_value());
  for (const char* needle : {"'x' (0x00010002) and 'hub' (0x00010001) were already linked",
                             "'hub' (0x00010001) is the coordinator of 'x' (0x00010002)", "nothing needs delivering"}) {
    EXPECT_NE(c.already_linked->find(needle), std::string::npos) << "missing: " << needle << "\n" << *c.already_linked;
  }
  EXPECT_EQ(link_key(a().database(), x, hub), key);

  a().add_group("red");
  a().add_group("blue");
  a().add_member("red", "x");
  a().add_member("blue", "y");
  a().add_group_link("red", "blue");
  const LinkChange g = a().add_link("y", "x");
  ASSERT_TRUE(g.already_linked.has_value());
  EXPECT_NE(g.already_linked->find("the group link red-blue"), std::string::npos) << *g.already_linked;
  // A pair that was not linked gets no note.
  EXPECT_FALSE(a().add_link("z", "y").already_linked.has_value());
}

TEST_F(AdminLinkTest, LinkRemoveDropsThePairAndItsKey) {
  a().add_link("x", "y");
  const LinkChange c = a().remove_link("y", "x");
  ASSERT_EQ(c.removed.size(), 1u);
  EXPECT_TRUE(link_key(a().database(), x, y).empty());
  // Re-linking makes a new key.
  a().add_link("x", "y");
  EXPECT_EQ(link_key(a().database(), x, y).size(), 32u);
}

TEST_F(AdminLinkTest, GroupLinksExpandToHostPairs) {
  a().add_group("red");
  a().add_group("blue");
  a().add_member("red", "x");
  a().add_member("blue", "y");
  a().add_member("blue", "z");
  const LinkChange c = a().add_group_link("red", "blue");
  EXPECT_EQ(c.added.size(), 2u);  // x-y, x-z
  // A new member of red is linked with every member of blue.
  const LinkChange joined = a().add_member("red", "hub");
  EXPECT_TRUE(joined.added.empty());  // hub-y and hub-z exist already (coordinator links)
  EXPECT_EQ(joined.unchanged, 2u);
  // The reasons are listed.
  for (const LinkInfo& l : a().list_links()) {
    if (l.a == x && l.b == y) EXPECT_EQ(l.reasons, (std::vector<std::string>{"group red-blue"}));
  }
  // A pair asked for by a group link can't be removed by hand.
  expect_refused([&] { a().remove_link("x", "y"); }, {"group red-blue"});
  // Leaving the group drops the pairs it asked for.
  const LinkChange left = a().remove_member("red", "x");
  EXPECT_EQ(left.removed.size(), 2u);
  EXPECT_TRUE(link_key(a().database(), x, y).empty());
}

TEST_F(AdminLinkTest, ManualLinkSurvivesTheEndOfAGroupLink) {
  a().add_group("g");
  a().add_member("g", "x");
  a().add_member("g", "y");
  a().add_group_link("g", "g");  // everyone in g with everyone else in g
  EXPECT_FALSE(link_key(a().database(), x, y).empty());
  const auto key = link_key(a().database(), x, y);
  a().add_link("x", "y");  // now also wanted by hand: same pair, same key
  EXPECT_EQ(link_key(a().database(), x, y), key);
  const LinkChange c = a().remove_group_link("g", "g");
  EXPECT_TRUE(c.removed.empty());
  EXPECT_EQ(link_key(a().database(), x, y), key);
  a().remove_link("x", "y");
  EXPECT_TRUE(link_key(a().database(), x, y).empty());
}

TEST_F(AdminLinkTest, GroupRefusalsAndRemoval) {
  a().add_group("g");
  a().add_member("g", "x");
  const std::string before = dump();
  expect_refused([&] { a().add_group("g"); }, {"group 'g' already exists"});
  expect_refused([&] { a().add_member("g", "x"); }, {"already in group 'g'"});
  expect_refused([&] { a().add_member("nogroup", "x"); }, {"no group named 'nogroup'"});
  expect_refused([&] { a().add_member("g", "ghost"); }, {"no host named 'ghost'"});
  expect_refused([&] { a().remove_member("g", "y"); }, {"not in group 'g'"});
  expect_refused([&] { a().add_group_link("g", "nogroup"); }, {"no group named 'nogroup'"});
  expect_refused([&] { a().remove_group_link("g", "g"); }, {"not linked"});
  EXPECT_EQ(dump(), before);

  a().add_group("h");
  a().add_member("h", "y");
  a().add_group_link("g", "h");
  EXPECT_FALSE(link_key(a().database(), x, y).empty());
  const LinkChange c = a().remove_group("h");
  EXPECT_EQ(c.removed.size(), 1u);
  EXPECT_TRUE(link_key(a().database(), x, y).empty());
  ASSERT_EQ(a().list_groups().size(), 1u);
  EXPECT_TRUE(a().list_groups()[0].linked_groups.empty());
}

TEST_F(AdminLinkTest, RotationGivesNewKeys) {
  a().add_link("x", "y");
  const auto before_xy = link_key(a().database(), x, y);
  const auto before_hx = link_key(a().database(), hub, x);
  const auto before_hy = link_key(a().database(), hub, y);
  EXPECT_EQ(a().rotate_link("y", "x").link_keys, 1u);
  EXPECT_NE(link_key(a().database(), x, y), before_xy);
  EXPECT_EQ(link_key(a().database(), hub, x), before_hx);
  const RotateResult r = a().rotate_host("x");
  EXPECT_EQ(r.link_keys, 2u);
  EXPECT_EQ(r.host_keys, 1u);
  EXPECT_NE(link_key(a().database(), hub, x), before_hx);
  EXPECT_EQ(link_key(a().database(), hub, y), before_hy);
  const RotateResult all = a().rotate_all();
  EXPECT_EQ(all.link_keys, 4u);  // hub-x, hub-y, hub-z, x-y
  EXPECT_EQ(all.host_keys, 4u);
  EXPECT_NE(link_key(a().database(), hub, y), before_hy);
  expect_refused([&] { a().rotate_link("y", "z"); }, {"--link", "not linked"});
  expect_refused([&] { a().rotate_host("ghost"); }, {"--host", "ghost"});
}

}  // namespace
}  // namespace cordon::admin::test
