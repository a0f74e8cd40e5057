// Dirty tracking and `updates build`: which hosts get a package, of which
// kind (keys vs address book, docs/administration.md), what the package holds (opened
// with the core's open_update), and host-key rotation.
#include <map>

#include "tests/unit/admin_fixture.hpp"

namespace cordon::admin::test {
namespace {

class AdminUpdatesTest : public AdminTest {
 protected:
  void SetUp() override {
    AdminTest::SetUp();
    hub = a().add_host(coordinator("hub")).id;
    hub2 = a().add_host(coordinator("hub2")).id;
    x = a().add_host(client("x", "hub")).id;
    y = a().add_host(client("y", "hub")).id;
    z = a().add_host(client("z", "hub")).id;
    a().add_link("x", "y");
    for (const char* h : {"hub", "hub2", "x", "y", "z"}) {
      const std::string pw = add_user(h, "u");
      const keys::OpenedKeySet ks = export_and_open(h, pw);
      host_keys[ks.header.host.value] = ks.host_key;
      user_keys[ks.header.host.value] = ks.user_key;
    }
    EXPECT_TRUE(a().pending_updates().empty());
  }

  std::map<std::string, DirtyKind> pending() {
    std::map<std::string, DirtyKind> out;
    for (const PendingUpdate& p : a().pending_updates()) out[p.host_name] = p.kind;
    return out;
  }

  BuildResult build() { return a().build_updates(dir.file("updates")); }

  // As user "u" of the host does: a replaced host key with its user key.
  keys::OpenedUpdate open_package(const BuiltPackage& p) {
    keys::OpenedKeySet installed;
    installed.header.user = "u";
    installed.host_key = host_keys.at(p.host.value);
    installed.user_key = user_keys.at(p.host.value);
    auto opened = keys::open_update_for(read_bytes(p.path), installed);
    EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error().message());
    return std::move(opened.value());
  }

  const BuiltPackage* package_for(const BuildResult& r, HostId h) {
    for (const BuiltPackage& p : r.packages) {
      if (p.host == h) return &p;
    }
    return nullptr;
  }

  // Adds a host with a user and an installed key set, then builds what is
  // pending, so that a test starts from nothing pending.
  HostId add_installed(const HostSpec& spec) {
    const HostId id = a().add_host(spec).id;
    const keys::OpenedKeySet ks = export_and_open(spec.name, add_user(spec.name, "u"));
    host_keys[id.value] = ks.host_key;
    user_keys[id.value] = ks.user_key;
    build();
    EXPECT_TRUE(pending().empty());
    return id;
  }

  // The served links in the package `r` holds for `h`.
  std::vector<keys::ServedClient> served_in(const BuildResult& r, HostId h) {
    const BuiltPackage* p = package_for(r, h);
    EXPECT_NE(p, nullptr) << h.to_string();
    return p ? open_package(*p).body.served : std::vector<keys::ServedClient>{};
  }

