// Dirty marks (admin/dirty.hpp): the stronger mark wins, and a host already
// marked at least as strongly is not written again (what keeps building a
// large network cheap: every new link marks each end four times).
#include <sqlite3.h>

#include <gtest/gtest.h>

#include "admin/dirty.hpp"
#include "admin_fixture.hpp"

namespace cordon::admin::test {
namespace {

class DirtyMarkTest : public AdminTest {
 protected:
  void SetUp() override {
    AdminTest::SetUp();
    a().add_host(coordinator("hub"));
    a().add_host(client("a", "hub"));
    a().add_host(client("b", "hub"));
    hub = a().host_id(1);
    host_a = a().host_id(2);
    db().exec("UPDATE hosts SET dirty = 0");
  }
  Database& db() { return admin->database(); }
  int64_t dirty_of(HostId host) {
    Statement st = db().prepare("SELECT dirty FROM hosts WHERE id = ?1");
    st.bind(1, static_cast<int64_t>(host.value));
    EXPECT_TRUE(st.step());
    return st.int64(0);
  }
  // Rows the call wrote (SQLite counts a row an UPDATE matched even when
  // its value stays the same).
  template <typename F>
  int writes(F&& mark) {
    const int before = sqlite3_total_changes(db().handle());
    mark();
    return sqlite3_total_changes(db().handle()) - before;
  }

  HostId hub, host_a;
};

TEST_F(DirtyMarkTest, StrongerMarkWinsAndAnEqualOrWeakerOneWritesNothing) {
  EXPECT_EQ(writes([&] { mark_dirty(db(), host_a, DirtyKind::kAddressBook); }), 1);
  EXPECT_EQ(dirty_of(host_a), 1);
  EXPECT_EQ(writes([&] { mark_dirty(db(), host_a, DirtyKind::kAddressBook); }), 0);
  EXPECT_EQ(writes([&] { mark_dirty(db(), host_a, DirtyKind::kKeys); }), 1);
  EXPECT_EQ(dirty_of(host_a), 2);
  EXPECT_EQ(writes([&] { mark_dirty(db(), host_a, DirtyKind::kAddressBook); }), 0);
  EXPECT_EQ(writes([&] { mark_dirty(db(), host_a, DirtyKind::kKeys); }), 0);
  EXPECT_EQ(dirty_of(host_a), 2);
}

TEST_F(DirtyMarkTest, RegistryPeersAndAllSkipHostsAlreadyMarked) {
  // a's registry is the hub.
  EXPECT_EQ(writes([&] { mark_registry_dirty(db(), host_a, DirtyKind::kKeys); }), 1);
  EXPECT_EQ(dirty_of(hub), 2);
  EXPECT_EQ(writes([&] { mark_registry_dirty(db(), host_a, DirtyKind::kAddressBook); }), 0);
  // The hub's peers are a and b; neither is marked yet.
  EXPECT_EQ(writes([&] { mark_peers_dirty(db(), hub, DirtyKind::kAddressBook); }), 2);
  EXPECT_EQ(writes([&] { mark_peers_dirty(db(), hub, DirtyKind::kAddressBook); }), 0);
  EXPECT_EQ(writes([&] { mark_peer_registries_dirty(db(), host_a, DirtyKind::kAddressBook); }), 0);
  // Only a and b move from address book to keys; the hub is keys already.
  EXPECT_EQ(writes([&] { mark_all_dirty(db(), DirtyKind::kKeys); }), 2);
  EXPECT_EQ(writes([&] { mark_all_dirty(db(), DirtyKind::kKeys); }), 0);
  EXPECT_EQ(dirty_of(host_a), 2);
  EXPECT_EQ(dirty_of(hub), 2);
}

}  // namespace
}  // namespace cordon::admin::test
