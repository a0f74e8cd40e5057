// `network recover` and exporting again (docs/administration.md,
// "Recovering from a leak" and "Exporting again"): after a recover, an
// attacker holding a copy of the old database opens none of the new key
// sets with anything that copy held; re-exporting a host renews its links.
#include <algorithm>
#include <array>
#include <map>

#include "core/crypto/xchacha.hpp"
#include "daemon/keyset_store.hpp"
#include "tests/unit/admin_fixture.hpp"

namespace cordon::admin::test {
namespace {

// What a file copy of admin.db holds, read the way an attacker would.
struct LeakedKeys {
  std::vector<std::vector<std::byte>> user_keys, host_keys, link_keys;
};

std::vector<std::vector<std::byte>> column(sqlite3* db, const char* sql) {
  std::vector<std::vector<std::byte>> out;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) return out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const auto* p = static_cast<const std::byte*>(sqlite3_column_blob(st, 0));
    if (p != nullptr) out.emplace_back(p, p + sqlite3_column_bytes(st, 0));
  }
  sqlite3_finalize(st);
  return out;
}

LeakedKeys read_leak(const std::string& path) {
  sqlite3* db = nullptr;
  LeakedKeys k;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    k.user_keys = column(db, "SELECT user_key FROM users");
    k.host_keys = column(db, "SELECT host_key FROM hosts UNION ALL SELECT next_host_key FROM hosts");
    k.link_keys = column(db, "SELECT key FROM links");
  }
  sqlite3_close_v2(db);
  return k;
}

// The key-set layout of core/keys/keyset.hpp, cut into its pieces.
struct Pieces {
  std::span<const std::byte> header, host_wrap;
  keys::detail::SealedBody body;
};

Pieces cut(std::span<const std::byte> file) {
  constexpr size_t kFixedHeader = 8 + 2 + 2 + 4 + 8 + 1 + 1 + 4 + 4 + 16;
  const size_t user_len = static_cast<size_t>(file[24]);
  const size_t header_len = kFixedHeader + user_len;
  Pieces p;
  p.header = file.first(header_len);
  p.host_wrap = file.subspan(header_len + keys::kWrappedKeySize, keys::kWrappedKeySize);
  const auto body = file.subspan(header_len + 2 * keys::kWrappedKeySize);
  std::copy_n(body.begin(), crypto::kXChaChaNonceSize, p.body.nonce.begin());
  p.body.sealed = body.subspan(crypto::kXChaChaNonceSize + 4);
  return p;
}

std::vector<std::byte> labelled(std::span<const std::byte> header, keys::Label label) {
  std::vector<std::byte> aad(header.begin(), header.end());
  aad.push_back(static_cast<std::byte>(label));
  return aad;
}

// Does `user_key` open the host-key wrap of `file`?
bool user_key_opens(std::span<const std::byte> file, std::span<const std::byte> user_key) {
  const Pieces p = cut(file);
  crypto::XChaChaNonce nonce{};
  std::copy_n(p.host_wrap.begin(), nonce.size(), nonce.begin());
  std::array<std::byte, keys::kKeySize> out{};
  return crypto::xchacha_open(user_key, nonce, labelled(p.header, keys::Label::kHostKey),
                              p.host_wrap.subspan(nonce.size()), out);
}

// Does `host_key` open the body of `file`?
bool host_key_opens(std::span<const std::byte> file, std::span<const std::byte> host_key) {
  const Pieces p = cut(file);
  return keys::detail::open_sealed_body(p.body, p.header, keys::Label::kBody, host_key).has_value();
}