  HostId hub, hub2, x, y, z;
  std::map<uint32_t, crypto::SecretBytes> host_keys;
  std::map<uint32_t, crypto::SecretBytes> user_keys;  // of user "u"
};

constexpr DirtyKind kKeys = DirtyKind::kKeys;
constexpr DirtyKind kBook = DirtyKind::kAddressBook;
using Marks = std::map<std::string, DirtyKind>;

// docs/administration.md, "Network settings": a new rekey period is an
// address-book change for every host, and its packages carry it.
TEST_F(AdminUpdatesTest, RekeyPeriodMarksEveryHostAndTravelsInPackages) {
  const RekeyPeriodChange change = a().set_rekey_period(600);
  EXPECT_EQ(change.previous, 3600);
  EXPECT_EQ(change.current, 600);
  EXPECT_EQ(change.dirty_hosts, 5);
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"hub2", kBook}, {"x", kBook}, {"y", kBook}, {"z", kBook}}));
  const BuildResult r = build();
  ASSERT_EQ(r.packages.size(), 5u);
  for (const BuiltPackage& p : r.packages) {
    EXPECT_EQ(p.kind, kBook) << p.host_name;
    EXPECT_EQ(open_package(p).body.rekey_period, std::optional<uint32_t>(600)) << p.host_name;
  }
  EXPECT_TRUE(pending().empty());

  // The same value again changes nothing and marks nobody.
  EXPECT_EQ(a().set_rekey_period(600).dirty_hosts, 0);
  EXPECT_TRUE(pending().empty());
  // A stronger mark already there stays.
  a().rotate_link("x", "y");
  a().set_rekey_period(0);
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"hub2", kBook}, {"x", kKeys}, {"y", kKeys}, {"z", kBook}}));
  const BuildResult off = build();
  for (const BuiltPackage& p : off.packages) {
    EXPECT_EQ(open_package(p).body.rekey_period, std::optional<uint32_t>(0)) << p.host_name;
  }
  // Back to the default: the packages leave the setting out, which a host
  // reads as the default.
  a().set_rekey_period(3600);
  for (const BuiltPackage& p : build().packages) {
    EXPECT_FALSE(open_package(p).body.rekey_period.has_value()) << p.host_name;
  }
}

TEST_F(AdminUpdatesTest, HostAddedOrRemovedIsAKeysChangeForItsPeers) {
  a().add_host(client("w", "hub"));
  EXPECT_EQ(pending(), (Marks{{"hub", kKeys}, {"w", kKeys}}));
  const BuildResult r = build();
  ASSERT_EQ(r.packages.size(), 1u);  // w has no key set yet: it needs one, not an update
  ASSERT_EQ(r.awaiting_keyset.size(), 1u);
  EXPECT_EQ(r.awaiting_keyset[0].second, "w");
  a().remove_host("x");
  EXPECT_EQ(pending(), (Marks{{"hub", kKeys}, {"w", kKeys}, {"y", kKeys}}));
}

TEST_F(AdminUpdatesTest, UsersAddedOrRemovedAreKeysChanges) {
  add_user("x", "second");
  EXPECT_EQ(pending(), (Marks{{"x", kKeys}}));
  build();
  // Removing a user of a host with a key set replaces its host key and
  // link keys, so the ends of its links (hub, y) get new keys too.
  a().remove_user("x", "second");
  EXPECT_EQ(pending(), (Marks{{"hub", kKeys}, {"x", kKeys}, {"y", kKeys}}));
}

TEST_F(AdminUpdatesTest, LinksAddedRemovedOrRotatedAreKeysChangesForBothEnds) {
  // hub is y's and z's registry: the pair is in its served links, an
  // address-book change for it (dirty.hpp).
  a().add_link("y", "z");
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"y", kKeys}, {"z", kKeys}}));
  build();
  a().remove_link("y", "z");
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"y", kKeys}, {"z", kKeys}}));
  build();
  // A new key changes no served link.
  a().rotate_link("x", "y");
  EXPECT_EQ(pending(), (Marks{{"x", kKeys}, {"y", kKeys}}));
  build();
  a().rotate_host("z");
  EXPECT_EQ(pending(), (Marks{{"hub", kKeys}, {"z", kKeys}}));
}

TEST_F(AdminUpdatesTest, GroupMembershipIsAKeysChange) {
  a().add_group("g");
  EXPECT_TRUE(pending().empty());
  a().add_member("g", "z");
  EXPECT_EQ(pending(), (Marks{{"z", kKeys}}));
  build();
  a().add_group("h");
  a().add_member("h", "hub2");
  build();
  a().add_group_link("g", "h");  // z-hub2 is a new pair, served by hub (z's registry)
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"hub2", kKeys}, {"z", kKeys}}));
}

