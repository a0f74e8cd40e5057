// Revocation (docs/administration.md, "Revocation"): removing a user, or
// rotating a user key, replaces the host's keys, and the package that
// delivers them opens only for the remaining users; a key set exported
// while a host-key rotation is pending carries the new host key.
#include "tests/unit/admin_fixture.hpp"

namespace cordon::admin::test {
namespace {

class AdminRevocationTest : public AdminTest {
 protected:
  void SetUp() override {
    AdminTest::SetUp();
    a().add_host(coordinator("hub"));
    x = a().add_host(client("x", "hub")).id;
    y = a().add_host(client("y", "hub")).id;
    a().add_link("x", "y");
    alice_pw = add_user("x", "alice");
    bob_pw = add_user("x", "bob");
    alice = export_as("x", alice_pw, "alice");
    bob = export_as("x", bob_pw, "bob");
    for (const char* h : {"hub", "y"}) export_and_open(h, add_user(h, "u"));
    EXPECT_TRUE(a().pending_updates().empty());
  }

  // Keeps the link keys: these tests are about the keys above them, and a
  // second user's key set of the same host is not a reinstall
  // (docs/administration.md, "Exporting again").
  keys::OpenedKeySet export_as(const std::string& host, const std::string& password, const std::string& user) {
    const std::string path = dir.file(host + "-" + user + ".keyset");
    a().export_keyset(host, user, path, /*keep_keys=*/true);
    auto opened = keys::open_keyset(read_bytes(path), password);
    EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error().message());
    return std::move(opened.value());
  }

  // x's package of a fresh build.
  std::vector<std::byte> build_for_x() {
    const BuildResult r = a().build_updates(dir.file("updates-" + std::to_string(++builds)));
    for (const BuiltPackage& p : r.packages) {
      if (p.host == x) return read_bytes(p.path);
    }
    ADD_FAILURE() << "no package for x";
    return {};
  }

  crypto::SecretBytes link_key_in_db(HostId a_id, HostId b_id) {
    Statement st = a().database().prepare("SELECT key FROM links WHERE a = ?1 AND b = ?2");
    st.bind(1, static_cast<int64_t>(a_id.value)).bind(2, static_cast<int64_t>(b_id.value));
    EXPECT_TRUE(st.step());
    return crypto::SecretBytes(st.blob(0));
  }

  HostId x, y;
  std::string alice_pw, bob_pw;
  keys::OpenedKeySet alice, bob;
  int builds = 0;
};

TEST_F(AdminRevocationTest, RemovedUserCannotOpenTheNextPackageRemainingUsersCan) {
  const RotateResult r = a().remove_user("x", "alice");
  EXPECT_EQ(r.host_keys, 1u);
  EXPECT_EQ(r.link_keys, 2u);  // x-hub and x-y
  const std::vector<std::byte> package = build_for_x();

  // alice kept her key set and password: its host key and user key open
  // nothing of the package, and the package has no wrap for her.
  auto as_alice = keys::open_update_for(package, alice);
  ASSERT_FALSE(as_alice.ok());
  EXPECT_EQ(as_alice.error().code, keys::KeySetError::kUserRemoved);
  EXPECT_FALSE(keys::open_update(package, alice.host_key).ok());
  const auto header = keys::parse_update_header(package).value();
  EXPECT_EQ(header.wraps.size(), 1u);
  EXPECT_EQ(keys::unwrap_update_host_key(header, "bob", alice.user_key).error().code,
            keys::KeySetError::kWrongUserKey);

  // bob opens it: a new host key and the new link keys, which alice's key
  // set does not hold.
  auto as_bob = keys::open_update_for(package, bob);
  ASSERT_TRUE(as_bob.ok()) << as_bob.error().message();
  EXPECT_FALSE(as_bob.value().new_host_key == alice.host_key);
  const keys::LinkKeyEntry* to_y = as_bob.value().body.link_to(y);
  ASSERT_NE(to_y, nullptr);
  EXPECT_TRUE(to_y->key == link_key_in_db(x, y));
  EXPECT_FALSE(to_y->key == alice.body.link_to(y)->key);

  // bob's host applies it and keeps his password.
  auto applied = keys::apply_update(bob, as_bob.value(), {});
  ASSERT_TRUE(applied.ok()) << applied.error().message();
  auto after = keys::open_keyset(applied.value(), bob_pw);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after.value().host_key == as_bob.value().new_host_key);

  // Later packages are sealed under the new host key: still nothing for alice.
  a().rotate_link("x", "y");
  const std::vector<std::byte> later = build_for_x();
  EXPECT_FALSE(keys::open_update(later, alice.host_key).ok());
  EXPECT_TRUE(keys::open_update_for(later, after.value()).ok());
}