bool same(std::span<const std::byte> a, std::span<const std::byte> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

class AdminRecover : public AdminTest {
 protected:
  void SetUp() override {
    AdminTest::SetUp();
    a().add_host(coordinator("hub"));
    a().add_host(client("a", "hub"));
    a().add_host(client("b", "hub"));
    a().add_host(client("lonely", "hub"));  // no user: gets no key set
    a().add_link("a", "b");
    old_passwords["hub"] = add_user("hub", "ops");
    old_passwords["a"] = add_user("a", "alice");
    old_passwords["b"] = add_user("b", "bob");
    a().export_all_keysets(dir.file("first"));
    a().rotate_host("a");  // a pending host-key rotation, and an update built from it
    a().build_updates(dir.file("updates"));
  }

  // The attacker's copy: the database file as it is on disk now.
  LeakedKeys leak_now() {
    const std::string copy = dir.file("leaked.db");
    fs::copy_file(db_path, copy);
    if (fs::exists(db_path + "-wal")) fs::copy_file(db_path + "-wal", copy + "-wal");
    return read_leak(copy);
  }

  std::map<std::string, std::string> old_passwords;
};

TEST_F(AdminRecover, NothingInTheOldDatabaseOpensTheRecoveryKeySets) {
  const LeakedKeys leaked = leak_now();
  ASSERT_EQ(leaked.user_keys.size(), 3u);
  ASSERT_GE(leaked.host_keys.size(), 4u);
  ASSERT_EQ(leaked.link_keys.size(), 4u);

  const RecoveryResult r = a().recover_network(dir.file("recovery"));
  EXPECT_EQ(r.rotated.link_keys, 4u);
  EXPECT_EQ(r.rotated.host_keys, 4u);
  EXPECT_EQ(r.user_keys, 3u);
  ASSERT_EQ(r.keysets.size(), 3u);
  ASSERT_EQ(r.passwords.size(), 3u);
  ASSERT_EQ(r.without_users.size(), 1u);
  EXPECT_EQ(r.without_users[0].second, "lonely");

  for (size_t i = 0; i < r.keysets.size(); ++i) {
    const ExportedKeySet& k = r.keysets[i];
    SCOPED_TRACE(k.host_name);
    const std::vector<std::byte> file = read_bytes(k.path);
    // The new password opens it ...
    ASSERT_EQ(r.passwords[i].user.name, k.user);
    auto opened = keys::open_keyset(file, keys::as_text(r.passwords[i].generated));
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    // ... and the checks below would see it: the real keys open the pieces.
    ASSERT_TRUE(user_key_opens(file, opened.value().user_key.view()));
    ASSERT_TRUE(host_key_opens(file, opened.value().host_key.view()));

    // Nothing the attacker holds does.
    EXPECT_FALSE(keys::open_keyset(file, old_passwords[k.host_name]).ok());
    for (const auto& key : leaked.user_keys) {
      EXPECT_FALSE(user_key_opens(file, key));
      EXPECT_FALSE(keys::open_keyset_with_user_key(file, crypto::SecretBytes(key)).ok());
    }
    for (const auto& key : leaked.host_keys) EXPECT_FALSE(host_key_opens(file, key));
    for (const auto& link : opened.value().body.links) {
      for (const auto& key : leaked.link_keys) EXPECT_FALSE(same(link.key.view(), key));
    }
  }
}

TEST_F(AdminRecover, HostsInstallTheRecoveryKeySetAndOldUpdatesAreVoid) {
  // Host a runs its first key set; an update for it was built before the leak.
  const daemon::KeysetStore store(dir.file("a-state-keyset"));
  ASSERT_TRUE(store.install(read_bytes(dir.file("first/0x00010002-alice.keyset")), old_passwords["a"], "first").ok());
  const std::string old_update = dir.file("updates/0x00010002-v2.update");
  ASSERT_TRUE(fs::exists(old_update));

  const RecoveryResult r = a().recover_network(dir.file("recovery"));
  const auto k = std::find_if(r.keysets.begin(), r.keysets.end(), [](const auto& e) { return e.host_name == "a"; });
  ASSERT_NE(k, r.keysets.end());
  const std::string password(keys::as_text(r.passwords[static_cast<size_t>(k - r.keysets.begin())].generated));
  auto installed = store.install(read_bytes(k->path), password, k->path);
  ASSERT_TRUE(installed.ok()) << installed.error().message;
  EXPECT_EQ(installed.value().header.version, k->version);
  // The update built before the recovery is refused as stale.
  auto stale = store.check_update(read_bytes(old_update), old_update);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, keys::KeySetError::kStaleVersion);

  // Nothing is pending: every host with a user has its whole state.
  for (const PendingUpdate& p : a().pending_updates()) EXPECT_EQ(p.host_name, "lonely");
  const HostInfo hub = a().show_host("hub");
  EXPECT_FALSE(hub.host_key_rotation_pending);
  EXPECT_EQ(hub.dirty, DirtyKind::kNone);
  // The host without users waits for a key set, not for an update.
  const BuildResult build = a().build_updates(dir.file("after"));
  EXPECT_TRUE(build.packages.empty());
  ASSERT_EQ(build.awaiting_keyset.size(), 1u);
  EXPECT_EQ(build.awaiting_keyset[0].second, "lonely");
}

