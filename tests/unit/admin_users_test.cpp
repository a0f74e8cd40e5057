// Users and passwords: generated (shown once, cheap KDF) or chosen (9..32
// bytes, Argon2id 3 x 64 MiB), the stored wrapped user key, and refusals.
#include <algorithm>

#include "tests/unit/admin_fixture.hpp"

namespace cordon::admin::test {
namespace {

// The stored user-key wrap of one user, as the key sets carry it.
keys::WrappedUserKey stored_wrap(Database& db, HostId host, const std::string& user) {
  Statement st =
      db.prepare("SELECT kdf_alg, opslimit, memlimit, salt, wrapped_user_key FROM users WHERE host = ?1 AND name = ?2");
  st.bind(1, static_cast<int64_t>(host.value)).bind(2, user);
  EXPECT_TRUE(st.step());
  keys::WrappedUserKey w;
  w.host = host;
  w.user = user;
  w.kdf = {static_cast<keys::KdfAlg>(st.int64(0)), static_cast<uint32_t>(st.int64(1)),
           static_cast<uint32_t>(st.int64(2))};
  std::copy_n(st.blob(3).begin(), w.salt.size(), w.salt.begin());
  std::copy_n(st.blob(4).begin(), w.sealed.size(), w.sealed.begin());
  return w;
}

TEST_F(AdminTest, GeneratedPasswordIsShownOnceAndOpensTheStoredWrap) {
  const HostInfo h = a().add_host(coordinator("hub"));
  NewPassword p = a().add_user("hub", "root", std::nullopt);
  const std::string_view password = keys::as_text(p.generated);
  ASSERT_EQ(password.size(), keys::kGeneratedPasswordSize);
  EXPECT_TRUE(std::all_of(password.begin(), password.end(),
                          [](char c) { return keys::kPasswordAlphabet.find(c) != std::string_view::npos; }));
  EXPECT_TRUE(p.user.generated_password);
  EXPECT_EQ(p.user.kdf, keys::kGeneratedPasswordKdf);

  const keys::WrappedUserKey w = stored_wrap(a().database(), h.id, "root");
  auto user_key = keys::unwrap_user_key(w, password);
  ASSERT_TRUE(user_key.ok());
  EXPECT_FALSE(keys::unwrap_user_key(w, "wrong password!").ok());
  // The password itself is stored nowhere.
  EXPECT_EQ(dump().find(std::string(password)), std::string::npos);
  // The user's entry says the password was generated; the next user's differs.
  const std::string second = add_user("hub", "ops");
  EXPECT_NE(second, std::string(password));
}

TEST_F(AdminTest, ChosenPasswordUsesTheStrongKdf) {
  const HostInfo h = a().add_host(coordinator("hub"));
  NewPassword p = a().add_user("hub", "alice", std::string_view("nine char"));
  EXPECT_TRUE(p.generated.empty());
  EXPECT_FALSE(p.user.generated_password);
  EXPECT_EQ(p.user.kdf, keys::kChosenPasswordKdf);
  const keys::WrappedUserKey w = stored_wrap(a().database(), h.id, "alice");
  EXPECT_TRUE(keys::unwrap_user_key(w, "nine char").ok());
}

TEST_F(AdminTest, PasswordOfBadLengthIsRefusedAndNothingChanges) {
  a().add_host(coordinator("hub"));
  const std::string before = dump();
  expect_refused([&] { a().add_user("hub", "alice", std::string_view("short")); },
                 {"--password-file", "5 characters", "9 to 32"});
  expect_refused([&] { a().add_user("hub", "alice", std::string_view("eightchr")); }, {"8 characters"});
  const std::string too_long(33, 'p');
  expect_refused([&] { a().add_user("hub", "alice", std::string_view(too_long)); }, {"33 characters", "9 to 32"});
  EXPECT_EQ(dump(), before);
  // The bounds themselves are accepted (32 bytes; 9 bytes tested above).
  const std::string longest(32, 'p');
  EXPECT_NO_THROW(a().add_user("hub", "alice", std::string_view(longest)));
}

TEST_F(AdminTest, UserRefusals) {
  a().add_host(coordinator("hub"));
  add_user("hub", "root");
  const std::string before = dump();
  expect_refused([&] { a().add_user("hub", "root", std::nullopt); }, {"--name", "already has a user 'root'"});
  expect_refused([&] { a().add_user("nohost", "root", std::nullopt); }, {"--host", "no host named 'nohost'"});
  expect_refused([&] { a().add_user("hub", "", std::nullopt); }, {"--name", "1 to 64"});
  expect_refused([&] { a().remove_user("hub", "nobody"); }, {"no user 'nobody'"});
  expect_refused([&] { a().reset_password("hub", "nobody", std::nullopt); }, {"no user 'nobody'"});
  EXPECT_EQ(dump(), before);
}

TEST_F(AdminTest, ResetPasswordCanKeepTheUserKey) {
  const HostInfo h = a().add_host(coordinator("hub"));
  const std::string old_password = add_user("hub", "root");
  auto before = keys::unwrap_user_key(stored_wrap(a().database(), h.id, "root"), old_password);
  ASSERT_TRUE(before.ok());
  // A generated password is a forced reset, which rotates by default.
  NewPassword p = a().reset_password("hub", "root", std::nullopt, UserKeyChoice::kKeep);
  EXPECT_FALSE(p.user_key_rotated);
  const keys::WrappedUserKey w = stored_wrap(a().database(), h.id, "root");
  EXPECT_FALSE(keys::unwrap_user_key(w, old_password).ok());
  auto after = keys::unwrap_user_key(w, keys::as_text(p.generated));
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after.value() == before.value());
}

TEST_F(AdminTest, UsersAreListedAndRemoved) {
  a().add_host(coordinator("hub"));
  a().add_host(client("c", "hub"));
  add_user("hub", "root");
  add_user("c", "alice");
  add_user("c", "bob");
  EXPECT_EQ(a().list_users(std::nullopt).size(), 3u);
  const auto of_c = a().list_users(std::string("c"));
  ASSERT_EQ(of_c.size(), 2u);
  EXPECT_EQ(of_c[0].name, "alice");
  EXPECT_EQ(of_c[0].host_name, "c");
  a().remove_user("c", "alice");
  EXPECT_EQ(a().list_users(std::string("c")).size(), 1u);
}

}  // namespace
}  // namespace cordon::admin::test
