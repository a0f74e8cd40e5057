// Key-set export: what the file holds (checked by opening it with the core's
// open_keyset), versions, the address book's contents, and refusals.
#include <sys/stat.h>

#include <set>

#include "tests/unit/admin_fixture.hpp"

namespace cordon::admin::test {
namespace {

std::set<HostId> book_ids(const keys::KeySetBody& body) {
  std::set<HostId> ids;
  for (const auto& e : body.book.entries) ids.insert(e.id);
  return ids;
}

class AdminExportTest : public AdminTest {
 protected:
  void SetUp() override {
    AdminTest::SetUp();
    HostSpec h = coordinator("hub");
    h.subnets.push_back(*Prefix::parse("192.168.50.0/24"));
    hub = a().add_host(h).id;
    x = a().add_host(client("x", "hub")).id;
    y = a().add_host(client("y", "hub")).id;
    z = a().add_host(client("z", "hub")).id;
    a().add_link("x", "y");
    pw_hub = add_user("hub", "root");
    pw_x = add_user("x", "alice");
    pw_y = add_user("y", "bob");
  }
  HostId hub, x, y, z;
  std::string pw_hub, pw_x, pw_y;
};

TEST_F(AdminExportTest, KeySetCarriesTheHostItsLinkedPeersAndTheirKeys) {
  const keys::OpenedKeySet ks = export_and_open("x", pw_x);
  EXPECT_EQ(ks.header.host, x);
  EXPECT_EQ(ks.header.network(), 1);
  EXPECT_EQ(ks.header.version, 1u);
  EXPECT_EQ(ks.header.user, "alice");
  EXPECT_EQ(ks.header.kdf, keys::kGeneratedPasswordKdf);

  const keys::KeySetBody& body = ks.body;
  ASSERT_EQ(body.book.entries.size(), 3u);
  const keys::AddressBookEntry& self = body.book.entries[0];
  EXPECT_EQ(self.id, x);
  EXPECT_EQ(self.name, "x");
  EXPECT_EQ(self.role, Role::kClient);
  EXPECT_EQ(self.tunnel_v4->to_string(), "10.77.0.2/24");
  EXPECT_EQ(self.tunnel_v6->to_string(), "fd77::2/64");
  EXPECT_EQ(self.registry, hub);
  EXPECT_EQ(self.courier, hub);
  // Only linked hosts: hub (coordinator) and y (manual); never z.
  EXPECT_EQ(book_ids(body), (std::set<HostId>{x, hub, y}));
  const keys::AddressBookEntry* h = body.book.find(hub);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->role, Role::kCoordinator);
  ASSERT_EQ(h->endpoints.size(), 1u);
  EXPECT_EQ(h->endpoints[0].to_string(), "192.0.2.1:51820");
  ASSERT_EQ(h->subnets.size(), 1u);
  EXPECT_EQ(h->subnets[0].to_string(), "192.168.50.0/24");
  ASSERT_EQ(body.links.size(), 2u);