TEST_F(AdminUpdatesTest, CourierChangeIsAKeysChangeRegistryOnlyTheAddressBook) {
  a().add_link("x", "hub2");  // so that moving x's registry to hub2 adds no link
  build();
  HostChange registry;
  registry.coordinators.registry = "hub2";
  a().set_host("x", registry);
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"hub2", kBook}, {"x", kBook}, {"y", kBook}}));
  build();
  HostChange courier;
  courier.coordinators.courier = "hub2";
  a().set_host("x", courier);
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"hub2", kBook}, {"x", kKeys}, {"y", kBook}}));
}

// docs/protocol.md, "Served links": a link of a served client added or
// removed, directly or through groups, changes its registry's key set; an
// address-book change for the registry (dirty.hpp).
TEST_F(AdminUpdatesTest, LinksOfServedClientsMarkTheirRegistries) {
  const HostId w = add_installed(client("w", "hub2"));
  using Served = std::vector<keys::ServedClient>;
  a().add_link("w", "x");
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"hub2", kBook}, {"w", kKeys}, {"x", kKeys}}));
  BuildResult r = build();
  EXPECT_EQ(package_for(r, hub)->kind, kBook);
  EXPECT_EQ(served_in(r, hub), (Served{{x, {hub, y, w}}, {y, {hub, x}}, {z, {hub}}}));
  EXPECT_EQ(served_in(r, hub2), (Served{{w, {hub2, x}}}));
  a().remove_link("w", "x");
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"hub2", kBook}, {"w", kKeys}, {"x", kKeys}}));
  r = build();
  EXPECT_EQ(served_in(r, hub2), (Served{{w, {hub2}}}));

  // Group links and memberships add and drop pairs the same way.
  a().add_group("g");
  a().add_group("h");
  a().add_member("g", "w");
  a().add_member("h", "y");
  build();
  a().add_group_link("g", "h");
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"hub2", kBook}, {"w", kKeys}, {"y", kKeys}}));
  r = build();
  EXPECT_EQ(served_in(r, hub2), (Served{{w, {hub2, y}}}));
  a().add_member("h", "z");
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"hub2", kBook}, {"w", kKeys}, {"z", kKeys}}));
  build();
  a().remove_member("h", "y");
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"hub2", kBook}, {"w", kKeys}, {"y", kKeys}}));
  build();
  a().remove_group_link("g", "h");
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"hub2", kBook}, {"w", kKeys}, {"z", kKeys}}));
  r = build();
  EXPECT_EQ(served_in(r, hub2), (Served{{w, {hub2}}}));
  EXPECT_EQ(served_in(r, hub), (Served{{x, {hub, y}}, {y, {hub, x}}, {z, {hub}}}));
}

TEST_F(AdminUpdatesTest, RegistryChangeMarksTheOldAndTheNewRegistry) {
  using Served = std::vector<keys::ServedClient>;
  HostChange registry;
  registry.coordinators.registry = "hub2";  // hub stays x's rendezvous and courier
  a().set_host("x", registry);
  // hub keeps its link with x: only what it serves changed.
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"hub2", kKeys}, {"x", kKeys}, {"y", kBook}}));
  BuildResult r = build();
  EXPECT_EQ(served_in(r, hub), (Served{{y, {hub, x}}, {z, {hub}}}));
  EXPECT_EQ(served_in(r, hub2), (Served{{x, {hub, hub2, y}}}));
  // Back again: hub2 keeps the link (a manual one now) but serves nobody.
  a().add_link("x", "hub2");
  build();
  registry.coordinators.registry = "hub";
  a().set_host("x", registry);
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"hub2", kBook}, {"x", kBook}, {"y", kBook}}));
  r = build();
  EXPECT_TRUE(served_in(r, hub2).empty());
  EXPECT_EQ(served_in(r, hub), (Served{{x, {hub, hub2, y}}, {y, {hub, x}}, {z, {hub}}}));
}