TEST_F(AdminRecover, ARefusedRecoveryChangesNothing) {
  const std::string before = dump();
  const std::string blocked = dir.file("blocked");
  { std::ofstream(blocked) << "a file, not a directory"; }
  EXPECT_THROW(a().recover_network(blocked), AdminError);
  EXPECT_EQ(dump(), before);
}

// ---- Exporting again --------------------------------------------------------

class AdminExportAgain : public LinkedPairTest {
 protected:
  void SetUp() override {
    LinkedPairTest::SetUp();
    pw_a = add_user("a", "alice");
    pw_b = add_user("b", "bob");
  }
  std::vector<std::byte> link_key_of(const std::string& host, const std::string& password) {
    const keys::OpenedKeySet k = export_and_open(host, password);
    EXPECT_EQ(k.body.links.size(), 1u);
    const auto key = k.body.links.at(0).key.view();
    return {key.begin(), key.end()};
  }
  std::string pw_a, pw_b;
};

TEST_F(AdminExportAgain, SecondExportRenewsTheLinksAndThePeersGetPackages) {
  const std::vector<std::byte> first = link_key_of("a", pw_a);
  (void)link_key_of("b", pw_b);
  EXPECT_TRUE(a().pending_updates().empty());

  const ExportedKeySet again = a().export_keyset("a", std::nullopt, dir.file("again.keyset"));
  EXPECT_EQ(again.rotated_links, 1u);
  auto opened = keys::open_keyset(read_bytes(again.path), pw_a);
  ASSERT_TRUE(opened.ok());
  EXPECT_FALSE(same(opened.value().body.links.at(0).key.view(), first));

  // The peer at the other end gets the new key in its package.
  const BuildResult build = a().build_updates(dir.file("updates"));
  const auto b = std::find_if(build.packages.begin(), build.packages.end(),
                              [](const BuiltPackage& p) { return p.host_name == "b"; });
  ASSERT_NE(b, build.packages.end());
  EXPECT_EQ(b->kind, DirtyKind::kKeys);
}

TEST_F(AdminExportAgain, KeepKeysExportsTheSameLinkKeys) {
  const std::vector<std::byte> first = link_key_of("a", pw_a);
  (void)link_key_of("b", pw_b);
  const ExportedKeySet again = a().export_keyset("a", std::nullopt, dir.file("again.keyset"), /*keep_keys=*/true);
  EXPECT_EQ(again.rotated_links, 0u);
  auto opened = keys::open_keyset(read_bytes(again.path), pw_a);
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE(same(opened.value().body.links.at(0).key.view(), first));
  EXPECT_TRUE(a().pending_updates().empty());
}

TEST_F(AdminExportAgain, ExportAllRenewsOnlyHostsExportedBefore) {
  (void)link_key_of("a", pw_a);
  a().add_host(client("c"));
  a().add_link("b", "c");
  (void)add_user("c", "carol");
  const std::vector<ExportedKeySet> all = a().export_all_keysets(dir.file("all"));
  std::map<std::string, size_t> renewed;
  for (const ExportedKeySet& k : all) renewed[k.host_name] += k.rotated_links;
  EXPECT_EQ(renewed["a"], 1u);  // a was exported before: its one link
  EXPECT_EQ(renewed["b"], 0u);
  EXPECT_EQ(renewed["c"], 0u);
  // Every key set of this run carries the same, renewed key for a-b.
  auto a_set = keys::open_keyset(read_bytes(dir.file("all/0x00010001-alice.keyset")), pw_a);
  auto b_set = keys::open_keyset(read_bytes(dir.file("all/0x00010002-bob.keyset")), pw_b);
  ASSERT_TRUE(a_set.ok() && b_set.ok());
  const auto* ab = b_set.value().body.link_to(a_set.value().header.host);
  ASSERT_NE(ab, nullptr);
  EXPECT_TRUE(same(a_set.value().body.links.at(0).key.view(), ab->key.view()));
}

TEST_F(AdminExportAgain, ExportAllRenewsALinkOfTwoExportedHostsOnce) {
  (void)link_key_of("a", pw_a);
  (void)link_key_of("b", pw_b);
  size_t renewed = 0;
  for (const ExportedKeySet& k : a().export_all_keysets(dir.file("all"))) renewed += k.rotated_links;
  EXPECT_EQ(renewed, 1u);
}

}  // namespace
}  // namespace cordon::admin::test