  // Both ends of a link get the same key.
  const keys::OpenedKeySet ky = export_and_open("y", pw_y);
  const keys::LinkKeyEntry* x_to_y = body.link_to(y);
  const keys::LinkKeyEntry* y_to_x = ky.body.link_to(x);
  ASSERT_NE(x_to_y, nullptr);
  ASSERT_NE(y_to_x, nullptr);
  EXPECT_TRUE(x_to_y->key == y_to_x->key);
  EXPECT_EQ(ky.body.link_to(z), nullptr);
}

TEST_F(AdminExportTest, KeySetFileIsPrivateAndVersionsGrow) {
  const std::string path = dir.file("x.keyset");
  const ExportedKeySet first = a().export_keyset("x", std::nullopt, path);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(first.version, 1u);
  EXPECT_EQ(first.peers, 2u);
  EXPECT_EQ(a().export_keyset("0x00010002", std::string("alice"), path).version, 2u);
  EXPECT_EQ(a().show_host("x").keyset_version, 2u);
  EXPECT_TRUE(a().show_host("x").exported);
  // The wrong password does not open it.
  EXPECT_EQ(keys::open_keyset(read_bytes(path), "not the password").error().code, keys::KeySetError::kWrongPassword);
}

// Like `updates build --out` and `keyset export --all`: a fresh machine has
// no /root/keysets yet (docs/administration.md, step 5).
TEST_F(AdminExportTest, ExportCreatesTheMissingDirectoryPrivately) {
  const std::string parent = dir.file("keysets");
  const std::string path = parent + "/deeper/x.keyset";
  ASSERT_FALSE(fs::exists(parent));
  a().export_keyset("x", std::nullopt, path);
  EXPECT_TRUE(keys::open_keyset(read_bytes(path), pw_x).ok());
  for (const std::string& d : {parent, parent + "/deeper"}) {
    struct stat st {};
    ASSERT_EQ(::stat(d.c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_mode & 07777, 0700u) << d;
  }
  // A file where the directory should be is refused by name, and the export
  // is not recorded.
  const std::string blocker = dir.file("blocker");
  { std::ofstream(blocker) << "x"; }
  const std::string before = dump();
  expect_refused([&] { a().export_keyset("y", std::nullopt, blocker + "/y.keyset"); }, {"--out", "blocker"});
  EXPECT_EQ(dump(), before);
}

TEST_F(AdminExportTest, FirstExportClearsThePendingUpdateLaterOnesDoNot) {
  EXPECT_EQ(a().show_host("x").dirty, DirtyKind::kKeys);
  export_and_open("x", pw_x);
  EXPECT_EQ(a().show_host("x").dirty, DirtyKind::kNone);
  a().add_link("x", "z");
  EXPECT_EQ(a().show_host("x").dirty, DirtyKind::kKeys);
  export_and_open("x", pw_x);
  // Installed copies elsewhere still need their update.
  EXPECT_EQ(a().show_host("x").dirty, DirtyKind::kKeys);
}

TEST_F(AdminExportTest, ExportRefusals) {
  const std::string before = dump();
  const std::string out = dir.file("out.keyset");
  expect_refused([&] { a().export_keyset("ghost", std::nullopt, out); }, {"--host", "no host named 'ghost'"});
  expect_refused([&] { a().export_keyset("0x00010063", std::nullopt, out); }, {"--host", "no host with ID 0x00010063"});
  expect_refused([&] { a().export_keyset("z", std::nullopt, out); }, {"has no users", "user add"});
  expect_refused([&] { a().export_keyset("x", std::string("mallory"), out); }, {"--user", "no user 'mallory'"});
  add_user("x", "carol");
  const std::string with_carol = dump();
  expect_refused([&] { a().export_keyset("x", std::nullopt, out); }, {"--user", "2 users", "alice", "carol"});
  EXPECT_EQ(dump(), with_carol);
  EXPECT_FALSE(fs::exists(out));
  (void)before;
}

TEST_F(AdminExportTest, ExportAllWritesOneFilePerHostAndUser) {
  add_user("x", "carol");
  const std::string out = dir.file("all");
  const std::vector<ExportedKeySet> all = a().export_all_keysets(out);
  ASSERT_EQ(all.size(), 4u);  // hub/root, x/alice, x/carol, y/bob; z has no user
  for (const ExportedKeySet& k : all) EXPECT_TRUE(fs::exists(k.path)) << k.path;
  EXPECT_TRUE(fs::exists(out + "/0x00010002-alice.keyset"));
  // No staging directory is left behind.
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(out)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 4u);
  auto opened = keys::open_keyset(read_bytes(out + "/0x00010001-root.keyset"), pw_hub);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened.value().body.book.entries.size(), 4u);  // hub + x, y, z
  EXPECT_EQ(opened.value().body.links.size(), 3u);
  // Both users of x get the same version.
  EXPECT_EQ(all[1].version, all[2].version);
  EXPECT_EQ(a().show_host("z").exported, false);
}

// docs/protocol.md, "Served links": a coordinator's key set lists every
// client whose registry it is, with all the hosts that client is linked
// with (coordinator links included), sorted by host ID; nobody else's.
TEST_F(AdminExportTest, CoordinatorKeySetListsItsServedClientsAndTheirPeers) {
  const HostId hub2 = a().add_host(coordinator("hub2")).id;
  const HostId w = a().add_host(client("w", "hub2")).id;
  // v's registry is hub2, while hub is its rendezvous and courier: hub is
  // linked with v but does not serve it as registry.
  HostSpec vs = client("v");
  vs.coordinators.registry = "hub2";
  vs.coordinators.rendezvous = "hub";
  vs.coordinators.courier = "hub";
  const HostId v = a().add_host(vs).id;
  a().add_link("w", "x");
  const std::string pw_hub2 = add_user("hub2", "root");
  using Served = std::vector<keys::ServedClient>;

  const keys::OpenedKeySet kh = export_and_open("hub", pw_hub);
  EXPECT_EQ(kh.body.served, (Served{{x, {hub, y, w}}, {y, {hub, x}}, {z, {hub}}}));
  EXPECT_NE(kh.body.link_to(v), nullptr);
  EXPECT_EQ(kh.body.served_client(v), nullptr);
  EXPECT_EQ(kh.body.served_client(w), nullptr);

  const keys::OpenedKeySet kh2 = export_and_open("hub2", pw_hub2);
  EXPECT_EQ(kh2.body.served, (Served{{w, {x, hub2}}, {v, {hub, hub2}}}));

  // A client's key set serves nobody, even when it links with other clients.
  EXPECT_TRUE(export_and_open("x", pw_x).body.served.empty());

  // `export --all` reads the network another way (Snapshot::load_all) and
  // must give the same served links.
  const std::string out = dir.file("all");
  a().export_all_keysets(out);
  auto all_hub = keys::open_keyset(read_bytes(out + "/0x00010001-root.keyset"), pw_hub);
  ASSERT_TRUE(all_hub.ok());
  EXPECT_EQ(all_hub.value().body.served, kh.body.served);
  auto all_hub2 = keys::open_keyset(read_bytes(out + "/" + hub2.to_string() + "-root.keyset"), pw_hub2);
  ASSERT_TRUE(all_hub2.ok());
  EXPECT_EQ(all_hub2.value().body.served, kh2.body.served);
  auto all_x = keys::open_keyset(read_bytes(out + "/0x00010002-alice.keyset"), pw_x);
  ASSERT_TRUE(all_x.ok());
  EXPECT_TRUE(all_x.value().body.served.empty());
}

}  // namespace
}  // namespace cordon::admin::test