TEST_F(AdminUpdatesTest, RemovedOrCompromisedClientMarksItsRegistryAndItsPeersRegistries) {
  using Served = std::vector<keys::ServedClient>;
  add_installed(client("w", "hub2"));
  const HostId v = add_installed(client("v", "hub2"));
  a().add_link("w", "x");
  a().add_link("v", "x");
  build();
  // hub is not linked with w, but x (which hub serves) was.
  a().remove_host("w");
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"hub2", kKeys}, {"x", kKeys}}));
  BuildResult r = build();
  EXPECT_EQ(served_in(r, hub), (Served{{x, {hub, y, v}}, {y, {hub, x}}, {z, {hub}}}));
  EXPECT_EQ(served_in(r, hub2), (Served{{v, {hub2, x}}}));
  a().compromise_host("v");
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"hub2", kKeys}, {"x", kKeys}}));
  r = build();
  EXPECT_EQ(served_in(r, hub), (Served{{x, {hub, y}}, {y, {hub, x}}, {z, {hub}}}));
  EXPECT_TRUE(served_in(r, hub2).empty());
}

TEST_F(AdminUpdatesTest, RolesAddressesAndParametersChangeOnlyTheAddressBook) {
  HostChange endpoints;
  endpoints.endpoints = std::vector<Endpoint>{*Endpoint::parse("198.51.100.7:51820")};
  a().set_host("y", endpoints);
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"x", kBook}, {"y", kBook}}));
  build();
  HostChange role;  // hub2 serves no client
  role.role = Role::kClient;
  a().set_host("hub2", role);
  EXPECT_EQ(pending(), (Marks{{"hub2", kBook}}));
  build();
  HostChange subnets;
  subnets.subnets = std::vector<Prefix>{*Prefix::parse("172.16.0.0/16")};
  a().set_host("hub", subnets);
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"x", kBook}, {"y", kBook}, {"z", kBook}}));
  build();
  HostChange name;
  name.name = "zed";
  a().set_host("z", name);
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"zed", kBook}}));
  // Keys win over the address book.
  a().add_link("zed", "x");
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"x", kKeys}, {"zed", kKeys}}));
}

TEST_F(AdminUpdatesTest, PackagesCarryTheWholeNewStateUnderTheCurrentHostKey) {
  HostChange endpoints;
  endpoints.endpoints = std::vector<Endpoint>{*Endpoint::parse("198.51.100.7:51820")};
  a().set_host("y", endpoints);
  a().add_link("y", "z");
  const BuildResult r = build();
  ASSERT_EQ(r.packages.size(), 4u);  // hub, x (book), y, z (keys)
  const BuiltPackage* py = package_for(r, y);
  ASSERT_NE(py, nullptr);
  EXPECT_EQ(py->version, 2u);  // key set was version 1
  EXPECT_EQ(py->kind, kKeys);
  EXPECT_EQ(fs::path(py->path).filename().string(), "0x00010004-v2.update");
  const keys::OpenedUpdate uy = open_package(*py);
  EXPECT_EQ(uy.header.host, y);
  EXPECT_EQ(uy.header.version, 2u);
  EXPECT_EQ(uy.header.kind, keys::UpdateKind::kKeys);
  EXPECT_FALSE(uy.header.new_host_key);
  EXPECT_EQ(uy.body.book.entries[0].id, y);
  ASSERT_EQ(uy.body.book.entries[0].endpoints.size(), 1u);
  EXPECT_EQ(uy.body.links.size(), 3u);  // hub, x, z
  ASSERT_NE(uy.body.link_to(z), nullptr);

  const keys::OpenedUpdate ux = open_package(*package_for(r, x));
  EXPECT_EQ(ux.header.kind, keys::UpdateKind::kAddressBook);
  const keys::AddressBookEntry* y_in_x = ux.body.book.find(y);
  ASSERT_NE(y_in_x, nullptr);
  EXPECT_EQ(y_in_x->endpoints[0].to_string(), "198.51.100.7:51820");
  // A package for one host doesn't open with another's host key.
  EXPECT_FALSE(keys::open_update(read_bytes(py->path), host_keys.at(x.value)).ok());
  // Built: nothing pending any more, and the next build is empty.
  EXPECT_TRUE(pending().empty());
  EXPECT_TRUE(build().packages.empty());
}