TEST_F(AdminRevocationTest, RemovingTheLastUserOfAHostWithAKeySetIsRefused) {
  a().remove_user("x", "alice");
  const std::string before = dump();
  expect_refused([&] { a().remove_user("x", "bob"); },
                 {"0x00010002", "no user left", "'bob' is its last user", "cordon admin user add --host 0x00010002"});
  EXPECT_EQ(dump(), before);
  // A host that never had a key set: nothing to revoke, nothing rotated.
  a().add_host(client("fresh", "hub"));
  add_user("fresh", "solo");
  EXPECT_EQ(a().remove_user("fresh", "solo").host_keys, 0u);
}

TEST_F(AdminRevocationTest, ForcedResetRotatesTheUserKeyAndLocksTheOldOneOut) {
  NewPassword p = a().reset_password("x", "alice", std::nullopt);
  EXPECT_TRUE(p.user_key_rotated);
  EXPECT_EQ(p.rotated.host_keys, 1u);
  const std::string new_pw(keys::as_text(p.generated));
  const std::vector<std::byte> package = build_for_x();

  // The old user key (and so the old password) opens nothing of it.
  auto with_old = keys::open_update_for(package, alice);
  ASSERT_FALSE(with_old.ok());
  EXPECT_EQ(with_old.error().code, keys::KeySetError::kWrongUserKey);
  EXPECT_FALSE(keys::open_update(package, alice.host_key).ok());

  // The new password opens the user-key record the package carries.
  const auto header = keys::parse_update_header(package).value();
  const keys::HostKeyWrap* wrap = header.wrap_for("alice");
  ASSERT_NE(wrap, nullptr);
  EXPECT_FALSE(keys::unwrap_user_key(wrap->user_key, alice_pw).ok());
  auto user_key = keys::unwrap_user_key(wrap->user_key, new_pw);
  ASSERT_TRUE(user_key.ok());
  keys::OpenedKeySet adopted;
  adopted.header = alice.header;
  adopted.wrapped_user_key = wrap->user_key;
  adopted.user_key = user_key.value();
  auto opened = keys::open_update_for(package, adopted);
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  // bob's unchanged user key opens it too.
  EXPECT_TRUE(keys::open_update_for(package, bob).ok());

  // A key set exported now does not open with the old user key or password.
  const std::string path = dir.file("x-alice-new.keyset");
  a().export_keyset("x", std::string("alice"), path, /*keep_keys=*/true);
  EXPECT_FALSE(keys::open_keyset_with_user_key(read_bytes(path), alice.user_key).ok());
  EXPECT_FALSE(keys::open_keyset(read_bytes(path), alice_pw).ok());
  EXPECT_TRUE(keys::open_keyset(read_bytes(path), new_pw).ok());
}

TEST_F(AdminRevocationTest, ChosenPasswordKeepsTheUserKeyUnlessAsked) {
  const std::string chosen = "a-chosen-password";
  NewPassword kept = a().reset_password("x", "alice", chosen);
  EXPECT_FALSE(kept.user_key_rotated);
  EXPECT_TRUE(a().pending_updates().empty());
  NewPassword rotated = a().reset_password("x", "alice", chosen, UserKeyChoice::kRotate);
  EXPECT_TRUE(rotated.user_key_rotated);
  EXPECT_FALSE(keys::open_update_for(build_for_x(), alice).ok());
}

TEST_F(AdminRevocationTest, ExportDuringAPendingRotationCarriesTheNewHostKey) {
  a().rotate_host("x");
  ASSERT_TRUE(a().show_host("x").host_key_rotation_pending);
  const keys::OpenedKeySet fresh = export_as("x", bob_pw, "bob");
  EXPECT_FALSE(fresh.host_key == bob.host_key);
  // Still pending: the package wraps the same new key for every user, so
  // hosts on the fresh export and hosts on the old one both open it.
  EXPECT_TRUE(a().show_host("x").host_key_rotation_pending);
  const std::vector<std::byte> package = build_for_x();
  auto via_old = keys::open_update_for(package, alice);
  ASSERT_TRUE(via_old.ok()) << via_old.error().message();
  EXPECT_TRUE(via_old.value().new_host_key == fresh.host_key);
  EXPECT_TRUE(keys::open_update(package, fresh.host_key).ok());
  EXPECT_FALSE(a().show_host("x").host_key_rotation_pending);
}

}  // namespace
}  // namespace cordon::admin::test