TEST_F(AdminUpdatesTest, RemovingALinkRemovesItsKeyFromBothHostsNextPackages) {
  a().remove_link("x", "y");
  const BuildResult r = build();
  ASSERT_EQ(r.packages.size(), 3u);  // x, y, and their registry hub
  for (HostId h : {x, y}) {
    const BuiltPackage* p = package_for(r, h);
    ASSERT_NE(p, nullptr);
    const keys::OpenedUpdate u = open_package(*p);
    const HostId other = h == x ? y : x;
    EXPECT_EQ(u.body.link_to(other), nullptr) << h.to_string();
    EXPECT_EQ(u.body.book.find(other), nullptr) << h.to_string();
    EXPECT_NE(u.body.link_to(hub), nullptr);  // the other link stays
  }
  const BuiltPackage* ph = package_for(r, hub);
  ASSERT_NE(ph, nullptr);
  EXPECT_EQ(ph->kind, kBook);
  const keys::OpenedUpdate uh = open_package(*ph);
  EXPECT_EQ(uh.body.served, (std::vector<keys::ServedClient>{{x, {hub}}, {y, {hub}}, {z, {hub}}}));
}

TEST_F(AdminUpdatesTest, RotatedHostKeyTravelsUnderTheUserKeysNotTheOldOne) {
  a().rotate_host("x");
  EXPECT_TRUE(a().show_host("x").host_key_rotation_pending);
  const BuildResult r = build();
  const BuiltPackage* p = package_for(r, x);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->new_host_key);
  // The old host key opens nothing of it; user u's key opens the new one.
  EXPECT_FALSE(keys::open_update(read_bytes(p->path), host_keys.at(x.value)).ok());
  const keys::OpenedUpdate u = open_package(*p);
  ASSERT_TRUE(u.header.new_host_key);
  ASSERT_EQ(u.new_host_key.size(), 32u);
  EXPECT_FALSE(u.new_host_key == host_keys.at(x.value));
  EXPECT_FALSE(a().show_host("x").host_key_rotation_pending);

  const crypto::SecretBytes old_key = host_keys.at(x.value);
  host_keys[x.value] = u.new_host_key;
  a().add_link("x", "z");
  const BuildResult next = build();
  const BuiltPackage* p2 = package_for(next, x);
  ASSERT_NE(p2, nullptr);
  EXPECT_FALSE(p2->new_host_key);
  open_package(*p2);  // opens with the new key
  EXPECT_FALSE(keys::open_update(read_bytes(p2->path), old_key).ok());
}

TEST_F(AdminUpdatesTest, FailedBuildMarksNothingBuilt) {
  a().add_link("y", "z");
  const std::string before = dump();
  const std::string blocker = dir.file("not-a-dir");
  { std::ofstream(blocker) << "x"; }
  expect_refused([&] { a().build_updates(blocker); }, {"--out"});
  EXPECT_EQ(dump(), before);
  EXPECT_EQ(pending(), (Marks{{"hub", kBook}, {"y", kKeys}, {"z", kKeys}}));
}

TEST_F(AdminUpdatesTest, DirtyKindNames) {
  EXPECT_EQ(dirty_kind_name(DirtyKind::kKeys), "keys");
  EXPECT_EQ(dirty_kind_name(DirtyKind::kAddressBook), "address-book");
  EXPECT_EQ(update_kind(DirtyKind::kKeys), keys::UpdateKind::kKeys);
  EXPECT_EQ(update_kind(DirtyKind::kAddressBook), keys::UpdateKind::kAddressBook);
}

}  // namespace
}  // namespace cordon::admin::test
